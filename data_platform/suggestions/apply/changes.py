"""One suggestion's changes: read back as the typed records of `data_platform.changes.records`,
grouped by type, each group applied with its one set-based statement (`statements.BY_TYPE`).

The order of application is the records' own (`CHANGE_TYPES`, then `sort_key`): parents created or
kept, then links repointed or verified, then the old parents deleted once no child is left.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from data_platform.changes.records import (
    CHANGE_TYPES,
    CREATE,
    DELETE,
    KEEP,
    UPDATE,
    VERIFY,
    Change,
    ChangeValidationError,
    change_from_json,
)
from data_platform.suggestions.apply.statements import BY_TYPE


class ApplyError(Exception):
    """A suggestion that cannot be applied as is (recorded in `suggestion.erreur`)."""


class Savepoint:
    """`savepoint apply_changes` sent with the first statement of a suggestion's changes (one round
    trip less); `sent` says whether there is one to roll back to."""

    ROLLBACK = "rollback to savepoint apply_changes; "

    def __init__(self):
        self.sent = False

    def prefix(self) -> str:
        if self.sent:
            return ""
        self.sent = True
        return "savepoint apply_changes; "


def group_changes(changes: list) -> dict[str, list[Change]]:
    """{change type: its records in order}, for every type of CHANGE_TYPES. Raises ApplyError when
    `changes` is not a list of valid change records (the message names the actor and field)."""
    if not isinstance(changes, list):
        raise ApplyError("changes n'est pas une liste")
    records = []
    for obj in changes:
        if not isinstance(obj, Mapping):
            raise ApplyError(f"changement invalide : {json.dumps(obj, ensure_ascii=False)[:200]}")
        try:
            records.append(change_from_json("suggestion", obj))
        except ChangeValidationError as exc:
            where = f"{exc.identifiant_unique!r}" + (f", champ {exc.field!r}" if exc.field else "")
            raise ApplyError(f"changement invalide ({where}) : {exc.problem}") from exc
    grouped: dict[str, list[Change]] = {t: [] for t in CHANGE_TYPES}
    for record in sorted(records, key=lambda c: c.sort_key):
        grouped[record.type].append(record)
    return grouped


def apply_changes(cur, changes: list, savepoint: Savepoint | None = None) -> dict[str, int]:
    """Apply one suggestion's changes (the JSON list) with set-based statements; returns the count
    per type. Raises ApplyError when they are invalid or cannot be applied as they are.

    `savepoint`: its prefix goes with the first statement."""
    grouped = group_changes(changes)

    def run(change_type: str, params: dict) -> None:
        cur.execute((savepoint.prefix() if savepoint is not None else "") + BY_TYPE[change_type], params)

    # 1. the parent: created or kept (one per cluster)
    for ch in grouped[CREATE]:
        run(CREATE, {"id": ch.identifiant_unique, "data": json.dumps(ch.data)})
        if cur.fetchone() is None:
            raise ApplyError(f"création du parent {ch.identifiant_unique} impossible : l'identifiant existe déjà")
    for ch in grouped[KEEP]:
        run(KEEP, {"id": ch.identifiant_unique, "data": json.dumps(ch.data)})
        if cur.fetchone() is None:
            raise ApplyError(f"parent conservé {ch.identifiant_unique} introuvable (ou n'est pas un parent)")

    # 2a. repoints: validated and written in one statement
    if grouped[UPDATE]:
        run(UPDATE, {"ids": [c.identifiant_unique for c in grouped[UPDATE]],
                     "pids": [c.parent_id for c in grouped[UPDATE]]})
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
    if grouped[VERIFY]:
        run(VERIFY, {"ids": [c.identifiant_unique for c in grouped[VERIFY]],
                     "pids": [c.parent_id for c in grouped[VERIFY]]})
        wrong = cur.fetchall()
        if wrong:
            raise ApplyError("; ".join(f"{i} devrait pointer vers {p} mais pointe vers {actual or '(aucun)'}"
                                       for i, p, actual in wrong))

    # 3. old parents: no children may be left, then one delete
    deletes = [c.identifiant_unique for c in grouped[DELETE]]
    if deletes:
        run(DELETE, {"ids": deletes})
        rows = cur.fetchall()
        left = [(p, n) for kind, p, n in rows if kind == "left"]
        if left:
            raise ApplyError("; ".join(f"le parent {p} a encore {n} enfant(s)" for p, n in left))
        missing = sorted(set(deletes) - {p for kind, p, _ in rows if kind == "deleted"})
        if missing:
            raise ApplyError(f"parent(s) à supprimer introuvable(s) : {', '.join(missing)}")
    return {t: len(v) for t, v in grouped.items()}
