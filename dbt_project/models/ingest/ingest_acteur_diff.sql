-- The diff between each source's latest feed and public.acteur (see _ingest_sources.yml).
{{ config(materialized='view') }}
{%- set fields = ['identifiant_externe', 'acteur_type', 'nom', 'nom_commercial', 'siren', 'siret', 'adresse',
                  'adresse_complement', 'code_postal', 'ville', 'latitude', 'longitude', 'telephone', 'email', 'url'] %}
with std as (
    select * from {{ ref('ingest_acteur_standard') }}
),
cur as (
    select * from {{ source('app', 'acteur') }}
)
select
    'new'::text as change_type, s.identifiant_unique, s.source,
    {% for f in fields %}s.{{ f }}, {% endfor %}
    ''::text as old_code_postal
from std s
left join cur a on a.identifiant_unique = s.identifiant_unique
where a.identifiant_unique is null

union all

select
    'changed'::text, s.identifiant_unique, s.source,
    {% for f in fields %}s.{{ f }}, {% endfor %}
    a.code_postal
from std s
join cur a on a.identifiant_unique = s.identifiant_unique
where a.statut = 'SUPPRIME'
   or ({% for f in fields %}s.{{ f }}{{ ', ' if not loop.last }}{% endfor %})
      is distinct from
      ({% for f in fields %}a.{{ f }}{{ ', ' if not loop.last }}{% endfor %})

union all

select
    'vanished'::text, a.identifiant_unique, a.source,
    {% for f in fields %}a.{{ f }}, {% endfor %}
    a.code_postal
from cur a
where a.statut in ('ACTIF', 'INACTIF')
  and not exists (select 1 from std s where s.identifiant_unique = a.identifiant_unique)
