-- Cleaned rows of the latest ecomaison feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_ecomaison') }}
{{ config(materialized='view') }}
{{ ingest_staging('ecomaison') }}
