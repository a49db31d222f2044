{{ config(tags=['per_run']) }}
-- The order of a change follows from its type (SPEC §3.1 step 6).
select *
from {{ ref('cluster_changes') }}
where change_order <> case change_type
    when 'acteur_create_as_parent' then 1
    when 'acteur_keep_as_parent' then 1
    when 'acteur_update_parent_id' then 2
    when 'acteur_verify_in_revision' then 2
    when 'acteur_delete_as_parent' then 3
end
