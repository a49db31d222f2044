-- Both actors of a scored pair are members of the pair's cluster in the same run (the partition writer keeps
-- only pairs inside a final cluster): a pair left by an earlier write of a re-clustered département fails.
select p.run_id, p.cluster_id, p.id_a, p.id_b
from {{ ref('stg_cluster_pair') }} as p
left join {{ ref('stg_cluster_membership') }} as a
    on a.run_id = p.run_id and a.cluster_id = p.cluster_id and a.identifiant_unique = p.id_a
left join {{ ref('stg_cluster_membership') }} as b
    on b.run_id = p.run_id and b.cluster_id = p.cluster_id and b.identifiant_unique = p.id_b
where a.identifiant_unique is null or b.identifiant_unique is null
