{{ config(materialized='table', tags=['per_run'], pre_hook=["set local work_mem = '256MB'"]) }}
{#- Step 5 (SPEC §3.1): the chosen parent's data, per copyable field, all clusters at once.
    Candidates: the cluster's ACTIF non-parent actors (orphan members and the ACTIF children of member
    parents: all of them become the parent's children), minus parent_excluded_sources; with keep_parent_data
    and a kept parent, the kept parent's own row first. Order: own parent row, then the position of the
    source in parent_source_priority (sources not listed after), then identifiant_unique (collate "C").
    Per field the first candidate with a non-empty value wins; latitude/longitude are one group (taken
    together from the first candidate that has both, never mixed). Fields nobody fills are absent.
    Identity fields (identifiant_unique, identifiant_externe, source, statut, parent_id, cree_le,
    modifie_le) are never copied. code_postal, siret and siren are copied in their normalized form when it is
    usable (siren can come from the siret), the raw value otherwise. origine maps field → identifiant_unique of the row it came from. -#}
with p as (
    -- filtered on the run id too: a params table left by another run never leaks into this one
    select * from {{ ref('cluster_run_params') }} where run_id = {{ validated_run_id() }}
),

choice as (
    select * from {{ ref('cluster_parent_choice') }}
),

membership as (
    select cm.cluster_id, cm.identifiant_unique
    from {{ source('app', 'cluster_membership') }} as cm
    where cm.run_id = {{ validated_run_id() }}
),

vue as (
    -- identifiers in their normalized form when usable (a spreadsheet's "1000" becomes "01000"), raw otherwise
    select
        n.*,
        coalesce(nullif(n.code_postal_norm, ''), n.code_postal) as code_postal_value,
        coalesce(nullif(n.siret_norm, ''), n.siret) as siret_value,
        coalesce(nullif(n.siren_norm, ''), n.siren) as siren_value
    from {{ ref('int_acteur_normalise') }} as n
),

actors as (
    -- orphan members
    select m.cluster_id, v.*, false as is_kept_parent
    from membership as m
    join vue as v on v.identifiant_unique = m.identifiant_unique
    where not v.est_parent
    union all
    -- children of member parents (not themselves members)
    select m.cluster_id, v.*, false as is_kept_parent
    from membership as m
    join vue as v on v.parent_id = m.identifiant_unique
    where not exists (
        select 1 from membership as m2 where m2.identifiant_unique = v.identifiant_unique
    )
    union all
    -- the kept parent's own values
    select c.cluster_id, v.*, true as is_kept_parent
    from choice as c
    join vue as v on v.identifiant_unique = c.parent_id
    where c.action = 'keep'
),

candidates as (
    select
        a.*,
        case when a.is_kept_parent then 0 else 1 end as rank_own,
        coalesce(array_position(p.parent_source_priority, a.source), 2147483647) as rank_source
    from actors as a
    cross join p
    where (a.is_kept_parent and p.keep_parent_data)
       or (not a.is_kept_parent and a.statut = 'ACTIF' and not a.source = any(p.parent_excluded_sources))
),

field_values as (
    select
        c.cluster_id,
        c.identifiant_unique,
        c.rank_own,
        c.rank_source,
        f.field,
        f.grp,
        f.val
    from candidates as c
    cross join lateral (
        values
            ('nom', 'nom', to_jsonb(nullif(c.nom, ''))),
            ('nom_commercial', 'nom_commercial', to_jsonb(nullif(c.nom_commercial, ''))),
            ('siren', 'siren', to_jsonb(nullif(c.siren_value, ''))),
            ('siret', 'siret', to_jsonb(nullif(c.siret_value, ''))),
            ('adresse', 'adresse', to_jsonb(nullif(c.adresse, ''))),
            ('adresse_complement', 'adresse_complement', to_jsonb(nullif(c.adresse_complement, ''))),
            ('code_postal', 'code_postal', to_jsonb(nullif(c.code_postal_value, ''))),
            ('ville', 'ville', to_jsonb(nullif(c.ville, ''))),
            ('latitude', 'coordonnees',
                case when c.latitude is not null and c.longitude is not null then to_jsonb(c.latitude) end),
            ('longitude', 'coordonnees',
                case when c.latitude is not null and c.longitude is not null then to_jsonb(c.longitude) end),
            ('telephone', 'telephone', to_jsonb(nullif(c.telephone, ''))),
            ('email', 'email', to_jsonb(nullif(c.email, ''))),
            ('url', 'url', to_jsonb(nullif(c.url, ''))),
            ('acteur_type', 'acteur_type', to_jsonb(nullif(c.acteur_type, '')))
    ) as f (field, grp, val)
    where f.val is not null
),

winner as (
    select distinct on (cluster_id collate "C", grp collate "C")
        cluster_id, grp, identifiant_unique
    from field_values
    order by cluster_id collate "C", grp collate "C", rank_own, rank_source, identifiant_unique collate "C"
),

chosen as (
    select
        fv.cluster_id,
        jsonb_object_agg(fv.field, fv.val) as data,
        jsonb_object_agg(fv.field, to_jsonb(fv.identifiant_unique::text)) as origine
    from field_values as fv
    join winner as w
        on w.cluster_id = fv.cluster_id
       and w.grp = fv.grp
       and w.identifiant_unique = fv.identifiant_unique
    group by fv.cluster_id
)

select
    c.run_id,
    c.cluster_id,
    c.parent_id,
    c.action,
    coalesce(ch.data, '{}'::jsonb) as data,
    coalesce(ch.origine, '{}'::jsonb) as origine
from choice as c
left join chosen as ch on ch.cluster_id = c.cluster_id
