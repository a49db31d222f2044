"""Write a clustering run's cohort of suggestions (SPEC §3.1 step 7, docs/CONTRACTS.md).

The suggestions are assembled by dbt: the view `dbt.cluster_suggestions` (built by the `cluster_parents`
selector) gives, per cluster of the run, membres, taille, sources, score, département, changes, contexte
and empreinte_membres. This module is the re-proposal policy around it, in ONE transaction:
  1. the change records are validated in one bulk pass (`data_platform.changes.load_changes`);
  2. one statement plans the run: the view's rows, their data fingerprints (`fingerprint.digest_sql`,
     the definition apply uses) and what earlier suggestions say about them (pending, rejected);
  3. earlier `to_review` suggestions of the same members on other data become `stale`;
  4. the cohort row with its counts, then every suggestion by one `insert … select` from the plan.
A failure anywhere leaves nothing of the cohort.

Choices (documented here because reviewers and the report depend on them):
- `score` of a suggestion = the *lowest* score among the cluster's scored pairs (its weakest link:
  a reviewer filtering on score >= x sees clusters whose every scored pair reaches x); NULL when the
  run wrote no pair for the cluster.
- `membres` = sorted ids of every actor in the changes (the parent to be created included: its id
  is derived from the members, so it does not change the cluster's identity); `taille` = len(membres);
  `sources` = sorted distinct non-empty sources of those actors.
- `departement` = the cluster's département in `cluster_membership` (the most frequent one, ties by
  code), else the smallest one of its members in `dbt.cluster_selection`, else ''.
- The context of the actors of the changes that were not selected (children following their parent)
  comes from `dbt.int_acteur_consolide` (the consolidated layer), with `norm` = {}.
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
  identifiant_unique) order, context members by id, pairs by (id_a, id_b), ids in code-point order.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from data_platform.changes import CHANGE_TYPES, load_changes
from data_platform.cluster.params import RunParams
from data_platform.suggestions.fingerprint import digest_sql

PENDING_STATUSES = ("to_review", "approved", "applying")
REJECTED = "rejected"
# Serializes cohort writers (a clustering run's, the ingestion's real-time match's) so that two runs cannot both
# decide that a cluster is new: the second waits before planning. Only under READ COMMITTED does its plan then see
# what the first committed (each statement's snapshot is taken when it starts); under REPEATABLE READ the snapshot
# of the transaction's first statement would hide it, so the writer refuses any other isolation level.
ADVISORY_LOCK_KEY = 0x5_0667_E57  # arbitrary constant, "suggest"

SUGGESTION_COLUMNS = ["cluster_id", "score", "departement", "taille", "sources", "membres", "empreinte_membres",
                      "empreinte_donnees", "changes", "contexte"]


class CohortExistsError(RuntimeError):
    """The run already has a cohort that reviewers worked on; it is never overwritten."""


# The run's rows of the view, evaluated once into a temp table that is then analyzed: the view's
# chain of grouped joins makes the planner's row estimate explode (10^11 rows for 12,001 clusters at
# 50,000 actors), and a hash join sized for that estimate took 293 s instead of < 1 s (32,768 batches).
SOURCE_SQL = """
drop table if exists plan_source;
create temp table plan_source on commit drop as
    select * from dbt.cluster_suggestions where run_id = %(run_id)s;
analyze plan_source
"""

# The run's clusters (plan_source), their data fingerprints and what to do with each:
# 'pending' / 'rejected' (skipped: an earlier suggestion with both fingerprints) or 'write'.
PLAN_SQL = """
with fp as (
    """ + digest_sql("(select m.cluster_id as key, e.id from plan_source m "
                     "cross join jsonb_array_elements_text(m.membres) as e(id))") + """
),
earlier as (
    -- other cohorts' suggestions that block a re-proposal, one row per pair of fingerprints (hash-joined)
    select s.empreinte_membres, s.empreinte_donnees,
           bool_or(s.statut <> 'rejected') as pending, bool_or(s.statut = 'rejected') as rejected
    from suggestion s join suggestion_cohorte c on c.id = s.cohorte_id
    where c.run_id <> %(run_id)s and s.statut = any(%(blocking)s)
    group by s.empreinte_membres, s.empreinte_donnees
)
select m.*, fp.empreinte_donnees,
       case when e.pending then 'pending' when e.rejected then 'rejected' else 'write' end as decision
from plan_source m
join fp on fp.key = m.cluster_id
left join earlier e on e.empreinte_membres = m.empreinte_membres and e.empreinte_donnees = fp.empreinte_donnees
"""

# Earlier to_review suggestions of the run's member sets made on other data (whatever the plan decided).
STALE_SQL = """
select s.id from suggestion s join suggestion_cohorte c on c.id = s.cohorte_id
where c.run_id <> %(run_id)s and s.statut = 'to_review'
  and exists (select 1 from plan p where p.empreinte_membres = s.empreinte_membres
              and p.empreinte_donnees is distinct from s.empreinte_donnees)
"""

COUNTS_SQL = """
select (select count(*) from plan),
       (select count(*) from plan where decision = 'write'),
       (select coalesce(sum(taille), 0) from plan where decision = 'write'),
       (select coalesce(jsonb_object_agg(t, n), '{}'::jsonb) from (
            select c ->> 'type' as t, count(*) as n
            from plan cross join jsonb_array_elements(plan.changes) as c
            where decision = 'write' group by 1) x),
       (select coalesce(jsonb_object_agg(departement, n), '{}'::jsonb) from (
            select departement, count(*) as n from plan where decision = 'write' group by 1) x),
       (select count(*) from plan where decision = 'pending'),
       (select count(*) from plan where decision = 'rejected'),
       (select count(*) from (""" + STALE_SQL + """) x)
"""

MARK_STALE_SQL = """
with marked as (
    update suggestion set statut = 'stale', modifie_le = now()
    where id in (""" + STALE_SQL + """) and statut = 'to_review'
    returning id
),
decided as (
    insert into suggestion_decision
        (suggestion_id, decision, username, statut_avant, statut_apres, commentaire, snapshot)
    select id, 'stale', %(dag_id)s, 'to_review', 'stale', %(commentaire)s, '{}'::jsonb from marked
    returning 1
)
select count(*) from decided
"""

INSERT_SQL = """
insert into suggestion (cohorte_id, statut, """ + ", ".join(SUGGESTION_COLUMNS) + """)
select %(cohorte_id)s, 'to_review', """ + ", ".join(SUGGESTION_COLUMNS) + """
from plan where decision = 'write'
order by cluster_id collate "C"
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))


def _as_dict(value: Any) -> dict:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    return dict(value) if isinstance(value, Mapping) else {}


def _compteurs(row: tuple, stale: int | None = None) -> dict:
    clusters, suggestions, acteurs, per_type, per_dep, pending, rejected, stale_candidates = row
    per_type, per_dep = _as_dict(per_type), _as_dict(per_dep)
    return {
        "clusters": clusters,
        "suggestions": suggestions,
        "acteurs": int(acteurs),
        "changes": {t: int(per_type.get(t, 0)) for t in CHANGE_TYPES},
        "departements": {d: int(per_dep[d]) for d in sorted(per_dep)},
        "skipped": {"pending": pending, "rejected": rejected},
        "stale": stale_candidates if stale is None else stale,
    }


# The run's rows are new to the planner's statistics (autovacuum has not seen them yet): estimated at one
# row, the view's aggregates get nested loops and the plan turns quadratic (minutes at 12,000 clusters).
# Sampling the three relations first costs a fraction of a second.
ANALYZE_SQL = "analyze dbt.cluster_changes, cluster_membership, cluster_pair"


def plan_counts(conn, run_id: str) -> dict:
    """What writing the run would do (validates the changes; no writes): the cohort's `compteurs`."""
    load_changes(conn, run_id)
    with conn.cursor() as cur:
        _plan_source(cur, run_id)
        cur.execute("with plan as (" + PLAN_SQL + ") " + COUNTS_SQL, _bind(run_id))
        return _compteurs(cur.fetchone())


def _plan_source(cur, run_id: str) -> None:
    """Fresh statistics of the run's tables, then the run's rows of the view in `plan_source` (SOURCE_SQL)."""
    cur.execute(ANALYZE_SQL)
    cur.execute(SOURCE_SQL, _bind(run_id))


def _bind(run_id: str, **extra) -> dict:
    return {"run_id": run_id, "blocking": list(PENDING_STATUSES) + [REJECTED], **extra}


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
    """The run's stored parameters (`cluster_run.params`, as start_run wrote them: every key, validated by
    RunParams) and its dag_run_id; ({}, "") for a run without a row."""
    with conn.cursor() as cur:
        cur.execute("select params, dag_run_id from cluster_run where run_id = %s", (run_id,))
        row = cur.fetchone()
    if row is None:
        return {}, ""
    return _as_dict(row[0]), row[1] or ""


def write_suggestions(conn, run_id: str, *, dag_id: str = "cluster_acteurs", dag_run_id: str = "",
                      params: RunParams | Mapping | None = None, dry_run: bool = False) -> dict:
    """Write the run's cohort and its suggestions in one transaction; return the counts.

    `params` (RunParams, or its JSON form) is stored as the cohort's `parametres`; it defaults to
    `cluster_run.params` of the run as stored, `dag_run_id` to the run's `dag_run_id`.
    The returned dict is the cohort's `compteurs` plus `cohorte_id` (None on a dry run),
    `dry_run` and `replaced` (an untouched cohort of the same run was replaced).
    """
    if isinstance(params, RunParams):
        params = params.to_dict()
    if params is None or not dag_run_id:
        run_params, run_dag_run_id = _run_defaults(conn, run_id)
        params = run_params if params is None else params
        dag_run_id = dag_run_id or run_dag_run_id

    if dry_run:
        counts = plan_counts(conn, run_id)
        return {**counts, "cohorte_id": None, "dry_run": True, "replaced": False}

    with conn:  # one transaction: commit on success, rollback on any error
        with conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s), current_setting('transaction_isolation')",
                        (ADVISORY_LOCK_KEY,))
            isolation = cur.fetchone()[1]
            if isolation != "read committed":
                raise RuntimeError(f"write_suggestions needs a READ COMMITTED transaction, got {isolation!r}: "
                                   "its plan would not see a concurrent writer's suggestions")
            replaced = _replace_existing_cohort(cur, run_id)
        load_changes(conn, run_id)  # validation, one bulk pass: raises ChangeSetError listing every problem
        with conn.cursor() as cur:
            _plan_source(cur, run_id)
            cur.execute("create temp table plan on commit drop as " + PLAN_SQL, _bind(run_id))
            cur.execute(MARK_STALE_SQL, _bind(
                run_id, dag_id=dag_id,
                commentaire=f"données des acteurs modifiées ; nouvelle suggestion dans la cohorte du run {run_id}"))
            stale = cur.fetchone()[0]
            cur.execute(COUNTS_SQL, _bind(run_id))
            counts = _compteurs(cur.fetchone(), stale=stale)
            cur.execute("""
                insert into suggestion_cohorte (run_id, dag_id, dag_run_id, type_action, parametres, compteurs,
                                                statut, rapport_path)
                values (%s, %s, %s, 'clustering', %s, %s, 'done', '')
                returning id
            """, (run_id, dag_id, dag_run_id, _dumps(params or {}), _dumps(counts)))
            cohorte_id = cur.fetchone()[0]
            cur.execute(INSERT_SQL, {"cohorte_id": cohorte_id})
    return {**counts, "cohorte_id": cohorte_id, "dry_run": False, "replaced": replaced}
