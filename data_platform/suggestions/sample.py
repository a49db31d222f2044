"""Build actors, cohorts and suggestions that follow docs/CONTRACTS.md, in bulk.

Used by the tests of the review admin and of the apply step, by bench/bench_apply.py and by the
browser test. Not used by the pipeline itself (the clustering DAG writes real suggestions).
"""
from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence

from psycopg2.extras import execute_values

from data_platform.db.connection import copy_rows
from data_platform.geo import distance_m as _distance_m
from data_platform.schema import ACTEUR_COLUMNS, REVISION_COLUMNS
from data_platform.suggestions.fingerprint import data_fingerprints, members_key

RAW_FIELDS = ["nom", "nom_commercial", "siret", "adresse", "adresse_complement", "code_postal", "ville",
              "latitude", "longitude", "telephone", "email", "url", "acteur_type"]
PARENT_FIELDS = ["nom", "nom_commercial", "siret", "adresse", "adresse_complement", "code_postal", "ville",
                 "latitude", "longitude", "telephone", "email", "url", "acteur_type"]


def acteur(ident: str, nom: str, source: str = "ecosystem", acteur_type: str = "commerce",
           code_postal: str = "75011", ville: str = "Paris", adresse: str = "", latitude: float | None = 48.857,
           longitude: float | None = 2.379, statut: str = "ACTIF", **extra) -> dict:
    row = {c: "" for c in ACTEUR_COLUMNS}
    row.update(identifiant_unique=ident, identifiant_externe=ident.split("_", 1)[-1], source=source,
               acteur_type=acteur_type, nom=nom, code_postal=code_postal, ville=ville, adresse=adresse,
               latitude=latitude, longitude=longitude, statut=statut)
    row.update(extra)
    return row


def insert_acteurs(conn, rows: Sequence[dict]) -> int:
    return copy_rows(conn, "acteur", ACTEUR_COLUMNS, ([r.get(c) for c in ACTEUR_COLUMNS] for r in rows))


def insert_revisions(conn, rows: Sequence[dict]) -> int:
    """Revision rows: parents (no source, statut ACTIF) and children (only parent_id set), in one COPY.

    Parents are written before children so that the (deferred) parent foreign key holds."""
    def full(r):
        base = {c: "" for c in REVISION_COLUMNS}
        base.update(latitude=None, longitude=None, source=None, acteur_type=None, parent_id=None)
        base.update(r)
        return [base[c] for c in REVISION_COLUMNS]
    ordered = sorted(rows, key=lambda r: r.get("parent_id") is not None)
    return copy_rows(conn, "revision_acteur", REVISION_COLUMNS, (full(r) for r in ordered))


def parent(ident: str, nom: str, **extra) -> dict:
    row = {"identifiant_unique": ident, "nom": nom, "statut": "ACTIF", "acteur_type": "commerce"}
    row.update(extra)
    return row


def create_cohorte(conn, run_id: str, dag_id: str = "cluster_acteurs", dag_run_id: str | None = None,
                   parametres: dict | None = None, compteurs: dict | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "insert into suggestion_cohorte (run_id, dag_id, dag_run_id, type_action, parametres, compteurs, statut)"
            " values (%s, %s, %s, 'clustering', %s, %s, 'done') returning id",
            (run_id, dag_id, dag_run_id or run_id, json.dumps(parametres or {"threshold": 0.75}),
             json.dumps(compteurs or {})))
        return cur.fetchone()[0]


def new_parent_id(member_ids: Iterable[str]) -> str:
    return "parent_" + hashlib.md5("|".join(sorted(member_ids)).encode()).hexdigest()[:24]


def distance_m(a: dict, b: dict) -> float | None:
    d = _distance_m((a.get("latitude"), a.get("longitude")), (b.get("latitude"), b.get("longitude")))
    return None if d is None else round(d, 1)


def _norm(s) -> str:
    return " ".join(str(s or "").lower().split())


def cluster_spec(members: Sequence[dict], score: float = 0.9, existing_parent: dict | None = None,
                 parent_children: dict[str, list[str]] | None = None, other_parents: Sequence[dict] = (),
                 departement: str | None = None) -> dict:
    """A suggestion for `members` (acteur dicts, orphans) following the contracts.

    Without `existing_parent` a parent is created (id from the sorted member ids); with it, that
    parent is kept and `parent_children[parent id]` are its children (verified); `other_parents`
    are parents not chosen (deleted, their children from `parent_children` repointed)."""
    parent_children = parent_children or {}
    all_members = list(members) + ([existing_parent] if existing_parent else []) + list(other_parents)
    member_ids = sorted(m["identifiant_unique"] for m in all_members)
    data, origine = {}, {}
    sources_order = list(members)
    for f in PARENT_FIELDS:
        for m in ([existing_parent] if existing_parent else []) + sources_order:
            v = m.get(f)
            if v not in (None, ""):
                data[f], origine[f] = v, m["identifiant_unique"]
                break
    changes = []
    if existing_parent:
        pid = existing_parent["identifiant_unique"]
        changes.append({"order": 1, "type": "acteur_keep_as_parent", "identifiant_unique": pid, "data": data})
        for child in parent_children.get(pid, []):
            changes.append({"order": 2, "type": "acteur_verify_in_revision", "identifiant_unique": child,
                            "parent_id": pid})
    else:
        pid = new_parent_id(member_ids)
        changes.append({"order": 1, "type": "acteur_create_as_parent", "identifiant_unique": pid, "data": data})
    for m in members:
        changes.append({"order": 2, "type": "acteur_update_parent_id", "identifiant_unique": m["identifiant_unique"],
                        "parent_id": pid})
    for op in other_parents:
        for child in parent_children.get(op["identifiant_unique"], []):
            changes.append({"order": 2, "type": "acteur_update_parent_id", "identifiant_unique": child,
                            "parent_id": pid})
        changes.append({"order": 3, "type": "acteur_delete_as_parent", "identifiant_unique": op["identifiant_unique"]})
    changes.sort(key=lambda c: (c["order"], c["identifiant_unique"]))

    ctx_members = []
    for m in all_members:
        is_parent = m is existing_parent or any(m is op for op in other_parents)
        ctx_members.append({
            "identifiant_unique": m["identifiant_unique"], "source": "" if is_parent else m.get("source", ""),
            "est_parent": is_parent,
            "raw": {f: m.get(f, "") for f in RAW_FIELDS},
            "norm": {"nom_norm": _norm(m.get("nom")), "adresse_norm": _norm(m.get("adresse")),
                     "ville_norm": _norm(m.get("ville")), "code_postal_norm": m.get("code_postal", "")},
        })
    ctx_members.sort(key=lambda m: m["identifiant_unique"])
    paires = []
    for a, b in itertools.combinations(sorted(all_members, key=lambda m: m["identifiant_unique"]), 2):
        fields = {f: (1.0 if _norm(a.get(f)) == _norm(b.get(f)) and a.get(f) else 0.5)
                  for f in ("nom", "adresse", "ville", "code_postal")}
        paires.append({"id_a": a["identifiant_unique"], "id_b": b["identifiant_unique"], "score": score,
                       "fields": fields, "matched": sorted(f for f, v in fields.items() if v >= 0.9),
                       "distance_m": distance_m(a, b)})
    sources = sorted({m.get("source") for m in members if m.get("source")})
    # the writer's convention: every actor of the changes, the parent to create included
    membres = sorted({c["identifiant_unique"] for c in changes})
    return {
        "cluster_id": "c_" + members_key(member_ids)[:12],
        "membres": membres, "taille": len(membres), "score": min(p["score"] for p in paires) if paires else score,
        "sources": sources,
        "departement": departement or (members[0].get("code_postal", "")[:2] if members else ""),
        "changes": changes,
        "contexte": {"membres": ctx_members, "paires": paires,
                     "parent": {"identifiant_unique": pid, "action": "keep" if existing_parent else "create",
                                "data": data, "origine": origine}},
    }


def add_suggestions(conn, cohorte_id: int, specs: Sequence[dict], statut: str = "to_review") -> list[int]:
    """Insert suggestions with their fingerprints computed now (one query for all), in one statement."""
    fps = data_fingerprints(conn, {str(i): s["membres"] for i, s in enumerate(specs)})
    rows = [(cohorte_id, s["cluster_id"], s.get("statut", statut), s["score"], s["departement"], s["taille"],
             json.dumps(s["sources"]), json.dumps(s["membres"]), members_key(s["membres"]), fps[str(i)],
             json.dumps(s["changes"]), json.dumps(s["contexte"]))
            for i, s in enumerate(specs)]
    with conn.cursor() as cur:
        result = execute_values(
            cur,
            "insert into suggestion (cohorte_id, cluster_id, statut, score, departement, taille, sources, membres,"
            " empreinte_membres, empreinte_donnees, changes, contexte) values %s returning id",
            rows, template="(%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s::jsonb, %s::jsonb)",
            page_size=1000, fetch=True)
    return [r[0] for r in result]
