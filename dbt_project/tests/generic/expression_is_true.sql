{# Rows of `model` where `expression` is not true (no dbt_utils offline). #}
{% test expression_is_true(model, expression, column_name=None) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
