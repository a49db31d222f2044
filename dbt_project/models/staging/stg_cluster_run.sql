{#- The pipeline's clustering runs (public.cluster_run, written by data_platform.pipeline.start_run): one row per
    run, parameters as jsonb (read as data by cluster_run_params, never templated). -#}
select
    run_id::text as run_id,
    dag_run_id::text as dag_run_id,
    params,
    status::text as status,
    started_at,
    finished_at
from {{ source('app', 'cluster_run') }}
