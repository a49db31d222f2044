{{ config(tags=['per_run', 'run_guard']) }}
-- The run id passed as var must exist in public.cluster_run: exactly one parameter row, for that run.
select count(*) as n
from {{ ref('cluster_run_params') }}
having count(*) <> 1
    or count(*) filter (where run_id = {{ validated_run_id() }}) <> 1
