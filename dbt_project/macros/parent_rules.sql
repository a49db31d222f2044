{#-
  The parent rules, in ONE file used by dbt and by the review admin (data_platform/suggestions/parent_rules.py
  renders these macros with plain Jinja: keep them free of dbt functions such as ref()/source()/var()).

  created_parent_id(id): aggregate over the rows of one cluster: 'parent_' + first 24 hex chars of
  md5(sorted ids joined by '|'), code-point order (collate "C").

  parent_data(candidates, params): the parent's data, per copyable field, for every cluster of `candidates`.
    `candidates` (a relation or CTE name) has one row per actor that may give a value: cluster_id,
    identifiant_unique, is_kept_parent (bool), statut, source, the copyable fields (nom, nom_commercial, siren,
    siret, adresse, adresse_complement, code_postal, ville, latitude, longitude, telephone, email, url,
    acteur_type) and code_postal_norm, siret_norm, siren_norm ('' when unusable).
    `params` (one row) has parent_source_priority text[], parent_excluded_sources text[], keep_parent_data bool.
    Rule: candidates are the kept parent's own row when keep_parent_data, and the ACTIF non-parent actors whose
    source is not excluded. Order: own parent row, then the position of the source in parent_source_priority
    (sources not listed after), then identifiant_unique (collate "C"). Per field the first candidate with a
    non-empty value wins; latitude/longitude are one group (taken together from the first candidate that has
    both, never mixed). code_postal, siret and siren are taken in their normalized form when it is usable, raw
    otherwise. Fields nobody fills are absent. Returns (cluster_id, data jsonb, origine jsonb), origine
    mapping field → identifiant_unique of the row the value came from.
-#}
{% macro created_parent_id(id) -%}
'parent_' || left(md5(string_agg({{ id }}, '|' order by {{ id }} collate "C")), 24)
{%- endmacro %}

{% macro parent_data(candidates, params) -%}
with ranked as (
    select
        c.*,
        case when c.is_kept_parent then 0 else 1 end as rank_own,
        coalesce(array_position(p.parent_source_priority, c.source), 2147483647) as rank_source,
        coalesce(nullif(c.code_postal_norm, ''), c.code_postal) as code_postal_value,
        coalesce(nullif(c.siret_norm, ''), c.siret) as siret_value,
        coalesce(nullif(c.siren_norm, ''), c.siren) as siren_value
    from {{ candidates }} as c
    cross join {{ params }} as p
    where (c.is_kept_parent and p.keep_parent_data)
       or (not c.is_kept_parent and c.statut = 'ACTIF'
           and not c.source = any(p.parent_excluded_sources))
),

field_values as (
    select
        c.cluster_id,
        c.identifiant_unique,
        c.rank_own,
        c.rank_source,
        f.field,
        f.val
    from ranked as c
    cross join lateral (
        values
            ('nom', to_jsonb(nullif(c.nom, ''))),
            ('nom_commercial', to_jsonb(nullif(c.nom_commercial, ''))),
            ('siren', to_jsonb(nullif(c.siren_value, ''))),
            ('siret', to_jsonb(nullif(c.siret_value, ''))),
            ('adresse', to_jsonb(nullif(c.adresse, ''))),
            ('adresse_complement', to_jsonb(nullif(c.adresse_complement, ''))),
            ('code_postal', to_jsonb(nullif(c.code_postal_value, ''))),
            ('ville', to_jsonb(nullif(c.ville, ''))),
            ('latitude',
                case when c.latitude is not null and c.longitude is not null then to_jsonb(c.latitude) end),
            ('longitude',
                case when c.latitude is not null and c.longitude is not null then to_jsonb(c.longitude) end),
            ('telephone', to_jsonb(nullif(c.telephone, ''))),
            ('email', to_jsonb(nullif(c.email, ''))),
            ('url', to_jsonb(nullif(c.url, ''))),
            ('acteur_type', to_jsonb(nullif(c.acteur_type, '')))
    ) as f (field, val)
    where f.val is not null
),

-- Per field the first candidate with a value. latitude and longitude have a value exactly when the candidate
-- has both (field_values above), so their winner is one candidate: the coordinates are never mixed.
-- One sort of the values; the winning rows carry their value (no second pass over field_values).
winner as (
    select distinct on (cluster_id collate "C", field collate "C")
        cluster_id, field, val, identifiant_unique
    from field_values
    order by cluster_id collate "C", field collate "C", rank_own, rank_source, identifiant_unique collate "C"
)

select
    cluster_id,
    jsonb_object_agg(field, val) as data,
    jsonb_object_agg(field, to_jsonb(identifiant_unique::text)) as origine
from winner
group by cluster_id
{%- endmacro %}
