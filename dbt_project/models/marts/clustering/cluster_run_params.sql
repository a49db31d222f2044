{{ config(materialized='table', tags=['per_run']) }}
{#- The run's parameters (public.cluster_run.params of var run_id), typed. `pipeline.start_run` writes every
    key, validated and with its default (data_platform/cluster/params.py, the one table of parameters), so no
    default is repeated here. Read as data by the per-run models: no parameter is ever templated into SQL text.
    Exactly one row (tested): an unknown run_id fails the build before anything downstream runs. -#}
select
    r.run_id,
    {{ jsonb_text_array("r.params -> 'sources'") }} as sources,
    (r.params ->> 'sources_apply_to_parents')::boolean as sources_apply_to_parents,
    {{ jsonb_text_array("r.params -> 'acteur_types'") }} as acteur_types,
    (r.params ->> 'acteur_types_apply_to_parents')::boolean as acteur_types_apply_to_parents,
    {{ jsonb_text_array("r.params -> 'departements'") }} as departements,
    (r.params ->> 'departements_apply_to_parents')::boolean as departements_apply_to_parents,
    r.params ->> 'nom_regex' as nom_regex,
    (r.params ->> 'nom_regex_apply_to_parents')::boolean as nom_regex_apply_to_parents,
    {{ jsonb_text_array("r.params -> 'required_fields'") }} as required_fields,
    (r.params ->> 'required_fields_apply_to_parents')::boolean as required_fields_apply_to_parents,
    (r.params ->> 'normalize_drop_short_words')::int as normalize_drop_short_words,
    (r.params ->> 'normalize_sort_words')::boolean as normalize_sort_words,
    {{ jsonb_text_array("r.params -> 'parent_source_priority'") }} as parent_source_priority,
    {{ jsonb_text_array("r.params -> 'parent_excluded_sources'") }} as parent_excluded_sources,
    (r.params ->> 'keep_parent_data')::boolean as keep_parent_data
from {{ ref('stg_cluster_run') }} as r
where r.run_id = {{ validated_run_id() }}
