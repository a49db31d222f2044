{{ config(materialized='table', tags=['per_run'], pre_hook=["set local work_mem = '256MB'"]) }}
{#- Step 5 (SPEC §3.1): the chosen parent's data, per copyable field, all clusters at once. The rule itself
    is the macro parent_data (macros/parent_rules.sql), which the review admin's remove-member renders too.
    Candidates: the cluster's ACTIF non-parent actors (orphan members and the ACTIF children of member
    parents: all of them become the parent's children), minus parent_excluded_sources; with keep_parent_data
    and a kept parent, the kept parent's own row first. Order: own parent row, then the position of the
    source in parent_source_priority (sources not listed after), then identifiant_unique (collate "C").
    Per field the first candidate with a non-empty value wins; latitude/longitude are one group (taken
    together from the first candidate that has both, never mixed). Fields nobody fills are absent.
    Identity fields (identifiant_unique, identifiant_externe, source, statut, parent_id, cree_le,
    modifie_le) are never copied. code_postal, siret and siren are copied in their normalized form when it is
    usable (siren can come from the siret), the raw value otherwise. origine maps field → identifiant_unique of the row it came from. -#}
with p as (
    -- filtered on the run id too: a params table left by another run never leaks into this one
    select * from {{ ref('cluster_run_params') }} where run_id = {{ validated_run_id() }}
),

choice as (
    select * from {{ ref('cluster_parent_choice') }}
),

membership as (
    select cluster_id, identifiant_unique from {{ ref('int_run_membership') }}
),

vue as (
    select * from {{ ref('int_acteur_normalise') }}
),

candidates as (
    -- orphan members
    select m.cluster_id, v.*, false as is_kept_parent
    from membership as m
    join vue as v on v.identifiant_unique = m.identifiant_unique
    where not v.est_parent
    union all
    -- children of member parents (not themselves members)
    select m.cluster_id, v.*, false as is_kept_parent
    from membership as m
    join vue as v on v.parent_id = m.identifiant_unique
    where not exists (
        select 1 from membership as m2 where m2.identifiant_unique = v.identifiant_unique
    )
    union all
    -- the kept parent's own values
    select c.cluster_id, v.*, true as is_kept_parent
    from choice as c
    join vue as v on v.identifiant_unique = c.parent_id
    where c.action = 'keep'
),

chosen as (
    {{ parent_data('candidates', 'p') }}
)

select
    c.run_id,
    c.cluster_id,
    c.parent_id,
    c.action,
    coalesce(ch.data, '{}'::jsonb) as data,
    coalesce(ch.origine, '{}'::jsonb) as origine
from choice as c
left join chosen as ch on ch.cluster_id = c.cluster_id
