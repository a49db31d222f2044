{{ config(materialized='table', tags=['per_run']) }}
{#- Step 6 (SPEC §3.1): one typed change per actor of each cluster, all clusters at once.
    order 1  acteur_create_as_parent / acteur_keep_as_parent  the chosen parent (data, origine)
    order 2  acteur_update_parent_id   an orphan member, or a child (of a member parent) pointing elsewhere
    order 2  acteur_verify_in_revision an actor already pointing to the chosen parent (its existing children)
    order 3  acteur_delete_as_parent   a member parent that is not chosen
    The actors of a cluster are its members plus every child of its member parents (children are not in
    cluster_membership; they come from int_acteur_consolide, whatever their statut, so none is left dangling).
    parent_id is the chosen parent on order-2 rows and NULL otherwise; data/origine only on order-1 rows. -#}
with choice as (
    select * from {{ ref('cluster_parent_data') }}
),

membership as (
    select cluster_id, identifiant_unique from {{ ref('int_run_membership') }}
),

vue as (
    select identifiant_unique, parent_id, est_parent from {{ ref('int_acteur_consolide') }}
),

actors as (
    select m.cluster_id, m.identifiant_unique, v.parent_id as current_parent_id,
           coalesce(v.est_parent, false) as est_parent
    from membership as m
    left join vue as v on v.identifiant_unique = m.identifiant_unique
    union all
    select m.cluster_id, v.identifiant_unique, v.parent_id, v.est_parent
    from membership as m
    join vue as v on v.parent_id = m.identifiant_unique
    where not exists (
        select 1 from membership as m2 where m2.identifiant_unique = v.identifiant_unique
    )
),

member_changes as (
    select
        a.cluster_id,
        a.identifiant_unique,
        case
            when a.identifiant_unique = c.parent_id then 'acteur_keep_as_parent'
            when a.est_parent then 'acteur_delete_as_parent'
            when a.current_parent_id = c.parent_id then 'acteur_verify_in_revision'
            else 'acteur_update_parent_id'
        end as change_type,
        c.parent_id as chosen_parent_id,
        c.data,
        c.origine
    from actors as a
    join choice as c on c.cluster_id = a.cluster_id
),

all_changes as (
    select cluster_id, identifiant_unique, change_type, chosen_parent_id, data, origine
    from member_changes
    union all
    select cluster_id, parent_id, 'acteur_create_as_parent', parent_id, data, origine
    from choice
    where action = 'create'
)

select
    {{ validated_run_id() }}::text as run_id,
    cluster_id,
    identifiant_unique,
    change_type,
    case change_type
        when 'acteur_create_as_parent' then 1
        when 'acteur_keep_as_parent' then 1
        when 'acteur_update_parent_id' then 2
        when 'acteur_verify_in_revision' then 2
        when 'acteur_delete_as_parent' then 3
    end as change_order,
    case when change_type in ('acteur_update_parent_id', 'acteur_verify_in_revision')
         then chosen_parent_id end as parent_id,
    case when change_type in ('acteur_create_as_parent', 'acteur_keep_as_parent') then data end as data,
    case when change_type in ('acteur_create_as_parent', 'acteur_keep_as_parent') then origine end as origine
from all_changes
