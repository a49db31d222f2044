{{ config(materialized='ephemeral', tags=['per_run']) }}
{#- The clusters of this run (var run_id): stg_cluster_membership filtered on the validated run id. Ephemeral:
    inlined as a CTE into each per-run model that reads it, so it always carries the run id of the current
    invocation (a view would keep the previous run's id until rebuilt). -#}
select cluster_id, identifiant_unique, departement
from {{ ref('stg_cluster_membership') }}
where run_id = {{ validated_run_id() }}
