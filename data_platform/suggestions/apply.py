"""Apply approved suggestions to the revision layer (SPEC §3.1 step 6, §3.2).

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

Inside the transaction the changes are applied with set-based statements (one per change type),
after a savepoint: an error rolls back to the savepoint and the suggestion becomes `failed` with
the message in `erreur`; the run goes on with the next one. Members whose state changed since the
suggestion was made (`empreinte_donnees` differs from `data_fingerprints` now) make it `stale`.
"""
from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager

from psycopg2 import sql

from data_platform import settings
from data_platform.suggestions.fingerprint import STATE_SQL, state_digest

log = logging.getLogger(__name__)

CREATE = "acteur_create_as_parent"
KEEP = "acteur_keep_as_parent"
REPOINT = "acteur_update_parent_id"
VERIFY = "acteur_verify_in_revision"
DELETE = "acteur_delete_as_parent"
CHANGE_TYPES = (CREATE, KEEP, REPOINT, VERIFY, DELETE)

# Fields a parent's `data` may carry (CONTRACTS.md: never identity fields). Fixed list: column
# names in SQL come only from here, never from the JSON.
TEXT_DATA_FIELDS = ["nom", "nom_commercial", "siren", "siret", "adresse", "adresse_complement",
                    "code_postal", "ville", "telephone", "email", "url"]
FLOAT_DATA_FIELDS = ["latitude", "longitude"]
FK_DATA_FIELDS = ["acteur_type"]
DATA_FIELDS = TEXT_DATA_FIELDS + FLOAT_DATA_FIELDS + FK_DATA_FIELDS


CANDIDATE_BATCH = 500


class ApplyError(Exception):
    """A suggestion that cannot be applied as is (recorded in `suggestion.erreur`)."""


def _value_expr(field: str) -> sql.Composable:
    """The value of `field` from the populated record r ('' for empty text)."""
    col = sql.Identifier("r", field)
    if field in TEXT_DATA_FIELDS:
        return sql.SQL("coalesce({}, '')").format(col)
    if field in FK_DATA_FIELDS:
        return sql.SQL("nullif({}, '')").format(col)
    return col


_INSERT_PARENT = sql.SQL("""
    insert into revision_acteur (identifiant_unique, statut, {cols}, cree_le, modifie_le)
    select %(id)s, 'ACTIF', {vals}, now(), now()
    from jsonb_populate_record(null::revision_acteur, %(data)s::jsonb) r
    where not exists (select 1 from acteur a where a.identifiant_unique = %(id)s)
    on conflict (identifiant_unique) do nothing
    returning identifiant_unique
""").format(cols=sql.SQL(", ").join(map(sql.Identifier, DATA_FIELDS)),
            vals=sql.SQL(", ").join(_value_expr(f) for f in DATA_FIELDS))

# Only the fields present in `data` are overwritten (`data ? field`).
_UPDATE_PARENT = sql.SQL("""
    update revision_acteur t set {sets}, modifie_le = now()
    from jsonb_populate_record(null::revision_acteur, %(data)s::jsonb) r
    where t.identifiant_unique = %(id)s
      and t.parent_id is null
      and not exists (select 1 from acteur a where a.identifiant_unique = t.identifiant_unique)
    returning t.identifiant_unique
""").format(sets=sql.SQL(", ").join(
    sql.SQL("{col} = case when %(data)s::jsonb ? {key} then {val} else t.{col} end").format(
        col=sql.Identifier(f), key=sql.Literal(f), val=_value_expr(f))
    for f in DATA_FIELDS))

# Validation and upsert in one statement: nothing is written when one row is invalid (`bad`).
_REPOINT = """
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

_VERIFY = """
    select u.id, u.pid, r.parent_id
    from unnest(%(ids)s::text[], %(pids)s::text[]) as u(id, pid)
    left join revision_acteur r on r.identifiant_unique = u.id
    where r.parent_id is distinct from u.pid
    order by u.id
"""

# Old parents: deleted only when none has children left (after the repoints), in one statement.
_DELETE_PARENTS = """
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

_RECOVER = """
    update suggestion set statut = 'approved', modifie_le = now(),
           erreur = 'repris après interruption d''une application précédente'
    where id in (select id from suggestion where statut = 'applying' for update skip locked)
    returning id
"""

# Candidates in id order (no lock: a snapshot of what is approved), then each one claimed by its
# primary key with the row lock and the status re-checked: O(1) per suggestion, and a row taken by
# a concurrent run (locked, or no longer approved once it commits) is skipped.
_CANDIDATES = """
    select id, membres, empreinte_donnees, changes from suggestion
    where statut = 'approved' and id > %(after)s order by id limit %(batch)s
"""

# The claim is the row lock, held until COMMIT. `applying` is not written: it would be visible
# only inside this transaction (never committed), and a second update of the wide suggestion row
# per suggestion made the whole run ~2.5x slower (bench/bench_apply.py).
_CLAIM = """
    select id from suggestion where id = %(id)s and statut = 'approved' for update skip locked
"""

# The claim and the members' current state (data_fingerprints' own query, STATE_SQL) in one
# statement: `claimed` is 0 when the suggestion was not claimable. An approved suggestion's
# content never changes (only its status), so membres/changes read with the candidates hold.
_CLAIM_AND_STATE = (
    "with claimed as (" + _CLAIM + ") "
    "select c.n, s.* from (select count(*) as n from claimed) c "
    "left join (" + STATE_SQL + ") s on true order by s.key, s.id"
)

_FINISH = """
    update suggestion set statut = %(statut)s, erreur = %(erreur)s, modifie_le = now(),
           applique_le = case when %(statut)s = 'applied' then now() else applique_le end
    where id = %(id)s
"""


# Every statement of the per-suggestion path is PREPAREd once per connection (planning these
# CTEs costs more than running them); `_run` falls back to the plain text when not prepared.
_STATEMENTS = {
    "insert_parent": (_INSERT_PARENT, [("id", "text"), ("data", "jsonb")]),
    "update_parent": (_UPDATE_PARENT, [("id", "text"), ("data", "jsonb")]),
    "repoint": (_REPOINT, [("ids", "text[]"), ("pids", "text[]")]),
    "verify": (_VERIFY, [("ids", "text[]"), ("pids", "text[]")]),
    "delete_parents": (_DELETE_PARENTS, [("ids", "text[]")]),
    "claim_and_state": (_CLAIM_AND_STATE, [("id", "bigint"), ("keys", "text[]"), ("ids", "text[]")]),
    "finish": (_FINISH, [("id", "bigint"), ("statut", "text"), ("erreur", "text")]),
}
_prepared_on: set[int] = set()  # id() of the connections where they are prepared


def _text(conn, query) -> str:
    return query.as_string(conn) if isinstance(query, sql.Composable) else query


def _prepare(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("select name from pg_prepared_statements where name like 'dp_apply_%%'")
        existing = {r[0] for r in cur.fetchall()}
        for name, (query, params) in _STATEMENTS.items():
            text = _text(conn, query)
            for i, (param, _type) in enumerate(params, start=1):
                text = text.replace(f"%({param})s", f"${i}")
            if "%(" in text:  # a parameter this list does not know: stay unprepared
                continue
            if f"dp_apply_{name}" not in existing:
                cur.execute(f"prepare dp_apply_{name}({', '.join(t for _, t in params)}) as {text}".replace("%%", "%"))
    _prepared_on.add(id(conn))


def _unprepare(conn) -> None:
    if id(conn) in _prepared_on:
        _prepared_on.discard(id(conn))
        if not conn.closed:
            with conn.cursor() as cur:
                cur.execute("select name from pg_prepared_statements where name like 'dp_apply_%%'")
                for (name,) in cur.fetchall():
                    cur.execute(sql.SQL("deallocate {}").format(sql.Identifier(name)))


def _run(cur, name: str, params: dict, before: str = "", after: str = "") -> None:
    """Execute statement `name` (prepared when possible), with SQL sent in the same round trip."""
    query, order = _STATEMENTS[name]
    if id(cur.connection) in _prepared_on:
        body = sql.SQL("execute {}({})").format(sql.Identifier(f"dp_apply_{name}"),
                                                sql.SQL(", ").join(sql.Placeholder(p) for p, _ in order))
    else:
        body = query if isinstance(query, sql.Composable) else sql.SQL(query)
    cur.execute(sql.Composed([sql.SQL(before), body, sql.SQL(after)]), params)


def _ordered(changes: list) -> list[dict]:
    if not isinstance(changes, list):
        raise ApplyError("changes n'est pas une liste")
    for ch in changes:
        if not isinstance(ch, dict) or ch.get("type") not in CHANGE_TYPES or not ch.get("identifiant_unique"):
            raise ApplyError(f"changement invalide : {json.dumps(ch, ensure_ascii=False)[:200]}")
    return sorted(changes, key=lambda c: (int(c.get("order", 0)), str(c["identifiant_unique"])))


def _check_data(change: dict) -> dict:
    data = change.get("data") or {}
    if not isinstance(data, dict):
        raise ApplyError(f"{change['identifiant_unique']} : data n'est pas un objet")
    unknown = sorted(set(data) - set(DATA_FIELDS))
    if unknown:
        raise ApplyError(f"{change['identifiant_unique']} : champs non copiables dans data : {', '.join(unknown)}")
    return data


def apply_changes(cur, changes: list, savepoint: _Savepoint | None = None) -> dict:
    """Apply one suggestion's changes with set-based statements. Raises ApplyError when invalid.

    `savepoint`: its prefix goes with the first statement (one round trip less)."""
    def first():
        return savepoint.prefix() if savepoint is not None else ""

    changes = _ordered(changes)
    by_type: dict[str, list[dict]] = {t: [] for t in CHANGE_TYPES}
    for ch in changes:
        by_type[ch["type"]].append(ch)

    # 1. the parent: created or kept (one per cluster; a statement each)
    for ch in by_type[CREATE]:
        _run(cur, "insert_parent", {"id": ch["identifiant_unique"], "data": json.dumps(_check_data(ch))},
             before=first())
        if cur.fetchone() is None:
            raise ApplyError(f"création du parent {ch['identifiant_unique']} impossible : l'identifiant existe déjà")
    for ch in by_type[KEEP]:
        _run(cur, "update_parent", {"id": ch["identifiant_unique"], "data": json.dumps(_check_data(ch))},
             before=first())
        if cur.fetchone() is None:
            raise ApplyError(f"parent conservé {ch['identifiant_unique']} introuvable (ou n'est pas un parent)")

    # 2a. repoints: all in one upsert, after one validation query
    repoints = by_type[REPOINT]
    if repoints:
        ids = [c["identifiant_unique"] for c in repoints]
        pids = [c.get("parent_id") or "" for c in repoints]
        _run(cur, "repoint", {"ids": ids, "pids": pids}, before=first())
        problems = []
        for ident, pid, is_actor, parent_exists, parent_parent, parent_is_actor in cur.fetchall():
            if not is_actor:
                problems.append(f"{ident} n'est pas un acteur importé")
            elif not parent_exists or parent_is_actor:
                problems.append(f"{ident} : le parent {pid or '(vide)'} n'existe pas")
            elif parent_parent is not None:
                problems.append(f"{ident} : le parent {pid} a lui-même un parent")
            else:
                problems.append(f"{ident} ne peut pas être son propre parent")
        if problems:
            raise ApplyError("; ".join(problems))

    # 2b. verifications: one query
    verifs = by_type[VERIFY]
    if verifs:
        _run(cur, "verify", {"ids": [c["identifiant_unique"] for c in verifs],
                             "pids": [c.get("parent_id") or "" for c in verifs]}, before=first())
        wrong = cur.fetchall()
        if wrong:
            raise ApplyError("; ".join(f"{i} devrait pointer vers {p} mais pointe vers {actual or '(aucun)'}"
                                       for i, p, actual in wrong))

    # 3. old parents: no children may be left, then one delete
    deletes = [c["identifiant_unique"] for c in by_type[DELETE]]
    if deletes:
        _run(cur, "delete_parents", {"ids": deletes}, before=first())
        rows = cur.fetchall()
        left = [(p, n) for kind, p, n in rows if kind == "left"]
        if left:
            raise ApplyError("; ".join(f"le parent {p} a encore {n} enfant(s)" for p, n in left))
        deleted = {p for kind, p, _ in rows if kind == "deleted"}
        missing = sorted(set(deletes) - deleted)
        if missing:
            raise ApplyError(f"parent(s) à supprimer introuvable(s) : {', '.join(missing)}")
    return {t: len(v) for t, v in by_type.items()}


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
        cur.execute(_RECOVER)
        n = cur.rowcount
    if n:
        log.warning("%s suggestion(s) left in 'applying' put back to 'approved'", n)
    return n


class _Savepoint:
    """Sends `savepoint apply_changes` with the first statement of a suggestion's changes."""

    def __init__(self):
        self.sent = False

    def prefix(self) -> str:
        if self.sent:
            return ""
        self.sent = True
        return "savepoint apply_changes; "


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
        _run(cur, "claim_and_state", {"id": sid, "keys": ["s"] * len(membres), "ids": membres},
             before="begin; set constraints all immediate; ")
        rows = cur.fetchall()
        if not rows or not rows[0][0]:
            cur.execute("rollback")
            return None
        if state_digest([r[2:] for r in rows if r[1] is not None]) != empreinte:
            _run(cur, "finish", {"id": sid, "statut": "stale",
                                 "erreur": "les acteurs ont changé depuis la suggestion"}, after="; commit")
            return "stale"
        savepoint = _Savepoint()
        try:
            apply_changes(cur, changes, savepoint)
        except Exception as exc:  # noqa: BLE001 - any error fails this suggestion, the run goes on
            message = str(exc).strip() or exc.__class__.__name__
            if not isinstance(exc, ApplyError):
                message = f"{exc.__class__.__name__}: {message}"
            _run(cur, "finish", {"id": sid, "statut": "failed", "erreur": message[:2000]},
                 before="rollback to savepoint apply_changes; " if savepoint.sent else "", after="; commit")
            log.warning("suggestion %s failed: %s", sid, message)
            return "failed"
        _run(cur, "finish", {"id": sid, "statut": "applied", "erreur": ""}, after="; commit")
        return "applied"


def _candidates(conn, after: int, batch: int) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(_CANDIDATES, {"after": after, "batch": batch})
        return cur.fetchall()


def apply_approved(conn_or_url=None, limit: int | None = None) -> dict:
    """Apply approved suggestions (at most `limit`); returns counts by outcome.

    `conn_or_url`: a psycopg2 connection (committed first, then used in autocommit mode and
    restored), a database URL, or None for the platform's database.
    """
    started = time.monotonic()
    counts = {"recovered": 0, "applied": 0, "stale": 0, "failed": 0}
    with _connection(conn_or_url) as conn:
        with conn.cursor() as cur:
            # a commit lost to a server crash only loses whole suggestions (they stay approved)
            cur.execute("set synchronous_commit = off")
        _prepare(conn)
        counts["recovered"] = recover_interrupted(conn)
        done, after = 0, 0
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
                after = batch[-1][0]
        except BaseException:
            if not conn.closed:
                with conn.cursor() as cur:
                    cur.execute("rollback")  # the explicit transaction of the suggestion under way
            raise
        finally:
            if not conn.closed:
                with conn.cursor() as cur:
                    cur.execute("reset synchronous_commit")
                _unprepare(conn)
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
