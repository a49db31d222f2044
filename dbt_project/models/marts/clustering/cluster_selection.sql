{{ config(
    materialized='table',
    tags=['per_run'],
    pre_hook=["set local work_mem = '512MB'"],
    post_hook=["create index on {{ this }} (departement)", "analyze {{ this }}"],
) }}
{#- Step 1 of the run (SPEC §3.1): ACTIF orphans and ACTIF parents of int_acteur_normalise passing the run's
    filters (cluster_run_params: values read as data). Children are never selected (they follow their parent).
    Each filter with an empty list (or empty regex) is off. A parent is filtered only when the filter's
    *_apply_to_parents flag is true; for sources a parent passes when one of its source_codes is listed.
    nom_regex runs (case-insensitive POSIX) on nom_norm, the normalized name, before the options below.
    Then the run's normalization options: normalize_drop_short_words = N drops words shorter than N
    characters from nom_norm and adresse_norm (address words containing a digit are kept), and
    normalize_sort_words sorts the unique words of nom_norm (code-point order). Actors without a usable postal
    code keep departement 'inconnu' (a partition of its own, never dropped). -#}
with p as (
    -- filtered on the run id too: a params table left by another run never leaks into this one
    select * from {{ ref('cluster_run_params') }} where run_id = {{ validated_run_id() }}
),

candidates as (
    select n.*
    from {{ ref('int_acteur_normalise') }} as n
    cross join p
    where n.statut = 'ACTIF'
      and n.parent_id is null
      and (
          cardinality(p.sources) = 0
          or (n.est_parent and (not p.sources_apply_to_parents or n.source_codes && p.sources))
          or (not n.est_parent and n.source = any(p.sources))
      )
      and (
          cardinality(p.acteur_types) = 0
          or (n.est_parent and not p.acteur_types_apply_to_parents)
          or n.acteur_type = any(p.acteur_types)
      )
      and (
          cardinality(p.departements) = 0
          or (n.est_parent and not p.departements_apply_to_parents)
          or n.departement = any(p.departements)
      )
      and (
          p.nom_regex = ''
          or (n.est_parent and not p.nom_regex_apply_to_parents)
          or n.nom_norm ~* p.nom_regex
      )
      and (
          cardinality(p.required_fields) = 0
          or (n.est_parent and not p.required_fields_apply_to_parents)
          or not exists (
              select 1
              from unnest(p.required_fields) as f (field)
              where coalesce(jsonb_build_object(
                  'nom', n.nom, 'nom_commercial', n.nom_commercial, 'siren', n.siren, 'siret', n.siret,
                  'adresse', n.adresse, 'adresse_complement', n.adresse_complement,
                  'code_postal', n.code_postal, 'ville', n.ville, 'latitude', n.latitude,
                  'longitude', n.longitude, 'telephone', n.telephone, 'email', n.email, 'url', n.url,
                  'acteur_type', n.acteur_type, 'source', n.source
              ) ->> f.field, '') = ''
          )
      )
),

-- Normalization options: only computed when the run asks for them (one-time filter on the parameters).
words as (
    select c.identifiant_unique collate "C" as identifiant_unique, f.field, w.word collate "C" as word, w.pos
    from candidates as c
    cross join lateral (values (1, c.nom_norm), (2, c.adresse_norm)) as f (field, txt)
    cross join lateral string_to_table(f.txt, ' ') with ordinality as w (word, pos)
    where ((select normalize_drop_short_words from p) > 0 or (select normalize_sort_words from p))
      and f.txt <> ''
),

kept as (
    select w.*
    from words as w
    where length(w.word) >= (select normalize_drop_short_words from p)
       or (w.field = 2 and w.word ~ '[0-9]')
),

reworded as (
    select
        identifiant_unique,
        case when (select normalize_sort_words from p)
             then string_agg(distinct word, ' ' order by word) filter (where field = 1)
             else string_agg(word, ' ' order by pos) filter (where field = 1)
        end as nom_norm,
        string_agg(word, ' ' order by pos) filter (where field = 2) as adresse_norm
    from kept
    group by identifiant_unique
)

select
    c.identifiant_unique,
    c.source,
    c.acteur_type,
    c.est_parent,
    c.nombre_enfants,
    c.nom,
    c.nom_commercial,
    c.adresse,
    c.code_postal,
    c.ville,
    c.siret,
    c.telephone,
    c.latitude,
    c.longitude,
    case when (select normalize_drop_short_words > 0 or normalize_sort_words from p)
         then coalesce(r.nom_norm, '') else c.nom_norm end as nom_norm,
    c.nom_commercial_norm,
    case when (select normalize_drop_short_words > 0 or normalize_sort_words from p)
         then coalesce(r.adresse_norm, '') else c.adresse_norm end as adresse_norm,
    c.ville_norm,
    c.code_postal_norm,
    c.siret_norm,
    c.siren_norm,
    c.telephone_norm,
    c.departement
from candidates as c
left join reworded as r on r.identifiant_unique = (c.identifiant_unique collate "C")
