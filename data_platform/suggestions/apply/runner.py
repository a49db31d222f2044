"""Apply approved suggestions to the revision layer (SPEC §3.1 step 6, §3.2): the claim and the loop.

One transaction per suggestion, all of its changes or none. A run lists the approved ids (in
batches, without locks), then claims each one by its primary key:

    BEGIN; SET CONSTRAINTS ALL IMMEDIATE;
    SELECT id FROM suggestion WHERE id = %(id)s AND statut = 'approved' FOR UPDATE SKIP LOCKED
    ... changes ...
    UPDATE suggestion SET statut = 'applied' | 'failed' | 'stale' ... WHERE id = %(id)s; COMMIT

The row lock, held until COMMIT, is the claim: two concurrent runs never take the same
suggestion (the other run skips the locked row, and after the commit sees it is no longer
`approved`), and a crash (process killed, connection lost) rolls the transaction back: the
suggestion is `approved` again and nothing of its changes is written. `applying` is therefore
never committed by this module (the state exists only inside the transaction, as the lock);
rows found committed in `applying` were left by a dead applier of another kind (or by hand) and
are put back to `approved` first (SKIP LOCKED: only those nobody holds).

Inside the transaction the changes are applied with set-based statements (one per change type,
`changes.apply_changes`), after a savepoint: an error rolls back to the savepoint and the
suggestion becomes `failed` with the message in `erreur`; the run goes on with the next one.
The claim also locks the members' acteur and revision_acteur rows (`for update`, by identifiant_unique)
before their state is read, so two workers on overlapping suggestions serialize (CLAIM_AND_LOCK).
Members whose state changed since the suggestion was made (`empreinte_donnees` differs from
`data_fingerprints` now) make it `stale`.

Durability is the server's: apply never turns `synchronous_commit` off on its connection. The
embedded development server runs with it off (db/embedded.py SERVER_CONF); a production server
keeps its own setting, so an applied suggestion stays applied after a server crash.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from data_platform import settings
from data_platform.suggestions.apply.changes import ApplyError, Savepoint, apply_changes
from data_platform.suggestions.apply.statements import CANDIDATES, CLAIM_AND_STATE, FINISH, RECOVER, STALE_FIELDS
from data_platform.suggestions.fingerprint import state_digest

log = logging.getLogger(__name__)

CANDIDATE_BATCH = 500


@contextmanager
def _connection(conn_or_url):
    """A connection in autocommit mode: apply_one sends its own BEGIN ... COMMIT, so that one
    round trip carries several statements (the per-suggestion cost is round trips, not work)."""
    if conn_or_url is None or isinstance(conn_or_url, str):
        import psycopg2

        conn = psycopg2.connect(conn_or_url or settings.database_url())
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()
    else:
        conn = conn_or_url
        previous = conn.autocommit
        if not previous:
            conn.commit()  # a passed connection must not hold an open transaction
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.autocommit = previous


def recover_interrupted(conn) -> int:
    """Suggestions committed as `applying` by a dead applier go back to `approved`."""
    with conn.cursor() as cur:
        cur.execute(RECOVER)
        n = cur.rowcount
    if n:
        log.warning("%s suggestion(s) left in 'applying' put back to 'approved'", n)
    return n


def _finish(cur, sid: int, statut: str, erreur: str = "", before: str = "") -> str:
    cur.execute(before + FINISH + "; commit", {"id": sid, "statut": statut, "erreur": erreur})
    return statut


def apply_one(conn, candidate: tuple) -> str | None:
    """Claim suggestion `candidate` (id, membres, empreinte_donnees, changes) and apply it in its
    own transaction.

    Returns the outcome (applied, stale, failed), or None when it was not claimable (taken by a
    concurrent run, or no longer approved). `conn` is in autocommit mode; the transaction is
    explicit so that one round trip carries several statements: claim + state, each change
    statement (the first one with the savepoint), status + COMMIT."""
    sid, membres, empreinte, changes = candidate
    membres = list(membres or [])
    with conn.cursor() as cur:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check them statement by
        # statement, inside the savepoint, not at COMMIT
        cur.execute("begin; set constraints all immediate; " + CLAIM_AND_STATE,
                    {"id": sid, "keys": ["s"] * len(membres), "ids": membres})
        rows = cur.fetchall()
        if not rows or not rows[0][0]:
            cur.execute("rollback")
            return None
        if state_digest([r[2:] for r in rows if r[1] is not None]) != empreinte:
            return _finish(cur, sid, "stale", _stale_message(cur, sid)[:2000])
        savepoint = Savepoint()
        try:
            apply_changes(cur, changes, savepoint)
        except Exception as exc:  # noqa: BLE001 - any error fails this suggestion, the run goes on
            message = str(exc).strip() or exc.__class__.__name__
            if not isinstance(exc, ApplyError):
                message = f"{exc.__class__.__name__}: {message}"
            log.warning("suggestion %s failed: %s", sid, message)
            return _finish(cur, sid, "failed", message[:2000], before=Savepoint.ROLLBACK if savepoint.sent else "")
        return _finish(cur, sid, "applied")


def _stale_message(cur, sid: int) -> str:
    """Names the members and fields that changed (STALE_FIELDS); without a field to name (the change
    is in a timestamp, a status, or an imported value under a revision one), says so."""
    cur.execute(STALE_FIELDS, {"id": sid})
    diffs = cur.fetchall()
    if not diffs:
        return ("les acteurs ont changé depuis la suggestion (état hors des champs du contexte : "
                "date de modification, statut, lien parent ou valeur importée sous une révision)")
    parts = [f"{ident} : acteur disparu" if now is None else f"{ident} : {field} « {before} » → « {now} »"
             for ident, field, before, now in diffs]
    return "les acteurs ont changé depuis la suggestion : " + " ; ".join(dict.fromkeys(parts))


def _candidates(conn, after: int, batch: int) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(CANDIDATES, {"after": after, "batch": batch})
        return cur.fetchall()


def apply_approved(conn_or_url=None, limit: int | None = None) -> dict:
    """Apply approved suggestions (at most `limit`); returns counts by outcome.

    `conn_or_url`: a psycopg2 connection (committed first, then used in autocommit mode and
    restored), a database URL, or None for the platform's database.
    """
    started = time.monotonic()
    counts = {"recovered": 0, "applied": 0, "stale": 0, "failed": 0}
    with _connection(conn_or_url) as conn:
        counts["recovered"] = recover_interrupted(conn)
        done, after = 0, 0
        applied = []  # for the match index, refreshed after the loop (data_platform.match.hooks)
        try:
            while limit is None or done < limit:
                batch = _candidates(conn, after, CANDIDATE_BATCH)
                if not batch:
                    break
                for candidate in batch:
                    if limit is not None and done >= limit:
                        break
                    outcome = apply_one(conn, candidate)
                    if outcome is not None:
                        counts[outcome] += 1
                        done += 1
                        if outcome == "applied":
                            applied.append(candidate)
                after = batch[-1][0]
        except BaseException:
            if not conn.closed:
                with conn.cursor() as cur:
                    cur.execute("rollback")  # the explicit transaction of the suggestion under way
            raise
        if applied:
            from data_platform.match.hooks import after_apply

            refreshed = after_apply(conn, applied)
            if refreshed is not None:
                counts["match_index"] = refreshed
    counts["seconds"] = round(time.monotonic() - started, 3)
    log.info("apply_approved: %s", counts)
    return counts


def displayed_models_exist() -> bool:
    models = settings.DBT_PROJECT_DIR / "models"
    names = {p.stem for p in models.rglob("*.sql")} if models.exists() else set()
    return {"vue_acteur", "displayed_acteur"} <= names


def rebuild_displayed_layer() -> dict:
    """Rebuild dbt.vue_acteur and dbt.displayed_acteur after applying.

    Selector `displayed` (dbt_project/selectors.yml): `+displayed_acteur` plus `vue_acteur`, both built from
    int_acteur_consolide; only the data tests whose every parent is selected run (not the per-run marts')."""
    if not displayed_models_exist():
        log.warning("dbt models vue_acteur/displayed_acteur not found: displayed layer not rebuilt")
        return {"rebuilt": False, "reason": "models vue_acteur/displayed_acteur absent"}
    from data_platform.dbt_runner import run_dbt

    run_dbt(["build", "--selector", "displayed"])
    return {"rebuilt": True}
