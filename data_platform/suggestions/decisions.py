"""Reviewers' decisions on suggestions: approve, reject, remove one member (SPEC §3.2, §6).

Every decision is a conditional UPDATE (`... WHERE statut = 'to_review'`): when two reviewers
decide at once, only one wins, the other is told the suggestion was no longer to review and
nothing changes. Each successful decision writes a `suggestion_decision` row with who, when,
what, the status before/after and a snapshot of what the reviewer was shown.

Needs Django set up (`data_platform.webapp.setup.setup_django`); the admin calls it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from data_platform.suggestions.fingerprint import data_fingerprints, members_key

TO_REVIEW = "to_review"
APPROVE, REJECT, REMOVE_MEMBER = "approve", "reject", "remove_member"
TARGET = {APPROVE: "approved", REJECT: "rejected"}
DEFAULT_PRIORITY = ["sinoe", "refashion", "ecosystem", "ecomaison", "corepile", "batribox", "aliapur", "cma",
                    "cyclevia", "ecodds", "cyclamed", "communaute"]


@dataclass
class Outcome:
    done: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    message: str = ""


def snapshot(row: dict) -> dict:
    """What the reviewer was shown when deciding."""
    ctx = row.get("contexte") or {}
    return {"membres": row.get("membres"), "changes": row.get("changes"), "score": row.get("score"),
            "taille": row.get("taille"), "parent": ctx.get("parent"), "paires": ctx.get("paires")}


def _loads(v):
    return json.loads(v) if isinstance(v, str) else v


def decide(ids, decision: str, user, commentaire: str = "") -> Outcome:
    """Approve or reject suggestions that are still `to_review`; the others are refused, unchanged."""
    from django.db import connection, transaction

    from data_platform.webapp.suggestions.models import SuggestionDecision

    if decision not in TARGET:
        raise ValueError(f"unknown decision {decision!r}")
    ids = sorted({int(i) for i in ids})
    target = TARGET[decision]
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(
                "update suggestion set statut = %s, modifie_le = now()"
                " where id = any(%s) and statut = %s"
                " returning id, membres, changes, score, taille, contexte",
                [target, ids, TO_REVIEW])
            rows = [dict(zip(["id", "membres", "changes", "score", "taille", "contexte"], r)) for r in cur.fetchall()]
        for r in rows:
            for k in ("membres", "changes", "contexte"):
                r[k] = _loads(r[k])
        SuggestionDecision.objects.bulk_create([
            SuggestionDecision(suggestion_id=r["id"], decision=decision, user=user, username=user.get_username(),
                               statut_avant=TO_REVIEW, statut_apres=target, commentaire=commentaire,
                               snapshot=snapshot(r))
            for r in rows])
    done = sorted(r["id"] for r in rows)
    refused = sorted(set(ids) - set(done))
    return Outcome(done=done, refused=refused)


class RemoveRefused(Exception):
    pass


def _rebuild_parent_data(parent: dict, members: list[dict], removed: str, params: dict) -> tuple[dict, dict]:
    """Fields whose value came from the removed member: next non-empty value by source priority."""
    data = dict(parent.get("data") or {})
    origine = dict(parent.get("origine") or {})
    priority = list(params.get("parent_source_priority") or DEFAULT_PRIORITY)
    excluded = set(params.get("parent_excluded_sources") or [])

    def rank(m):
        if m.get("est_parent"):
            return (-1 if params.get("keep_parent_data", True) else len(priority) + 1, m["identifiant_unique"])
        src = m.get("source") or ""
        return (priority.index(src) if src in priority else len(priority), m["identifiant_unique"])

    candidates = sorted((m for m in members if (m.get("source") or "") not in excluded or m.get("est_parent")),
                        key=rank)
    for f in [f for f, who in origine.items() if who == removed]:
        data.pop(f, None)
        origine.pop(f, None)
        for m in candidates:
            v = (m.get("raw") or {}).get(f)
            if v not in (None, ""):
                data[f], origine[f] = v, m["identifiant_unique"]
                break
    return data, origine


def _recomputed_score(old_score, old_pairs, new_pairs):
    if not new_pairs:
        return old_score
    scores = [p.get("score") for p in new_pairs if p.get("score") is not None]
    if not scores:
        return old_score
    old = [p.get("score") for p in old_pairs if p.get("score") is not None]
    if old and old_score is not None and abs(sum(old) / len(old) - old_score) < 1e-6 \
            and abs(min(old) - old_score) > 1e-6:
        return sum(scores) / len(scores)  # the cohort's score is the mean of its pairs
    return min(scores)  # otherwise the weakest link


def remove_member(suggestion_id: int, member_id: str, user, commentaire: str = "") -> dict:
    """Remove one actor from a suggestion still to review; returns {"statut": ..., "message": ...}.

    The member's own change goes, and so do its children's when it was a parent not chosen (they
    stay with it); the parent's data fields that came from it are chosen again among the others;
    a created parent's id follows the remaining members. Two or more left: still to review;
    fewer: rejected. Refused (RemoveRefused, nothing changed) when the suggestion is no longer to
    review, when the member is the existing parent kept, or when the actors changed meanwhile."""
    from django.db import connection, transaction

    from data_platform.suggestions.sample import new_parent_id
    from data_platform.webapp.acteurs.models import RevisionActeur
    from data_platform.webapp.suggestions.models import Suggestion, SuggestionDecision

    with transaction.atomic():
        s = Suggestion.objects.select_for_update().select_related("cohorte").filter(pk=suggestion_id).first()
        if s is None:
            raise RemoveRefused("suggestion introuvable")
        if s.statut != TO_REVIEW:
            raise RemoveRefused(f"la suggestion n'est plus à revoir (statut : {s.get_statut_display()})")
        membres = list(s.membres or [])
        if member_id not in membres:
            raise RemoveRefused(f"{member_id} n'est pas membre de cette suggestion")
        ctx = dict(s.contexte or {})
        parent = dict(ctx.get("parent") or {})
        parent_id = parent.get("identifiant_unique")
        if parent.get("action") == "keep" and member_id == parent_id:
            raise RemoveRefused("c'est le parent existant conservé : rejetez la suggestion, ou retirez les autres "
                                "membres un par un")
        fp_now = data_fingerprints(_raw(connection), {"s": membres})["s"]
        if fp_now != s.empreinte_donnees:
            raise RemoveRefused("les acteurs ont changé depuis la suggestion (périmée) : rejetez-la")

        before = {"membres": s.membres, "changes": s.changes, "score": s.score, "taille": s.taille,
                  "parent": parent, "paires": ctx.get("paires")}
        ctx_members = [m for m in ctx.get("membres", []) if m.get("identifiant_unique") != member_id]
        removed_ctx = next((m for m in ctx.get("membres", []) if m.get("identifiant_unique") == member_id), {})
        remaining = [m for m in membres if m != member_id]
        changes = list(s.changes or [])

        dropped = {member_id}
        if removed_ctx.get("est_parent") or any(c.get("type") == "acteur_delete_as_parent"
                                                and c.get("identifiant_unique") == member_id for c in changes):
            non_members = [c["identifiant_unique"] for c in changes
                           if c.get("type") == "acteur_update_parent_id" and c["identifiant_unique"] not in membres]
            dropped |= set(RevisionActeur.objects.filter(parent_id=member_id, identifiant_unique__in=non_members)
                           .values_list("identifiant_unique", flat=True))
        changes = [c for c in changes if c.get("identifiant_unique") not in dropped]

        pairs = [p for p in ctx.get("paires", []) if member_id not in (p.get("id_a"), p.get("id_b"))]
        data, origine = _rebuild_parent_data(parent, ctx_members, member_id, s.cohorte.parametres or {})
        new_pid = parent_id
        if parent.get("action") == "create" and len(remaining) >= 2:
            new_pid = new_parent_id(remaining)
        for c in changes:
            if c.get("type") in ("acteur_create_as_parent", "acteur_keep_as_parent"):
                c["data"] = data
                if c["type"] == "acteur_create_as_parent":
                    c["identifiant_unique"] = new_pid
            elif c.get("parent_id") == parent_id:
                c["parent_id"] = new_pid
        changes.sort(key=lambda c: (int(c.get("order", 0)), str(c.get("identifiant_unique"))))
        parent.update(identifiant_unique=new_pid, data=data, origine=origine)
        ctx.update(membres=ctx_members, paires=pairs, parent=parent)

        statut_apres = TO_REVIEW if len(remaining) >= 2 else "rejected"
        s.membres = remaining
        s.taille = len(remaining)
        s.changes = changes
        s.contexte = ctx
        s.sources = sorted({m.get("source") for m in ctx_members if m.get("source")}
                           | set(_sources_of_children(changes, remaining)))
        s.score = _recomputed_score(s.score, before["paires"] or [], pairs)
        s.empreinte_membres = members_key(remaining)
        s.empreinte_donnees = data_fingerprints(_raw(connection), {"s": remaining})["s"]
        s.statut = statut_apres
        s.save()
        SuggestionDecision.objects.create(
            suggestion=s, decision=REMOVE_MEMBER, user=user, username=user.get_username(), statut_avant=TO_REVIEW,
            statut_apres=statut_apres, commentaire=commentaire or f"membre retiré : {member_id}",
            snapshot={**before, "membre_retire": member_id})
    msg = (f"{member_id} retiré ; {len(remaining)} membres restent à revoir" if statut_apres == TO_REVIEW
           else f"{member_id} retiré ; moins de deux membres restent : suggestion rejetée")
    return {"statut": statut_apres, "message": msg}


def _raw(connection):
    """The psycopg2 connection under Django's (same transaction)."""
    connection.ensure_connection()
    return connection.connection


def _sources_of_children(changes, members):
    """Sources of children that follow a member parent (not members themselves)."""
    from data_platform.webapp.acteurs.models import Acteur

    kids = [c["identifiant_unique"] for c in changes
            if c.get("type") in ("acteur_update_parent_id", "acteur_verify_in_revision")
            and c["identifiant_unique"] not in members]
    if not kids:
        return []
    return list(Acteur.objects.filter(identifiant_unique__in=kids).values_list("source_id", flat=True).distinct())
