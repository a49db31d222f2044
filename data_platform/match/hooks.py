"""What ingestion and apply call after their commits: the match index refreshed for the ids they touched, and,
for ingestion, suggestions for its new actors that match known ones (`suggest`). Never raises: the work they
follow is committed; a failure is logged and returned (the index is rebuilt by `data-platform match-index
rebuild`, the next clustering run proposes what was missed)."""
from __future__ import annotations

import logging

from data_platform.db.connection import connect
from data_platform.match import index as ix

log = logging.getLogger(__name__)

# beyond this many new actors in one ingestion (a first load), matching them waits for the clustering run
MAX_NEW_ACTORS = 20_000


def after_ingest(source: str, applied_at, ingest_run_id: str, url: str | None = None) -> dict:
    """The source's rows written by the apply transaction of `applied_at` (its now(): every row it inserted or
    changed carries it in modifie_le, the inserted ones in cree_le too)."""
    try:
        with connect(url) as conn:
            if not ix.exists(conn):
                return {"index": "absent"}
            with conn.cursor() as cur:
                cur.execute("select identifiant_unique, cree_le = %s from acteur where source = %s and modifie_le = %s"
                            " order by 1", (applied_at, source, applied_at))
                rows = cur.fetchall()
    except Exception as exc:  # noqa: BLE001 - see the module's docstring
        log.error("match hook after ingesting %s: %s: %s", source, type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}
    out = {"refresh": ix.refresh_after_commit([r[0] for r in rows], url)}
    new = [r[0] for r in rows if r[1]]
    if len(new) > MAX_NEW_ACTORS:
        out["suggest"] = {"new": len(new), "skipped": f"more than {MAX_NEW_ACTORS} new actors: left to the "
                                                      "clustering run"}
        return out
    try:
        from data_platform.match.suggest import suggest_new_actors

        out["suggest"] = suggest_new_actors(new, ingest_run_id, url=url)
    except Exception as exc:
        log.exception("match suggestions after ingesting %s failed", source)
        out["suggest"] = {"new": len(new), "error": f"{type(exc).__name__}: {exc}"}
    return out


def after_apply(conn, candidates: list) -> dict | None:
    """The applied suggestions' actors (members, changes' ids and parents) refreshed in the index, on the
    applier's connection (autocommit: one explicit transaction); None without an index."""
    if not ix.exists(conn):
        return None
    ids = set()
    for _, membres, _, changes in candidates:
        ids.update(membres or [])
        for change in changes or []:
            ids.update(x for x in (change.get("identifiant_unique"), change.get("parent_id")) if x)
    if not ids:
        return {"refreshed": 0}
    try:
        with conn.cursor() as cur:
            cur.execute("begin")
        out = ix.refresh_ids(conn, sorted(ids))
        with conn.cursor() as cur:
            cur.execute("commit")
        return out
    except Exception as exc:  # noqa: BLE001 - see the module's docstring
        with conn.cursor() as cur:
            cur.execute("rollback")
        log.error("match index not refreshed after apply: %s: %s", type(exc).__name__, exc)
        return {"refreshed": 0, "error": f"{type(exc).__name__}: {exc}"}
