-- Cleaned rows of the latest ecosystem feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_ecosystem') }}
{{ config(materialized='view') }}
{{ ingest_staging('ecosystem') }}
