{{ config(materialized='table', tags=['per_run']) }}
{#- Step 4 (SPEC §3.1): the parent of each cluster of the run (public.cluster_membership, var run_id).
    - one or more existing parents among the members → keep one: ACTIF first, then most children, then the
      smallest identifiant_unique (code-point order, collate "C": never the database's return order);
      exactly one existing parent is therefore always kept;
    - none → create 'parent_' + first 24 hex chars of md5(sorted member ids joined by '|') (macro
      created_parent_id, macros/parent_rules.sql, also used by the review admin's remove-member). -#}
with membership as (
    select cluster_id, identifiant_unique from {{ ref('int_run_membership') }}
),

existing_parent as (
    select distinct on (m.cluster_id)
        m.cluster_id,
        m.identifiant_unique as parent_id
    from membership as m
    join {{ ref('int_acteur_consolide') }} as v on v.identifiant_unique = m.identifiant_unique
    where v.est_parent
    order by m.cluster_id, (v.statut = 'ACTIF') desc, v.nombre_enfants desc, m.identifiant_unique collate "C"
),

new_parent as (
    select
        cluster_id,
        {{ created_parent_id('identifiant_unique') }} as parent_id
    from membership
    group by cluster_id
)

select
    {{ validated_run_id() }}::text as run_id,
    n.cluster_id,
    coalesce(e.parent_id, n.parent_id) as parent_id,
    case when e.parent_id is null then 'create' else 'keep' end as action
from new_parent as n
left join existing_parent as e on e.cluster_id = n.cluster_id
