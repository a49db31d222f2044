-- The diff between each source's latest feed and public.acteur (see _ingest_sources.yml).
-- One group of arms per source, each with a constant `source`: the apply's `where source = ...`
-- prunes every other source's arms at planning time, so one source's diff reads only its own feed
-- and its own actors (index on acteur.source). The sources: var ingest_sources (dbt_project.yml).
{{ config(materialized='view') }}
{%- set fields = ['identifiant_externe', 'acteur_type', 'nom', 'nom_commercial', 'siren', 'siret', 'adresse',
                  'adresse_complement', 'code_postal', 'ville', 'latitude', 'longitude', 'telephone', 'email', 'url'] %}
{%- for code in var('ingest_sources') %}
-- {{ code }}: new
select
    'new'::text as change_type, s.identifiant_unique, '{{ code }}'::text as source,
    {% for f in fields %}s.{{ f }}, {% endfor %}
    ''::text as old_code_postal
from {{ ref('ingest_acteur_standard') }} s
left join {{ source('app', 'acteur') }} a on a.identifiant_unique = s.identifiant_unique
where s.source = '{{ code }}' and a.identifiant_unique is null

union all
-- {{ code }}: changed (a field differs, or the actor was SUPPRIME and is back)
select
    'changed'::text, s.identifiant_unique, '{{ code }}'::text,
    {% for f in fields %}s.{{ f }}, {% endfor %}
    a.code_postal
from {{ ref('ingest_acteur_standard') }} s
join {{ source('app', 'acteur') }} a on a.identifiant_unique = s.identifiant_unique
where s.source = '{{ code }}'
  and (a.statut = 'SUPPRIME'
       or ({% for f in fields %}s.{{ f }}{{ ', ' if not loop.last }}{% endfor %})
          is distinct from
          ({% for f in fields %}a.{{ f }}{{ ', ' if not loop.last }}{% endfor %}))

union all
-- {{ code }}: vanished (ACTIF/INACTIF actors of the source missing from its feed)
select
    'vanished'::text, a.identifiant_unique, '{{ code }}'::text,
    {% for f in fields %}a.{{ f }}, {% endfor %}
    a.code_postal
from {{ source('app', 'acteur') }} a
where a.source = '{{ code }}'
  and a.statut in ('ACTIF', 'INACTIF')
  and not exists (select 1 from {{ ref('ingest_acteur_standard') }} s
                  where s.source = '{{ code }}' and s.identifiant_unique = a.identifiant_unique)
{% if not loop.last %}
union all
{% endif %}
{%- endfor %}
