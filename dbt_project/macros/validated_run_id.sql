{#
  The only value templated into SQL text: the clustering run id (var `run_id`). It must match a strict
  pattern as a whole (re.fullmatch, like cluster/params.py: `^…$` would accept a trailing newline), otherwise compilation fails; every other run parameter is read as data from
  public.cluster_run.params. Returns the SQL string literal (quotes included).
#}
{% macro validated_run_id() -%}
    {%- set run_id = var('run_id', '') | string -%}
    {%- if execute and not modules.re.fullmatch('[A-Za-z0-9_.:+-]{1,250}', run_id) -%}
        {{ exceptions.raise_compiler_error(
            "var run_id is required by the per-run models (tag:per_run) and must match "
            ~ "[A-Za-z0-9_.:+-]{1,250} as a whole (fullmatch: no trailing newline); got " ~ (run_id | tojson)
            ~ ". Pass --vars '{\"run_id\": \"...\"}' or exclude tag:per_run.") }}
    {%- endif -%}
    '{{ run_id }}'
{%- endmacro %}
