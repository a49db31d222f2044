"""Fingerprints of clusters: which actors (identity) and in what state (staleness).

Computed for many clusters in one query: a suggestion is stale when the state of one of its actors
(imported row, revision row: their data fields, parent link, status, timestamps) changed after it was
made.

One definition, in SQL: ACTEUR_STATE is an actor's state; `digest_sql(wanted)` hashes the states of the
actors of every cluster of a relation `wanted(key, id)` in the database (sha256 of the lines
"<id>=<state>\\n" in id order). `data_fingerprints` runs it on bound arrays, the suggestion writer on the
members of the run's clusters (inside its insert … select). The apply step reads the same states
(STATE_SQL, joined to its claim) and digests them with `state_digest`, which gives the same hash
(tests/suggestions/test_apply.py checks it).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from data_platform.changes.records import COPYABLE_FIELDS

# What a suggestion depends on, for each side of an actor: every field a change copies or compares
# (COPYABLE_FIELDS), the status, the parent link and the timestamps. An UPDATE that leaves
# `modifie_le` alone still changes the state (issue 13 item 10).
STATE_FIELDS = ("modifie_le", "statut", "parent_id") + tuple(COPYABLE_FIELDS)
_ACTEUR_FIELDS = tuple(f for f in STATE_FIELDS if f != "parent_id")  # acteur has no parent link

# an actor's state; `a` = acteur, `r` = revision_acteur (either may be missing): a JSON array text
# (unambiguous whatever the values hold), a missing row is `null`
ACTEUR_STATE = (
    "jsonb_build_array("
    "case when a.identifiant_unique is null then null else jsonb_build_array("
    + ", ".join(f"a.{f}" for f in _ACTEUR_FIELDS) + ") end, "
    "case when r.identifiant_unique is null then null else jsonb_build_array("
    + ", ".join(f"r.{f}" for f in STATE_FIELDS) + ") end)::text"
)

_STATES_OF = """
from {wanted} w
left join acteur a on a.identifiant_unique = w.id
left join revision_acteur r on r.identifiant_unique = w.id
"""

_WANTED_ARRAYS = "(select t.key, t.id from unnest(%(keys)s::text[], %(ids)s::text[]) as t(key, id))"

# one row per (key, id), in the order the digest reads them
STATE_SQL = ("select w.key, w.id, " + ACTEUR_STATE + _STATES_OF.format(wanted=_WANTED_ARRAYS)
             + "order by w.key, w.id")


def digest_sql(wanted: str) -> str:
    """`select key, empreinte_donnees` for every key of `wanted` (a parenthesized subquery or a relation
    with columns key, id): the clusters' data fingerprints, computed by PostgreSQL."""
    return ("select w.key, encode(sha256(convert_to(coalesce(string_agg(w.id || '=' || " + ACTEUR_STATE
            + " || E'\\n', '' order by w.id), ''), 'UTF8')), 'hex') as empreinte_donnees"
            + _STATES_OF.format(wanted=wanted) + "group by w.key")


def members_key(ids: Iterable[str]) -> str:
    """sha256 of the sorted ids joined by "\\n" (the SQL side: dbt model cluster_suggestions)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def state_digest(states: Iterable[tuple[str, str]]) -> str:
    """sha256 of (identifiant_unique, state) pairs, in STATE_SQL's order: what digest_sql computes."""
    digest = hashlib.sha256()
    for ident, state in states:
        digest.update(f"{ident}={state}\n".encode())
    return digest.hexdigest()


def data_fingerprints(conn, clusters: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """{cluster key: sha256 of its members' current state}, for all clusters in one query."""
    keys, ids = [], []
    for key, members in clusters.items():
        for m in members:
            keys.append(key)
            ids.append(m)
    out = {key: hashlib.sha256().hexdigest() for key in clusters}  # a cluster without members
    with conn.cursor() as cur:
        cur.execute(digest_sql(_WANTED_ARRAYS), {"keys": keys, "ids": ids})
        out.update(cur.fetchall())
    return out
