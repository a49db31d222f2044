"""The SQL of the apply step: one set-based statement per change type, plus the claim, the status
update and the recovery (docs/CONTRACTS.md "Change records", SPEC §3.1 step 6).

Plain parametrized statements (psycopg2 binds the values client side). They used to be PREPAREd once
per connection; bench/bench_apply.py on 10,000 suggestions measured 23.6 s prepared and 23.5 s plain
(wall time), and under load 13.8 s prepared, 16.0 s plain of server CPU (the planning) against
4.75 s, 4.05 s of client CPU: within the noise of the wall time, so the simpler form. Column names
come only from `COPYABLE_FIELDS` (a fixed list, never from the JSON); every value is a bound parameter.
"""
from __future__ import annotations

from data_platform.changes.records import (
    COPYABLE_FIELDS,
    CREATE,
    DELETE,
    KEEP,
    NUMERIC_FIELDS,
    UPDATE,
    VERIFY,
)
from data_platform.suggestions.fingerprint import STATE_SQL

# Foreign keys: an empty string means "none" (null), other text fields store '' for empty.
FK_FIELDS = frozenset({"acteur_type"})
assert all(f.isidentifier() and f.islower() for f in COPYABLE_FIELDS)  # safe as bare SQL identifiers


def _value(field: str) -> str:
    """The value of `field` from the populated record r."""
    if field in NUMERIC_FIELDS:
        return f"r.{field}"
    if field in FK_FIELDS:
        return f"nullif(r.{field}, '')"
    return f"coalesce(r.{field}, '')"


# acteur_create_as_parent: a new revision row without source (a parent), unless the id exists.
INSERT_PARENT = f"""
    insert into revision_acteur (identifiant_unique, statut, {", ".join(COPYABLE_FIELDS)}, cree_le, modifie_le)
    select %(id)s, 'ACTIF', {", ".join(_value(f) for f in COPYABLE_FIELDS)}, now(), now()
    from jsonb_populate_record(null::revision_acteur, %(data)s::jsonb) r
    where not exists (select 1 from acteur a where a.identifiant_unique = %(id)s)
    on conflict (identifiant_unique) do nothing
    returning identifiant_unique
"""

# acteur_keep_as_parent: only the fields present in `data` are overwritten (`data ? field`).
UPDATE_PARENT = f"""
    update revision_acteur t set {", ".join(
        f"{f} = case when %(data)s::jsonb ? '{f}' then {_value(f)} else t.{f} end" for f in COPYABLE_FIELDS)},
        modifie_le = now()
    from jsonb_populate_record(null::revision_acteur, %(data)s::jsonb) r
    where t.identifiant_unique = %(id)s
      and t.parent_id is null
      and not exists (select 1 from acteur a where a.identifiant_unique = t.identifiant_unique)
    returning t.identifiant_unique
"""

# acteur_update_parent_id: validation and upsert in one statement; nothing is written when one row
# is invalid (`bad`, returned).
SET_PARENT_IDS = """
    with u as (select * from unnest(%(ids)s::text[], %(pids)s::text[]) as u(id, pid)),
    chk as (
        select u.id, u.pid,
               exists (select 1 from acteur a where a.identifiant_unique = u.id) as is_actor,
               p.identifiant_unique is not null as parent_exists,
               p.parent_id as parent_parent,
               exists (select 1 from acteur a where a.identifiant_unique = u.pid) as parent_is_actor
        from u left join revision_acteur p on p.identifiant_unique = u.pid),
    bad as (select * from chk where not is_actor or not parent_exists or parent_is_actor
                                 or parent_parent is not null or id = pid),
    ins as (
        insert into revision_acteur (identifiant_unique, parent_id, cree_le, modifie_le)
        select u.id, u.pid, now(), now() from u where not exists (select 1 from bad)
        on conflict (identifiant_unique) do update set parent_id = excluded.parent_id, modifie_le = now()
        returning 1)
    select id, pid, is_actor, parent_exists, parent_parent, parent_is_actor from bad order by id
"""

# acteur_verify_in_revision: the rows that do not point where they should.
VERIFY_LINKS = """
    select u.id, u.pid, r.parent_id
    from unnest(%(ids)s::text[], %(pids)s::text[]) as u(id, pid)
    left join revision_acteur r on r.identifiant_unique = u.id
    where r.parent_id is distinct from u.pid
    order by u.id
"""

# acteur_delete_as_parent: deleted only when none has children left (after the repoints).
DELETE_PARENTS = """
    with d as (select unnest(%(ids)s::text[]) as id),
    left_ as (select parent_id, count(*) as n from revision_acteur
              where parent_id in (select id from d) group by parent_id),
    del as (
        delete from revision_acteur r using d
        where r.identifiant_unique = d.id and not exists (select 1 from left_)
          and not exists (select 1 from acteur a where a.identifiant_unique = r.identifiant_unique)
        returning r.identifiant_unique)
    select 'left', parent_id, n from left_
    union all
    select 'deleted', identifiant_unique, 0 from del
"""

BY_TYPE = {CREATE: INSERT_PARENT, KEEP: UPDATE_PARENT, UPDATE: SET_PARENT_IDS, VERIFY: VERIFY_LINKS,
           DELETE: DELETE_PARENTS}

RECOVER = """
    update suggestion set statut = 'approved', modifie_le = now(),
           erreur = 'repris après interruption d''une application précédente'
    where id in (select id from suggestion where statut = 'applying' for update skip locked)
    returning id
"""

# Candidates in id order (no lock: a snapshot of what is approved), then each one claimed by its
# primary key with the row lock and the status re-checked: O(1) per suggestion, and a row taken by
# a concurrent run (locked, or no longer approved once it commits) is skipped.
CANDIDATES = """
    select id, membres, empreinte_donnees, changes from suggestion
    where statut = 'approved' and id > %(after)s order by id limit %(batch)s
"""

# The claim is the row lock, held until COMMIT. `applying` is not written: it would be visible
# only inside this transaction (never committed), and a second update of the wide suggestion row
# per suggestion made the whole run ~2.5x slower (bench/bench_apply.py).
CLAIM = """
    select id from suggestion where id = %(id)s and statut = 'approved' for update skip locked
"""

# The claim, then the members' rows locked (issue 13 item 11): two suggestions sharing a member,
# applied by two workers, would otherwise both read the member's committed state and both pass the
# stale check. `for update` in a fixed order (acteur rows by identifiant_unique, then revision_acteur
# rows by identifiant_unique) so that two claims never deadlock; only when the suggestion was claimed.
# The number claimed is kept in a transaction-local setting for the next statement.
CLAIM_AND_LOCK = (
    "with claimed as (" + CLAIM + "), "
    "locked_a as (select identifiant_unique from acteur where identifiant_unique = any(%(ids)s::text[]) "
    "and exists (select 1 from claimed) order by identifiant_unique collate \"C\" for update), "
    "locked_r as (select identifiant_unique from revision_acteur where identifiant_unique = any(%(ids)s::text[]) "
    "and exists (select 1 from claimed) order by identifiant_unique collate \"C\" for update) "
    "select set_config('data_platform.apply_claimed', (select count(*) from claimed)::text, true), "
    "(select count(*) from locked_a), (select count(*) from locked_r)"
)

# The members' current state (data_fingerprints' own query, STATE_SQL), read by a statement of its
# own: its snapshot is taken after the locks were granted (READ COMMITTED), so it sees what a
# concurrent applier of an overlapping suggestion committed. `n` is 0 when the suggestion was not
# claimable. An approved suggestion's content never changes (only its status), so membres/changes
# read with the candidates hold.
CLAIMED_STATE = (
    "select c.n, s.* from (select current_setting('data_platform.apply_claimed')::int as n) c "
    "left join (" + STATE_SQL + ") s on true order by s.key, s.id"
)

CLAIM_AND_STATE = CLAIM_AND_LOCK + "; " + CLAIMED_STATE

FINISH = """
    update suggestion set statut = %(statut)s, erreur = %(erreur)s, modifie_le = now(),
           applique_le = case when %(statut)s = 'applied' then now() else applique_le end
    where id = %(id)s
"""

# Why a suggestion is stale, for its message (the stale path only): the members whose current
# consolidated value of a field (revision over imported row, as int_acteur_consolide) differs from
# the value the suggestion recorded in contexte.membres[].raw, and the members that disappeared.
# The fingerprint covers more (timestamps, status, the imported value under a revision one): a
# change there is reported as "member, état" by STALE_MEMBERS.
STALE_FIELDS = """
    select m ->> 'identifiant_unique' as id, f.key as field, f.value as before,
           case when a.identifiant_unique is null and r.identifiant_unique is null then null
                else coalesce(nullif(to_jsonb(r) ->> f.key, ''), to_jsonb(a) ->> f.key, '') end as now
    from suggestion s
    cross join jsonb_array_elements(s.contexte -> 'membres') as m
    cross join jsonb_each_text(m -> 'raw') as f
    left join acteur a on a.identifiant_unique = m ->> 'identifiant_unique'
    left join revision_acteur r on r.identifiant_unique = m ->> 'identifiant_unique'
    where s.id = %(id)s
      and (case when f.key in ('latitude', 'longitude')
                then (nullif(f.value, ''))::float8 is distinct from
                     coalesce((to_jsonb(r) ->> f.key)::float8, (to_jsonb(a) ->> f.key)::float8)
                else coalesce(f.value, '') is distinct from
                     coalesce(nullif(to_jsonb(r) ->> f.key, ''), to_jsonb(a) ->> f.key, '') end
           or (a.identifiant_unique is null and r.identifiant_unique is null))
    order by 1, 2
"""
