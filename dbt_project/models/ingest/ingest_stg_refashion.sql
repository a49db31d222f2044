-- Cleaned rows of the latest refashion feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_refashion') }}
{{ config(materialized='view') }}
{{ ingest_staging('refashion') }}
