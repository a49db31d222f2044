"""Reviewers' decisions on suggestions: approve, reject (with a reason), remove one member, undo the last
approval or rejection while it is still unapplied (SPEC §3.2, §6).

Every decision is a conditional UPDATE (`... WHERE statut = 'to_review'`): when two reviewers
decide at once, only one wins, the other is told the suggestion was no longer to review and
nothing changes. Each successful decision writes a `suggestion_decision` row with who, when,
what, the status before/after and a snapshot of what the reviewer was shown. An undo never deletes
that row: it sets its `annulee_le` and writes an `undo` row (who, when, which decision).

Needs Django set up (`data_platform.webapp.setup.setup_django`); the admin calls it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from data_platform.cluster.params import RunParams
from data_platform.suggestions.fingerprint import data_fingerprints, members_key
from data_platform.suggestions.parent_rules import rebuild_sql

TO_REVIEW = "to_review"
APPROVE, REJECT, REMOVE_MEMBER, UNDO = "approve", "reject", "remove_member", "undo"
TARGET = {APPROVE: "approved", REJECT: "rejected"}


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


def decide(ids, decision: str, user, commentaire: str = "", motif: str | None = None) -> Outcome:
    """Approve or reject suggestions that are still `to_review`; the others are refused, unchanged.
    `motif` (a `MotifRejet` code, rejections only) is stored with each decision row."""
    from django.db import connection, transaction

    from data_platform.webapp.suggestions.models import MotifRejet, SuggestionDecision

    if decision not in TARGET:
        raise ValueError(f"unknown decision {decision!r}")
    if motif is not None and (decision != REJECT or motif not in MotifRejet.values):
        raise ValueError(f"motif {motif!r}: one of {MotifRejet.values}, for a rejection only")
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
                               motif=motif, snapshot=snapshot(r))
            for r in rows])
    done = sorted(r["id"] for r in rows)
    refused = sorted(set(ids) - set(done))
    return Outcome(done=done, refused=refused)


class RemoveRefused(Exception):
    pass


class UndoRefused(Exception):
    def __init__(self, message: str, suggestion_id: int | None = None):
        super().__init__(message)
        self.suggestion_id = suggestion_id


@dataclass
class Undone:
    suggestion_id: int
    decision_id: int
    message: str


def undo(user, suggestion_id: int | None = None) -> Undone:
    """Undo the last decision (of `suggestion_id`, else the last one `user` made anywhere): the suggestion goes
    back to `to_review` with a conditional UPDATE (only while its status is still the one the decision set:
    an approval being applied or applied is never undone), the decision row gets `annulee_le` and an `undo`
    row records who undid what. Refused (UndoRefused, nothing changed) when there is nothing to undo, when the
    last decision is not an approval or a rejection (a removed member is not put back: reject instead), or
    when the suggestion moved on since (applied, applying, failed, stale)."""
    from django.db import connection, transaction
    from django.db.models.functions import Now

    from data_platform.webapp.suggestions.models import SuggestionDecision, SuggestionStatut

    labels = dict(SuggestionStatut.choices)
    with transaction.atomic():
        live = SuggestionDecision.objects.exclude(decision=UNDO).filter(annulee_le__isnull=True)
        live = live.filter(suggestion_id=suggestion_id) if suggestion_id is not None else live.filter(user=user)
        d = live.select_for_update().order_by("-decide_le", "-id").first()
        if d is None:
            raise UndoRefused("aucune décision à annuler", suggestion_id)
        sid = d.suggestion_id
        if d.decision not in TARGET:
            raise UndoRefused(f"la dernière décision sur la suggestion {sid} est « {d.get_decision_display()} » : "
                              "seules une approbation ou un rejet s'annulent", sid)
        with connection.cursor() as cur:
            cur.execute("update suggestion set statut = %s, modifie_le = now() where id = %s and statut = %s"
                        " returning id", [TO_REVIEW, sid, d.statut_apres])
            changed = cur.fetchone() is not None
            if not changed:
                cur.execute("select statut from suggestion where id = %s", [sid])
                row = cur.fetchone()
        if not changed:
            now = labels.get(row[0], row[0]) if row else "supprimée"
            raise UndoRefused(f"la suggestion {sid} n'est plus « {labels.get(d.statut_apres)} » (statut : {now}) :"
                              " trop tard pour annuler", sid)
        SuggestionDecision.objects.filter(pk=d.pk).update(annulee_le=Now())
        SuggestionDecision.objects.create(
            suggestion_id=sid, decision=UNDO, user=user, username=user.get_username(), statut_avant=d.statut_apres,
            statut_apres=TO_REVIEW, commentaire=f"annule la décision {d.pk} ({d.get_decision_display().lower()})",
            snapshot={"decision_annulee": d.pk, "decision": d.decision, "motif": d.motif})
    return Undone(sid, d.pk, f"Décision annulée : la suggestion {sid} est de nouveau à revoir.")


COORDINATES = {"latitude", "longitude"}  # one group: replaced together, never mixed


def _rebuild_parent(conn, parent: dict, members: list[dict], dropped: set[str], orphan_ids: list[str],
                    params: RunParams) -> tuple[dict, dict, str]:
    """The parent's fields whose value came from a dropped actor, chosen again among `members` by the rule of
    dbt's cluster_parent_data (macro parent_data, rendered by `parent_rules`), and the id of a parent created
    from `orphan_ids` (macro created_parent_id): one statement. Fields that came from a remaining actor are
    kept as they are (the context does not carry every copyable field)."""
    with conn.cursor() as cur:
        cur.execute(rebuild_sql(), {
            "priority": list(params.parent_source_priority),
            "excluded": list(params.parent_excluded_sources),
            "keep": params.keep_parent_data,
            "kept": parent.get("identifiant_unique") if parent.get("action") == "keep" else None,
            "membres": json.dumps(members), "ids": sorted(orphan_ids)})
        new_data, new_origine, created_id = cur.fetchone()
    new_data, new_origine = _loads(new_data) or {}, _loads(new_origine) or {}
    data = dict(parent.get("data") or {})
    origine = dict(parent.get("origine") or {})
    redo = {f for f, who in origine.items() if who in dropped}
    if redo & COORDINATES:
        redo |= COORDINATES
    for f in redo:
        data.pop(f, None)
        origine.pop(f, None)
        if f in new_data:
            data[f], origine[f] = new_data[f], new_origine[f]
    return data, origine, created_id


def remove_member(suggestion_id: int, member_id: str, user, commentaire: str = "") -> dict:
    """Remove one actor from a suggestion still to review; returns {"statut": ..., "message": ...}.

    `membres` follows the writer's convention (every actor of the changes, the parent to create
    included). Removing an orphan drops its change; removing a parent that was to be deleted
    drops its deletion and its children's repoints (they stay with it). The parent's data fields
    that came from a removed actor are chosen again among the others by the rule of dbt's
    cluster_parent_data (the same SQL: macros/parent_rules.sql, the cohort's parameters); a created
    parent's id follows the remaining actors (macro created_parent_id, as cluster_parent_choice). Then membres, taille, sources,
    score (weakest remaining pair), empreinte_membres and empreinte_donnees are recomputed.
    It stays `to_review` while it still merges something (a created parent with two actors or
    more, a kept parent with at least one actor joining it); otherwise it becomes `rejected`.

    Refused (RemoveRefused, nothing changed) when the suggestion is no longer to review, when the
    actor is the kept parent, the parent to create, or a child that only follows its parent, or
    when the actors changed since the suggestion was made (it is stale: reject it)."""
    from django.db import connection, transaction

    from data_platform.webapp.acteurs.models import RevisionActeur
    from data_platform.webapp.suggestions.models import Suggestion, SuggestionDecision

    with transaction.atomic():
        s = Suggestion.objects.select_for_update().select_related("cohorte").filter(pk=suggestion_id).first()
        if s is None:
            raise RemoveRefused("suggestion introuvable")
        if s.statut != TO_REVIEW:
            raise RemoveRefused(f"la suggestion n'est plus à revoir (statut : {s.get_statut_display()})")
        membres = list(s.membres or [])
        ctx = dict(s.contexte or {})
        parent = dict(ctx.get("parent") or {})
        parent_id = parent.get("identifiant_unique")
        changes = [dict(c) for c in (s.changes or [])]
        by_id = {c.get("identifiant_unique"): c for c in changes}
        if member_id not in membres and member_id not in by_id:
            raise RemoveRefused(f"{member_id} n'est pas membre de cette suggestion")
        if member_id == parent_id:
            raise RemoveRefused("c'est le parent existant conservé : rejetez la suggestion, ou retirez les autres "
                                "acteurs un par un" if parent.get("action") == "keep"
                                else "c'est le parent à créer, pas un acteur du cluster")
        member_parents = [c["identifiant_unique"] for c in changes
                          if c.get("type") in ("acteur_keep_as_parent", "acteur_delete_as_parent")]
        if by_id.get(member_id, {}).get("type") in ("acteur_update_parent_id", "acteur_verify_in_revision") \
                and RevisionActeur.objects.filter(identifiant_unique=member_id,
                                                  parent_id__in=member_parents).exists():
            raise RemoveRefused(f"{member_id} est l'enfant d'un parent du cluster et le suit : retirez son parent")
        if data_fingerprints(_raw(connection), {"s": membres})["s"] != s.empreinte_donnees:
            raise RemoveRefused("les acteurs ont changé depuis la suggestion (périmée) : rejetez-la")

        before = {"membres": s.membres, "changes": s.changes, "score": s.score, "taille": s.taille,
                  "parent": parent, "paires": ctx.get("paires")}
        dropped = {member_id}
        if by_id.get(member_id, {}).get("type") == "acteur_delete_as_parent":
            dropped |= set(RevisionActeur.objects.filter(parent_id=member_id).values_list("identifiant_unique",
                                                                                           flat=True))
        changes = [c for c in changes if c.get("identifiant_unique") not in dropped]
        ctx_members = [m for m in ctx.get("membres", []) if m.get("identifiant_unique") not in dropped]
        pairs = [p for p in ctx.get("paires", []) if not dropped & {p.get("id_a"), p.get("id_b")}]
        orphans = [c["identifiant_unique"] for c in changes if c.get("type") == "acteur_update_parent_id"]
        data, origine, created_id = _rebuild_parent(_raw(connection), parent, ctx_members, dropped, orphans,
                                                    RunParams.from_dict(_loads(s.cohorte.parametres) or {}))

        joining = [c["identifiant_unique"] for c in changes
                   if c.get("type") in ("acteur_update_parent_id", "acteur_delete_as_parent")]
        still_merges = len(joining) >= 2 if parent.get("action") == "create" else len(joining) >= 1
        new_pid = parent_id
        if parent.get("action") == "create" and still_merges:
            new_pid = created_id
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

        statut_apres = TO_REVIEW if still_merges else "rejected"
        new_membres = sorted({c["identifiant_unique"] for c in changes})
        s.membres = new_membres
        s.taille = len(new_membres)
        s.changes = changes
        s.contexte = ctx
        s.sources = sorted({m.get("source") for m in ctx_members if m.get("source")})
        scored = [p for p in pairs if p.get("score") is not None]
        weakest = min(scored, key=lambda p: (p["score"], p.get("id_a", ""), p.get("id_b", ""))) if scored else None
        s.score = weakest["score"] if weakest else s.score
        s.empreinte_membres = members_key(new_membres)
        s.empreinte_donnees = data_fingerprints(_raw(connection), {"s": new_membres})["s"]
        s.statut = statut_apres
        s.save()
        SuggestionDecision.objects.create(
            suggestion=s, decision=REMOVE_MEMBER, user=user, username=user.get_username(), statut_avant=TO_REVIEW,
            statut_apres=statut_apres, commentaire=commentaire or f"membre retiré : {member_id}",
            snapshot={**before, "membre_retire": member_id, "retires": sorted(dropped)})
    msg = (f"{member_id} retiré ; la suggestion reste à revoir" if statut_apres == TO_REVIEW
           else f"{member_id} retiré ; plus rien à fusionner : suggestion rejetée")
    if weakest is not None and statut_apres == TO_REVIEW:
        score = f"{weakest['score']:.3f}".replace(".", ",")
        msg += f" ; score recalculé : {score} (paire la plus faible : {weakest.get('id_a')} – {weakest.get('id_b')})"
    return {"statut": statut_apres, "message": msg, "score": s.score,
            "paire_faible": [weakest.get("id_a"), weakest.get("id_b")] if weakest else None}


def _raw(connection):
    """The psycopg2 connection under Django's (same transaction)."""
    connection.ensure_connection()
    return connection.connection
