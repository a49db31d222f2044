{{ config(
    materialized='table',
    post_hook=["create unique index on {{ this }} (identifiant_unique)", "analyze {{ this }}"],
) }}
{#- Displayed layer (what the map shows): ACTIF actors whose parent is null, i.e. ACTIF orphans and ACTIF
    parents. Children are hidden behind their parent (and stay hidden when their parent is not ACTIF). -#}
select *
from {{ ref('int_acteur_consolide') }}
where statut = 'ACTIF'
  and parent_id is null
