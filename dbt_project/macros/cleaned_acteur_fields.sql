{#- The data fields shared by the imported and revision layers, lightly cleaned: empty-looking text → '',
    coordinates outside their range → NULL (never swapped). Used by stg_acteur and stg_revision_acteur. -#}
{% macro cleaned_acteur_fields() %}
    {%- for field in ['nom', 'nom_commercial', 'siren', 'siret', 'adresse', 'adresse_complement', 'code_postal', 'ville'] %}
    {{ clean_text(field) }} as {{ field }},
    {%- endfor %}
    case when latitude between -90 and 90 then latitude::double precision end as latitude,
    case when longitude between -180 and 180 then longitude::double precision end as longitude,
    {%- for field in ['telephone', 'email', 'url'] %}
    {{ clean_text(field) }} as {{ field }},
    {%- endfor %}
{%- endmacro %}
