{#- dbt-postgres reads column types from information_schema.columns, where an array column is just 'ARRAY';
    unit-test fixtures then render `cast(null as ARRAY)`, a syntax error (dbt-labs/dbt-adapters#939). Same
    query, with the element type spelled out for arrays (udt_name '_text' → 'text[]'). Found first by
    adapter.dispatch, since the root project's macros come before the adapter's. -#}
{% macro postgres__get_columns_in_relation(relation) -%}
  {% call statement('get_columns_in_relation', fetch_result=True) %}
      select
          column_name,
          case when data_type = 'ARRAY' then substr(udt_name, 2) || '[]' else data_type end as data_type,
          character_maximum_length,
          numeric_precision,
          numeric_scale
      from {{ relation.information_schema('columns') }}
      where table_name = '{{ relation.identifier }}'
        {% if relation.schema %}
        and table_schema = '{{ relation.schema }}'
        {% endif %}
      order by ordinal_position
  {% endcall %}
  {% set table = load_result('get_columns_in_relation').table %}
  {{ return(sql_convert_columns_in_relation(table)) }}
{% endmacro %}
