{# Every model and seed goes to the profile's schema (dbt): no "<schema>_<custom>" names. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}
{%- endmacro %}
