{{ config(tags=['per_run']) }}
-- The run id passed as var must exist in public.cluster_run: exactly one parameter row.
select count(*) as n
from {{ ref('cluster_run_params') }}
having count(*) <> 1
