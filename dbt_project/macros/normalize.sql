{#
  Text normalization shared by every model (SPEC §3.1 step 2). Pure SQL expressions: no table access,
  no extension (unaccent needs superuser), no dependence on the database locale.
#}

{# Lower case, accents removed, punctuation to spaces, spaces collapsed, trimmed; NULL gives ''.
   Accents: Unicode NFD decomposition (core normalize(), no extension, needs a UTF8 database) then the
   combining marks U+0300–U+036F removed, so é/É → e/E whatever the database's LC_CTYPE; the letters that do
   not decompose are mapped explicitly first: œ/æ/ß by replace(), ø đ ł ı ħ ŧ by translate() (a short map:
   translate() with a long map costs ~20 µs per row, ten times the rest). lower() then only sees ASCII
   letters, and every run of characters other than [a-z0-9] becomes one space. #}
{% macro normalize_text(expr) -%}
btrim(regexp_replace(lower({{ strip_accents(expr) }}), '[^a-z0-9]+', ' ', 'g'))
{%- endmacro %}

{# The accent-stripping part of normalize_text; pure-ASCII strings (most of them) skip it. #}
{% macro strip_accents(expr) -%}
case when octet_length(coalesce(({{ expr }})::text, '')) = length(coalesce(({{ expr }})::text, ''))
     then coalesce(({{ expr }})::text, '')
     else regexp_replace(normalize(translate(
            replace(replace(replace(replace(replace(({{ expr }})::text,
                'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'), 'ß', 'ss'),
            'øØđĐłŁıħĦŧŦ', 'oOdDlLihHtT'), NFD),
          '[\u0300-\u036f]', '', 'g')
end
{%- endmacro %}

{# City name for comparisons: normalize_text, then
   - "cedex" and everything after it removed ("paris cedex 11" → "paris"),
   - a trailing arrondissement number removed ("paris 11", "paris 11e", "lyon 3eme", "marseille 1er" → the city),
   - st/ste → saint/sainte.
   Arrondissements are dropped on purpose: "Paris" and "Paris 11e" are the same city for matching (SPEC §7). #}
{% macro normalize_ville(expr) -%}
{{ ville_from_normalized_text(normalize_text(expr)) }}
{%- endmacro %}

{% macro ville_from_normalized_text(text_expr) -%}
btrim(regexp_replace(regexp_replace(regexp_replace(
    {{ text_expr }},
    '\mcedex\M.*$', ''),
    '\s+[0-9]{1,2}\s*(e|er|eme|em|ieme)?\s*(arrondissement|arr)?$', ''),
    '\mst(e?)\M', 'saint\1', 'g'))
{%- endmacro %}

{# Postal code, in two steps so that each regex runs once per row (models compute the first step in a CTE):
   postal_code_digits: "CEDEX ..." or a spreadsheet ".0" suffix removed, then digits only;
   code_postal_from_digits: 5 digits kept, 4 digits get their lost leading zero back, anything else ''. #}
{% macro postal_code_digits(expr) -%}
regexp_replace(regexp_replace(coalesce(({{ expr }})::text, ''), '(cedex.*|\.0*\s*)$', '', 'i'), '[^0-9]', '', 'g')
{%- endmacro %}

{% macro code_postal_from_digits(d) -%}
case length({{ d }}) when 5 then {{ d }} when 4 then '0' || {{ d }} else '' end
{%- endmacro %}

{% macro normalize_code_postal(expr) -%}
{{ code_postal_from_digits('(' ~ postal_code_digits(expr) ~ ')') }}
{%- endmacro %}

{# Département by the prefix rule, from a normalized postal code (5 digits): Corsica 20000–20199 → 2A,
   20200–20999 → 2B; 97xxx/98xxx → three digits (971–976; 980 = Monaco, 975, 986–988 are not départements
   and are rejected by the join on the departements seed); otherwise the first two digits. NULL when the
   postal code is not 5 digits. The exceptions seed and the departements seed are applied by the caller. #}
{% macro departement_from_postal_code(cp_expr) -%}
case
    when ({{ cp_expr }}) !~ '^[0-9]{5}$' then null
    when left({{ cp_expr }}, 2) = '20' then case when ({{ cp_expr }}) < '20200' then '2A' else '2B' end
    when left({{ cp_expr }}, 2) in ('97', '98') then left({{ cp_expr }}, 3)
    else left({{ cp_expr }}, 2)
end
{%- endmacro %}

{# Digits of a text (first step of siret/siren/telephone normalization). #}
{% macro only_digits(expr) -%}
regexp_replace(coalesce(({{ expr }})::text, ''), '[^0-9]', '', 'g')
{%- endmacro %}

{# From a digits-only string: exactly `n` digits and not all zeros, or ''. #}
{% macro digits_exact(d, n) -%}
case when length({{ d }}) = {{ n }} and ltrim({{ d }}, '0') <> '' then {{ d }} else '' end
{%- endmacro %}

{# French phone number from a digits-only string: 0033/33 prefix (with or without the "(0)") → leading 0;
   overseas country codes (262, 269, 508, 590, 594, 596, with or without 00) → 0 + national number; a 9-digit
   number that lost its leading zero gets it back; the result is 10 digits starting with 0 (second digit not
   0), or ''. No regex: left()/length() tests only. #}
{% macro telephone_from_digits(d) -%}
case
    when length({{ d }}) = 10 and left({{ d }}, 1) = '0' and substr({{ d }}, 2, 1) <> '0' then {{ d }}
    when length({{ d }}) = 9 and left({{ d }}, 1) <> '0' then '0' || {{ d }}
    when length({{ d }}) = 11 and left({{ d }}, 2) = '33' and substr({{ d }}, 3, 1) <> '0' then '0' || substr({{ d }}, 3)
    when length({{ d }}) = 12 and left({{ d }}, 3) = '330' and substr({{ d }}, 4, 1) <> '0' then substr({{ d }}, 3)
    when length({{ d }}) = 13 and left({{ d }}, 4) = '0033' and substr({{ d }}, 5, 1) <> '0' then '0' || substr({{ d }}, 5)
    when length({{ d }}) = 14 and left({{ d }}, 5) = '00330' and substr({{ d }}, 6, 1) <> '0' then substr({{ d }}, 5)
    when length({{ d }}) = 12 and left({{ d }}, 3) in ('262', '269', '508', '590', '594', '596')
         and substr({{ d }}, 4, 1) <> '0' then '0' || substr({{ d }}, 4)
    when length({{ d }}) = 14 and left({{ d }}, 5) in ('00262', '00269', '00508', '00590', '00594', '00596')
         and substr({{ d }}, 6, 1) <> '0' then '0' || substr({{ d }}, 6)
    else ''
end
{%- endmacro %}

{# Empty-looking strings ("null", "n/a", "-", "none", "nan") and NULL become ''; other values are trimmed. #}
{% macro clean_text(expr) -%}
case when octet_length(coalesce(({{ expr }})::text, '')) <= 8
      and lower(btrim(coalesce(({{ expr }})::text, ''))) in ('', 'null', 'none', 'nan', 'n/a', 'n.a.', '-', '--', '.', '?')
     then '' else btrim(({{ expr }})::text) end
{%- endmacro %}

{# A jsonb value as text[]: the array's elements, or `default_sql` when the key is missing, null or not an array. #}
{% macro jsonb_text_array(expr, default_sql="'{}'::text[]") -%}
case when jsonb_typeof({{ expr }}) = 'array'
     then array(select jsonb_array_elements_text({{ expr }}))
     else {{ default_sql }} end
{%- endmacro %}
