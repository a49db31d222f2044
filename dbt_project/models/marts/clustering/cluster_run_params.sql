{{ config(materialized='table', tags=['per_run']) }}
{#- The run's parameters (public.cluster_run.params of var run_id), typed, defaults of docs/CONTRACTS.md for
    missing keys. Read as data by the per-run models: no parameter is ever templated into SQL text.
    Exactly one row (tested): an unknown run_id fails the build before anything downstream runs. -#}
select
    r.run_id,
    {{ jsonb_text_array("r.params -> 'sources'") }} as sources,
    coalesce((r.params ->> 'sources_apply_to_parents')::boolean, true) as sources_apply_to_parents,
    {{ jsonb_text_array("r.params -> 'acteur_types'") }} as acteur_types,
    coalesce((r.params ->> 'acteur_types_apply_to_parents')::boolean, true) as acteur_types_apply_to_parents,
    {{ jsonb_text_array("r.params -> 'departements'") }} as departements,
    coalesce((r.params ->> 'departements_apply_to_parents')::boolean, true) as departements_apply_to_parents,
    coalesce(r.params ->> 'nom_regex', '') as nom_regex,
    coalesce((r.params ->> 'nom_regex_apply_to_parents')::boolean, false) as nom_regex_apply_to_parents,
    {{ jsonb_text_array("r.params -> 'required_fields'") }} as required_fields,
    coalesce((r.params ->> 'required_fields_apply_to_parents')::boolean, false) as required_fields_apply_to_parents,
    coalesce((r.params ->> 'normalize_drop_short_words')::int, 0) as normalize_drop_short_words,
    coalesce((r.params ->> 'normalize_sort_words')::boolean, false) as normalize_sort_words,
    {{ jsonb_text_array("r.params -> 'parent_source_priority'",
        "array['sinoe', 'refashion', 'ecosystem', 'ecomaison', 'corepile', 'batribox', 'aliapur', 'cma', 'cyclevia', 'ecodds', 'cyclamed', 'communaute']::text[]") }}
        as parent_source_priority,
    {{ jsonb_text_array("r.params -> 'parent_excluded_sources'") }} as parent_excluded_sources,
    coalesce((r.params ->> 'keep_parent_data')::boolean, true) as keep_parent_data
from {{ source('app', 'cluster_run') }} as r
where r.run_id = {{ validated_run_id() }}
