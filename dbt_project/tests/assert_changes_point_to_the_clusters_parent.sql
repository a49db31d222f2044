{{ config(tags=['per_run', 'run_guard']) }}
-- Every order-2 change of a cluster points to the actor of that cluster's order-1 change (the parent created or
-- kept), and every actor of the run's membership has a change (SPEC §3.1 step 6).
select ch.cluster_id, ch.identifiant_unique, ch.parent_id, p.identifiant_unique as order_1_id
from {{ ref('cluster_changes') }} as ch
left join {{ ref('cluster_changes') }} as p on p.cluster_id = ch.cluster_id and p.change_order = 1
where ch.change_order = 2
  and ch.parent_id is distinct from p.identifiant_unique
union all
select m.cluster_id, m.identifiant_unique, null, null
from {{ ref('int_run_membership') }} as m
where not exists (select 1 from {{ ref('cluster_changes') }} as ch where ch.identifiant_unique = m.identifiant_unique)
