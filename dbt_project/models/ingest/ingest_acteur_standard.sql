-- All sources' latest feeds in the acteur shape. A view: each source's apply reads only its own
-- branch (`where source = ...` prunes the others), so parallel ingestions never rebuild a table.
{{ config(materialized='view') }}
{%- for code in var('ingest_sources') %}
select
    identifiant_unique, identifiant_externe, source, acteur_type, nom, nom_commercial, siren, siret,
    adresse, adresse_complement, code_postal, ville, latitude, longitude, telephone, email, url,
    'ACTIF'::text as statut
from {{ ref('ingest_stg_' ~ code) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
