{# A float made JSON-safe: NaN and ±Infinity become NULL (jsonb refuses them). #}
{% macro finite(expr) -%}
case when {{ expr }} in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) then null else {{ expr }} end
{%- endmacro %}
