{#- Cleaned rows of the latest feed of one source (written by data_platform.ingest with COPY into
    ingest.stg_<code>), one per actor: a duplicated identifier keeps its first line. Empty when the
    staging table does not exist yet. Each models/ingest/ingest_stg_<code>.sql calls this. -#}
{% macro ingest_staging(code) %}
{%- set staging = adapter.get_relation(database=target.database, schema='ingest', identifier='stg_' ~ code) if execute else none %}
{%- if staging is not none %}
-- `source` is part of DISTINCT ON so that a filter on it reaches the constant below and prunes this view
select distinct on (source, identifiant_unique)
    identifiant_unique, identifiant_externe, source, acteur_type, nom, nom_commercial,
    siren, siret, adresse, adresse_complement, code_postal, ville, latitude, longitude,
    telephone, email, url, line
from (
    select '{{ code }}'::text as source, identifiant_unique, identifiant_externe, acteur_type, nom, nom_commercial,
        siren, siret, adresse, adresse_complement, code_postal, ville, latitude, longitude,
        telephone, email, url, line
    from {{ source('ingest', 'stg_' ~ code) }}
) as staged
order by source, identifiant_unique, line
{%- else %}
select null::text as identifiant_unique, null::text as identifiant_externe,
    '{{ code }}'::text as source, null::text as acteur_type, null::text as nom, null::text as nom_commercial,
    null::text as siren, null::text as siret, null::text as adresse, null::text as adresse_complement,
    null::text as code_postal, null::text as ville, null::float8 as latitude, null::float8 as longitude,
    null::text as telephone, null::text as email, null::text as url, null::bigint as line
where false
{%- endif %}
{% endmacro %}
