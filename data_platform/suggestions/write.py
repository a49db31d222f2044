"""Write a clustering run's cohort of suggestions (SPEC §3.1 step 7, docs/CONTRACTS.md).

Reads, for one run, in a handful of bulk queries:
  1. `dbt.cluster_changes` (validated typed records, `data_platform.changes.load_changes`);
  2. `cluster_membership` (département of each cluster);
  3. `cluster_pair` (scores and per-field details);
  4. `dbt.cluster_selection` (members' raw and normalized values), restricted to the run's actors;
  5. `acteur` ⊕ `revision_acteur` for the actors of the changes that were not selected (children
     of member parents, which follow their parent without being clustered themselves);
  6. the members' current state, for all clusters in one call (`fingerprint.data_fingerprints`);
  7. earlier suggestions with the same member sets (`empreinte_membres = any(...)`).
Everything is then built in Python with dicts, grouped once, and written in ONE transaction: the
cohort row, then every suggestion by COPY. A failure anywhere leaves nothing of the cohort.

Choices (documented here because reviewers and the report depend on them):
- `score` of a suggestion = the *lowest* score among the cluster's scored pairs (its weakest link:
  a reviewer filtering on score >= x sees clusters whose every scored pair reaches x); NULL when the
  run wrote no pair for the cluster.
- `membres` = sorted ids of every actor in the changes (the parent to be created included: its id
  is derived from the members, so it does not change the cluster's identity); `taille` = len(membres);
  `sources` = sorted distinct non-empty sources of those actors.
- `departement` = the cluster's département in `cluster_membership` (the most frequent one, ties by
  code), else the one in `dbt.cluster_selection`, else ''.
- Re-proposals: a cluster whose `empreinte_membres` AND `empreinte_donnees` equal those of an
  existing `to_review`/`approved`/`applying` suggestion is skipped (`skipped.pending`); equal to a
  `rejected` one, it is skipped too (`skipped.rejected`): a rejected cluster comes back only when
  its members or their data changed. `failed` and `stale` suggestions do not block a re-proposal
  (the reviewers get a fresh one).
- A `to_review` suggestion of an earlier cohort with the same members but other data than the
  members' current state is marked `stale`, whether or not the cluster is proposed again (its
  changes were computed on data that no longer holds), with a `suggestion_decision` row (decision
  `stale`, username = dag_id) so that the trail shows why it left the review queue.
  `approved` ones are left alone: the apply step re-checks the fingerprint and marks them stale.
- One cohort per run_id: writing again for a run whose cohort is untouched (every suggestion still
  `to_review`, no decision recorded) replaces it in the same transaction; a cohort that reviewers
  already worked on is never replaced: `CohortExistsError`.
- Counts (`suggestion_cohorte.compteurs`, also returned): `clusters` (clusters in the run's
  changes), `suggestions` and `acteurs` (written), `changes` per change type and `departements`
  (suggestions per département) over the written suggestions, `skipped` {pending, rejected},
  `stale` (earlier suggestions marked stale).
- The function commits its transaction itself (psycopg2 `with conn:`), so it also commits what the
  caller had pending on `conn`. `dry_run=True` reads and computes everything, writes nothing and
  leaves the connection's transaction to the caller.
- Output is deterministic: suggestions are written in cluster_id order, changes in (order,
  identifiant_unique) order, context members by id, pairs by (id_a, id_b), JSON keys in fixed order.
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from data_platform.changes import CHANGE_TYPES, CREATE, Change, load_changes, parent_of
from data_platform.db.connection import copy_rows
from data_platform.suggestions.fingerprint import data_fingerprints, members_key

PENDING_STATUSES = ("to_review", "approved", "applying")
REJECTED = "rejected"
# Serializes cohort writers so that two runs cannot both decide that a cluster is new.
ADVISORY_LOCK_KEY = 0x5_0667_E57  # arbitrary constant, "suggest"

RAW_FIELDS = ("acteur_type", "nom", "nom_commercial", "adresse", "code_postal", "ville", "siret", "telephone",
              "latitude", "longitude")
FLOAT_FIELDS = ("latitude", "longitude")
NORM_FIELDS = ("nom_norm", "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm",
               "siren_norm", "telephone_norm", "departement")
SUGGESTION_COLUMNS = ["cohorte_id", "cluster_id", "statut", "score", "departement", "taille", "sources", "membres",
                      "empreinte_membres", "empreinte_donnees", "changes", "contexte"]


class CohortExistsError(RuntimeError):
    """The run already has a cohort that reviewers worked on; it is never overwritten."""


@dataclass
class PlannedSuggestion:
    cluster_id: str
    score: float | None
    departement: str
    membres: list[str]
    sources: list[str]
    empreinte_membres: str
    empreinte_donnees: str
    changes: list[Change]
    contexte: dict

    @property
    def taille(self) -> int:
        return len(self.membres)

    def row(self, cohorte_id: int) -> tuple:
        return (cohorte_id, self.cluster_id, "to_review", self.score, self.departement, self.taille,
                _dumps(self.sources), _dumps(self.membres), self.empreinte_membres, self.empreinte_donnees,
                _dumps([c.to_json() for c in self.changes]), _dumps(self.contexte))


@dataclass
class Plan:
    clusters: int
    to_write: list[PlannedSuggestion] = field(default_factory=list)
    skipped_pending: list[str] = field(default_factory=list)
    skipped_rejected: list[str] = field(default_factory=list)
    stale_ids: list[int] = field(default_factory=list)

    def counts(self) -> dict:
        per_type = Counter(c.type for s in self.to_write for c in s.changes)
        per_dep = Counter(s.departement for s in self.to_write)
        return {
            "clusters": self.clusters,
            "suggestions": len(self.to_write),
            "acteurs": sum(s.taille for s in self.to_write),
            "changes": {t: per_type.get(t, 0) for t in CHANGE_TYPES},
            "departements": {d: per_dep[d] for d in sorted(per_dep)},
            "skipped": {"pending": len(self.skipped_pending), "rejected": len(self.skipped_rejected)},
            "stale": len(self.stale_ids),
        }


# ---------------------------------------------------------------- JSON helpers


def _num(value: Any) -> float | None:
    """A float read from the database, JSON-safe (jsonb refuses NaN/Infinity: they become null)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _dumps(value: Any) -> str:
    # Floats are made finite where they are read (_num); change data is validated finite.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))


def _as_dict(value: Any) -> dict:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    return dict(value) if isinstance(value, Mapping) else {}


# ---------------------------------------------------------------- bulk reads


def _fetch(conn, query: str, params: Sequence | Mapping | None = None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _read_membership(conn, run_id: str) -> dict[str, str]:
    """{cluster_id: département} (the most frequent département of the cluster's members, ties by code)."""
    deps: dict[str, Counter] = defaultdict(Counter)
    for cluster_id, dep in _fetch(conn, "select cluster_id::text, coalesce(departement, '') from cluster_membership "
                                        "where run_id = %s", (run_id,)):
        deps[cluster_id][dep] += 1
    return {cid: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for cid, c in deps.items()}


PAIRS_SQL = """
select cluster_id::text,
       json_agg(json_build_object(
           'id_a', id_a, 'id_b', id_b,
           'score', case when score in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) then null else score end,
           'fields', case when jsonb_typeof(details->'fields') = 'object' then details->'fields' else '{}'::jsonb end,
           'matched', case when jsonb_typeof(details->'matched') = 'array' then details->'matched' else '[]'::jsonb end,
           'distance_m', case when jsonb_typeof(details->'distance_m') = 'number' then details->'distance_m' end)
         order by id_a, id_b)::text
from cluster_pair where run_id = %s
group by cluster_id
"""


def _read_pairs(conn, run_id: str) -> dict[str, list[dict]]:
    """{cluster_id: [pair]}: the JSON of each cluster's pairs is built by PostgreSQL and parsed once per
    cluster (parsing every pair's jsonb separately dominated the writer's time at 500,000 actors)."""
    return {cluster_id: json.loads(text) for cluster_id, text in _fetch(conn, PAIRS_SQL, (run_id,))}


def _selection_columns(conn) -> set[str]:
    rows = _fetch(conn, "select column_name from information_schema.columns "
                        "where table_schema = 'dbt' and table_name = 'cluster_selection'")
    return {r[0] for r in rows}


def _read_selection(conn, run_id: str, ids: list[str]) -> dict[str, dict]:
    """{id: {source, est_parent, raw, norm}} from dbt.cluster_selection (absent table: {})."""
    columns = _selection_columns(conn)
    if "identifiant_unique" not in columns:
        return {}
    wanted = [c for c in ("source", "est_parent") + RAW_FIELDS + NORM_FIELDS if c in columns]
    # Column names come from the fixed lists above, never from data.
    query = (f"select identifiant_unique, {', '.join(wanted)} from dbt.cluster_selection "
             f"where identifiant_unique = any(%s)" + (" and run_id = %s" if "run_id" in columns else ""))
    params = (ids, run_id) if "run_id" in columns else (ids,)
    out = {}
    for row in _fetch(conn, query, params):
        values = dict(zip(wanted, row[1:]))
        out[row[0]] = {
            "source": values.get("source") or "",
            "est_parent": bool(values.get("est_parent")),
            "raw": {f: _num(values.get(f)) if f in FLOAT_FIELDS else values.get(f) for f in RAW_FIELDS},
            "norm": {f: values.get(f) for f in NORM_FIELDS},
        }
    return out


CONSOLIDATED_SQL = """
select w.id,
       coalesce(nullif(r.source, ''), a.source, ''),
       a.identifiant_unique is null and r.identifiant_unique is not null,
       coalesce(nullif(r.acteur_type, ''), a.acteur_type, ''),
       coalesce(nullif(r.nom, ''), a.nom, ''),
       coalesce(nullif(r.nom_commercial, ''), a.nom_commercial, ''),
       coalesce(nullif(r.adresse, ''), a.adresse, ''),
       coalesce(nullif(r.code_postal, ''), a.code_postal, ''),
       coalesce(nullif(r.ville, ''), a.ville, ''),
       coalesce(nullif(r.siret, ''), a.siret, ''),
       coalesce(nullif(r.telephone, ''), a.telephone, ''),
       coalesce(r.latitude, a.latitude),
       coalesce(r.longitude, a.longitude)
from unnest(%s::text[]) as w(id)
left join acteur a on a.identifiant_unique = w.id
left join revision_acteur r on r.identifiant_unique = w.id
where a.identifiant_unique is not null or r.identifiant_unique is not null
"""


def _read_consolidated(conn, ids: list[str]) -> dict[str, dict]:
    """Actors of the changes that were not selected (children following their parent): imported ⊕ revision."""
    if not ids:
        return {}
    out = {}
    for row in _fetch(conn, CONSOLIDATED_SQL, (ids,)):
        raw = dict(zip(RAW_FIELDS, row[3:]))
        raw.update((f, _num(raw[f])) for f in FLOAT_FIELDS)
        out[row[0]] = {"source": row[1], "est_parent": bool(row[2]), "raw": raw, "norm": {}}
    return out


def _read_existing(conn, run_id: str, keys: list[str]) -> list[tuple]:
    """(id, statut, empreinte_membres, empreinte_donnees) of other cohorts' suggestions with these member sets."""
    if not keys:
        return []
    return _fetch(conn, """
        select s.id, s.statut, s.empreinte_membres, s.empreinte_donnees
        from suggestion s join suggestion_cohorte c on c.id = s.cohorte_id
        where c.run_id <> %s and s.empreinte_membres = any(%s) and s.statut = any(%s)
        order by s.id
    """, (run_id, keys, list(PENDING_STATUSES) + [REJECTED]))


# ---------------------------------------------------------------- planning


def plan_suggestions(conn, run_id: str) -> Plan:
    """Read everything for the run and decide what to write (no writes)."""
    clusters = load_changes(conn, run_id)
    departements = _read_membership(conn, run_id)
    pairs = _read_pairs(conn, run_id)

    created = {parent_of(ch).identifiant_unique for ch in clusters.values() if parent_of(ch).type == CREATE}
    actor_ids = sorted({c.identifiant_unique for ch in clusters.values() for c in ch} - created)
    members = _read_selection(conn, run_id, actor_ids)
    members.update(_read_consolidated(conn, [i for i in actor_ids if i not in members]))

    membres = {cid: sorted(c.identifiant_unique for c in ch) for cid, ch in clusters.items()}
    empreintes_donnees = data_fingerprints(conn, membres)  # all clusters, one query
    empreintes_membres = {cid: members_key(ids) for cid, ids in membres.items()}

    existing_pending: set[tuple[str, str]] = set()
    existing_rejected: set[tuple[str, str]] = set()
    to_review_by_members: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for sid, statut, emp_m, emp_d in _read_existing(conn, run_id, sorted(set(empreintes_membres.values()))):
        if statut == REJECTED:
            existing_rejected.add((emp_m, emp_d))
        else:
            existing_pending.add((emp_m, emp_d))
        if statut == "to_review":
            to_review_by_members[emp_m].append((sid, emp_d))

    plan = Plan(clusters=len(clusters))
    stale: set[int] = set()
    for cluster_id, changes in clusters.items():
        key = (empreintes_membres[cluster_id], empreintes_donnees[cluster_id])
        # to_review suggestions of these members made on other data are outdated, whatever happens next
        stale.update(sid for sid, emp_d in to_review_by_members.get(key[0], ()) if emp_d != key[1])
        if key in existing_pending:
            plan.skipped_pending.append(cluster_id)
            continue
        if key in existing_rejected:
            plan.skipped_rejected.append(cluster_id)
            continue
        plan.to_write.append(_build(cluster_id, changes, membres[cluster_id], key, departements, pairs, members))
    plan.stale_ids = sorted(stale)
    return plan


def _build(cluster_id: str, changes: list[Change], membres: list[str], key: tuple[str, str],
           departements: Mapping[str, str], pairs: Mapping[str, list[dict]],
           members: Mapping[str, dict]) -> PlannedSuggestion:
    parent = parent_of(changes)
    cluster_pairs = pairs.get(cluster_id, [])
    scores = [p["score"] for p in cluster_pairs if p["score"] is not None]
    known = [(i, members[i]) for i in membres if i in members]
    departement = departements.get(cluster_id)
    if departement is None:
        deps = sorted({m["norm"].get("departement") or "" for _, m in known} - {""})
        departement = deps[0] if deps else ""
    contexte = {
        "membres": [{"identifiant_unique": i, "source": m["source"], "est_parent": m["est_parent"],
                     "raw": m["raw"], "norm": m["norm"]} for i, m in known],
        "paires": cluster_pairs,
        "parent": {"identifiant_unique": parent.identifiant_unique,
                   "action": "create" if parent.type == CREATE else "keep",
                   "data": dict(parent.data), "origine": dict(parent.origine)},
    }
    return PlannedSuggestion(
        cluster_id=cluster_id, score=min(scores) if scores else None, departement=departement,
        membres=membres, sources=sorted({m["source"] for _, m in known} - {""}),
        empreinte_membres=key[0], empreinte_donnees=key[1], changes=changes, contexte=contexte)


# ---------------------------------------------------------------- writing


def _replace_existing_cohort(cur, run_id: str) -> bool:
    """Delete the run's untouched cohort (True), raise if reviewers worked on it, False if none."""
    cur.execute("select id from suggestion_cohorte where run_id = %s for update", (run_id,))
    row = cur.fetchone()
    if row is None:
        return False
    cohorte_id = row[0]
    cur.execute("""
        select count(*) filter (where s.statut <> 'to_review'),
               count(*) filter (where exists (select 1 from suggestion_decision d where d.suggestion_id = s.id))
        from suggestion s where s.cohorte_id = %s
    """, (cohorte_id,))
    moved, decided = cur.fetchone()
    if moved or decided:
        raise CohortExistsError(
            f"run {run_id!r} already has cohort {cohorte_id} with {moved} suggestion(s) no longer to_review and "
            f"{decided} with decisions; it is not replaced. Start a new run to suggest again.")
    cur.execute("delete from suggestion where cohorte_id = %s", (cohorte_id,))
    cur.execute("delete from suggestion_cohorte where id = %s", (cohorte_id,))
    return True


def _run_defaults(conn, run_id: str) -> tuple[dict, str]:
    rows = _fetch(conn, "select params, dag_run_id from cluster_run where run_id = %s", (run_id,))
    if not rows:
        return {}, ""
    return _as_dict(rows[0][0]), rows[0][1] or ""


def write_suggestions(conn, run_id: str, *, dag_id: str = "cluster_acteurs", dag_run_id: str = "",
                      params: dict | None = None, dry_run: bool = False) -> dict:
    """Write the run's cohort and its suggestions in one transaction; return the counts.

    `params` defaults to `cluster_run.params` of the run, `dag_run_id` to its `dag_run_id`.
    The returned dict is the cohort's `compteurs` plus `cohorte_id` (None on a dry run),
    `dry_run` and `replaced` (an untouched cohort of the same run was replaced).
    """
    if params is None or not dag_run_id:
        run_params, run_dag_run_id = _run_defaults(conn, run_id)
        params = run_params if params is None else params
        dag_run_id = dag_run_id or run_dag_run_id

    if dry_run:
        counts = plan_suggestions(conn, run_id).counts()
        return {**counts, "cohorte_id": None, "dry_run": True, "replaced": False}

    with conn:  # one transaction: commit on success, rollback on any error
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            replaced = _replace_existing_cohort(cur, run_id)
        plan = plan_suggestions(conn, run_id)
        counts = plan.counts()
        with conn.cursor() as cur:
            if plan.stale_ids:
                cur.execute("""
                    with marked as (
                        update suggestion set statut = 'stale', modifie_le = now()
                        where id = any(%s) and statut = 'to_review'
                        returning id
                    )
                    insert into suggestion_decision
                        (suggestion_id, decision, username, statut_avant, statut_apres, commentaire, snapshot)
                    select id, 'stale', %s, 'to_review', 'stale', %s, '{}'::jsonb from marked
                """, (plan.stale_ids, dag_id,
                      f"données des acteurs modifiées ; nouvelle suggestion dans la cohorte du run {run_id}"))
            cur.execute("""
                insert into suggestion_cohorte (run_id, dag_id, dag_run_id, type_action, parametres, compteurs,
                                                statut, rapport_path)
                values (%s, %s, %s, 'clustering', %s, %s, 'done', '')
                returning id
            """, (run_id, dag_id, dag_run_id, _dumps(params or {}), _dumps(counts)))
            cohorte_id = cur.fetchone()[0]
        copy_rows(conn, "suggestion", SUGGESTION_COLUMNS, (s.row(cohorte_id) for s in plan.to_write))
    return {**counts, "cohorte_id": cohorte_id, "dry_run": False, "replaced": replaced}
