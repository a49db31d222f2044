-- Cleaned rows of the latest batribox feed, one per actor (see macros/ingest_staging.sql).
-- depends_on: {{ source('ingest', 'stg_batribox') }}
{{ config(materialized='view') }}
{{ ingest_staging('batribox') }}
