{#- Every run's scored pairs (public.cluster_pair, written by data_platform.cluster.partition): the reviewer
    context of a cluster (id_a < id_b, score in [0, 1], details jsonb). -#}
select
    run_id::text as run_id,
    cluster_id::text as cluster_id,
    id_a::text as id_a,
    id_b::text as id_b,
    score,
    details
from {{ source('app', 'cluster_pair') }}
