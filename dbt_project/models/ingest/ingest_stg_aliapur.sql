-- Cleaned rows of the latest aliapur feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_aliapur') }}
{{ config(materialized='view') }}
{{ ingest_staging('aliapur') }}
