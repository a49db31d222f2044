"""Fingerprints of clusters: which actors (identity) and in what state (staleness).

Computed for many clusters in one query: a suggestion is stale when the state of one of its actors
(imported row, revision row, parent link, status) changed after it was made.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

STATE_SQL = """
with wanted as (
    select t.key, t.id from unnest(%(keys)s::text[], %(ids)s::text[]) as t(key, id)
)
select w.key, w.id,
       coalesce(a.modifie_le::text, '-') || '|' || coalesce(r.modifie_le::text, '-') || '|'
       || coalesce(r.parent_id, '-') || '|' || coalesce(a.statut, '-') || '|' || coalesce(r.statut, '-')
from wanted w
left join acteur a on a.identifiant_unique = w.id
left join revision_acteur r on r.identifiant_unique = w.id
order by w.key, w.id
"""


def members_key(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def state_digest(states: Iterable[tuple[str, str]]) -> str:
    """sha256 of (identifiant_unique, state) pairs, in STATE_SQL's order: one cluster's data fingerprint."""
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
    states: dict[str, list[tuple[str, str]]] = {key: [] for key in clusters}
    with conn.cursor() as cur:
        cur.execute(STATE_SQL, {"keys": keys, "ids": ids})
        for key, ident, state in cur:
            states[key].append((ident, state))
    return {key: state_digest(rows) for key, rows in states.items()}
