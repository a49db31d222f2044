{{ config(tags=['per_run', 'run_guard']) }}
-- Exactly one create/keep change (order 1) per cluster, and it is the chosen parent with the chosen action.
select c.cluster_id, count(ch.identifiant_unique) as n_order_1
from {{ ref('cluster_parent_choice') }} as c
left join {{ ref('cluster_changes') }} as ch
    on ch.cluster_id = c.cluster_id
   and ch.change_order = 1
group by c.cluster_id, c.parent_id, c.action
having count(ch.identifiant_unique) <> 1
    or count(*) filter (
        where ch.identifiant_unique = c.parent_id
          and ch.change_type = case c.action when 'create' then 'acteur_create_as_parent'
                                             else 'acteur_keep_as_parent' end
    ) <> 1
