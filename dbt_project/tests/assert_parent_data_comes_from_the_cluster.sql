{{ config(tags=['per_run', 'run_guard']) }}
-- The data of each order-1 change (parent created or kept) comes from its own cluster: every value of origine
-- (field → identifiant_unique it was copied from) names an actor that has a change in the same cluster, and
-- data and origine have the same keys (SPEC §3.1 step 5). A candidate joined to the wrong cluster fails here.
select ch.cluster_id, ch.identifiant_unique, o.key as field, o.value as origine_id
from {{ ref('cluster_changes') }} as ch
cross join lateral jsonb_each_text(coalesce(ch.origine, '{}'::jsonb)) as o
where ch.change_order = 1
  and not exists (
      select 1 from {{ ref('cluster_changes') }} as a
      where a.cluster_id = ch.cluster_id and a.identifiant_unique = o.value
  )
union all
select ch.cluster_id, ch.identifiant_unique, null, null
from {{ ref('cluster_changes') }} as ch
where ch.change_order = 1
  and (ch.data is null or ch.origine is null
       or (select array_agg(k order by k) from jsonb_object_keys(ch.data) as k)
          is distinct from (select array_agg(k order by k) from jsonb_object_keys(ch.origine) as k))
