{#- Every run's clusters (public.cluster_membership, written by data_platform.cluster.partition): one row per
    (run, actor). The per-run models read the run's rows through int_run_membership. -#}
select
    run_id::text as run_id,
    cluster_id::text as cluster_id,
    identifiant_unique::text as identifiant_unique,
    departement::text as departement
from {{ source('app', 'cluster_membership') }}
