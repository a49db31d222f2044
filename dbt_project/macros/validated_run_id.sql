{#
  The only value templated into SQL text: the clustering run id (var `run_id`, else the environment variable
  DP_DBT_RUN_ID that data_platform.dbt_runner sets: a changed --vars re-parses the whole project, a changed
  environment variable only the files that read it). It must match a strict
  pattern as a whole (re.fullmatch, like cluster/params.py: `^…$` would accept a trailing newline), otherwise compilation fails; every other run parameter is read as data from
  public.cluster_run.params. Returns the SQL string literal (quotes included).
#}
{% macro validated_run_id() -%}
    {%- set run_id = (var('run_id', '') or env_var('DP_DBT_RUN_ID', '')) | string -%}
    {%- if execute and not modules.re.fullmatch('[A-Za-z0-9_.:+-]{1,250}', run_id) -%}
        {{ exceptions.raise_compiler_error(
            "var run_id is required by the per-run models (tag:per_run) and must match "
            ~ "[A-Za-z0-9_.:+-]{1,250} as a whole (fullmatch: no trailing newline); got " ~ (run_id | tojson)
            ~ ". Pass --vars '{\"run_id\": \"...\"}' or exclude tag:per_run.") }}
    {%- endif -%}
    '{{ run_id }}'
{%- endmacro %}
