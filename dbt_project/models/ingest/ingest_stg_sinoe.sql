-- Cleaned rows of the latest sinoe feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_sinoe') }}
{{ config(materialized='view') }}
{{ ingest_staging('sinoe') }}
