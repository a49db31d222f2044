{{ config(tags=['per_run', 'run_guard']) }}
-- The parent stage reads the run's parameters from cluster_run_params: when that table was built for another
-- run (e.g. only the three parent models were selected), fail instead of silently using no parameters.
select p.n_params, d.n_clusters
from (
    select count(*) as n_params from {{ ref('cluster_run_params') }} where run_id = {{ validated_run_id() }}
) as p
cross join (select count(*) as n_clusters from {{ ref('cluster_parent_data') }}) as d
where p.n_params <> 1
