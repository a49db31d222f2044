-- Cleaned rows of the latest corepile feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_corepile') }}
{{ config(materialized='view') }}
{{ ingest_staging('corepile') }}
