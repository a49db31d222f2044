"""The parent rules of dbt (dbt_project/macros/parent_rules.sql) as SQL statements for Python callers.

The review admin's remove-member is a web request: it cannot run dbt, so it renders the same macros that
cluster_parent_choice.sql and cluster_parent_data.sql call (plain Jinja, no dbt function in them) and runs
the statement with bound values. There is no other copy of the rules.
"""
from __future__ import annotations

from functools import cache

import jinja2

from data_platform import settings

MACROS = settings.DBT_PROJECT_DIR / "macros" / "parent_rules.sql"


@cache
def render(template: str) -> str:
    """`template` (Jinja calling the macros of parent_rules.sql) rendered to SQL text."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(MACROS.read_text(encoding="utf-8") + template).render().strip()


# Candidates from a suggestion's context (what the reviewer saw; remove-member first checks that the actors'
# data did not change since): the members that are not parents, and the kept parent. Values the context does
# not carry are '' (no candidate for that field). Bound: priority, excluded, keep, kept, membres (jsonb), ids.
_REBUILD_TEMPLATE = """
with p as (
    select %(priority)s::text[] as parent_source_priority, %(excluded)s::text[] as parent_excluded_sources,
           %(keep)s::boolean as keep_parent_data
),
candidates as (
    select
        ''::text as cluster_id,
        m ->> 'identifiant_unique' as identifiant_unique,
        (m ->> 'identifiant_unique') is not distinct from %(kept)s as is_kept_parent,
        'ACTIF'::text as statut,
        coalesce(m ->> 'source', '') as source,
        {%- for f in text_fields %}
        coalesce(m -> 'raw' ->> '{{ f }}', '') as {{ f }},
        {%- endfor %}
        {%- for f in ('latitude', 'longitude') %}
        case when jsonb_typeof(m -> 'raw' -> '{{ f }}') = 'number' then (m -> 'raw' ->> '{{ f }}')::float8 end
            as {{ f }},
        {%- endfor %}
        coalesce(m -> 'norm' ->> 'code_postal_norm', '') as code_postal_norm,
        coalesce(m -> 'norm' ->> 'siret_norm', '') as siret_norm,
        coalesce(m -> 'norm' ->> 'siren_norm', '') as siren_norm
    from jsonb_array_elements(%(membres)s::jsonb) as m
    where not coalesce((m ->> 'est_parent')::boolean, false) or (m ->> 'identifiant_unique') is not distinct from %(kept)s
),
chosen as (
    {{ parent_data('candidates', 'p') }}
)
select (select data from chosen), (select origine from chosen),
       (select {{ created_parent_id('t.id') }} from unnest(%(ids)s::text[]) as t(id))
"""
_TEXT_FIELDS = ("nom", "nom_commercial", "siren", "siret", "adresse", "adresse_complement", "code_postal", "ville",
                "telephone", "email", "url", "acteur_type")


def rebuild_sql() -> str:
    """(data, origine, created parent id) from a suggestion's context members, by the dbt rules."""
    return render("{% set text_fields = " + repr(list(_TEXT_FIELDS)) + " %}" + _REBUILD_TEMPLATE)
