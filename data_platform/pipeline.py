"""The clustering run, stage by stage: select → normalize → cluster → parents → changes → suggestions.

Each function is one stage; the Airflow DAG (dags/cluster_acteurs.py) maps one task to each, and
`dedupe-csv` / the tests call them in a row without a scheduler. Every stage reads what the previous
one wrote, in bulk, and records its duration in `cluster_run.stage_seconds`.
"""
from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path

from data_platform.cluster.params import validate_params, validate_run_id
from data_platform.db.connection import connect

log = logging.getLogger(__name__)

# dbt selectors of the two dbt stages (dbt_project/selectors.yml)
DBT_SELECT_SELECTION = ["--selector", "cluster_prepare"]
DBT_SELECT_PARENTS = ["--selector", "cluster_parents"]
DEFAULT_BATCHES = int(os.environ.get("DP_CLUSTER_BATCHES", "4"))


@contextmanager
def timed(run_id: str, stage: str):
    """Record the wall time of a stage in cluster_run.stage_seconds (one UPDATE)."""
    start = time.perf_counter()
    yield
    seconds = round(time.perf_counter() - start, 3)
    log.info("stage %s took %.2f s", stage, seconds)
    with connect() as conn, conn.cursor() as cur:
        cur.execute("update cluster_run set stage_seconds = stage_seconds || jsonb_build_object(%s, %s) "
                    "where run_id = %s", (stage, seconds, run_id))


def start_run(run_id: str, raw_params: dict | None, dag_run_id: str = "",
              departements_from_assets: list[str] | None = None) -> dict:
    """Validate parameters and (re)open the run. Departements announced by ingestion narrow the run."""
    validate_run_id(run_id)
    raw = dict(raw_params or {})
    if departements_from_assets and not raw.get("departements"):
        raw["departements"] = sorted(set(departements_from_assets))
    params = validate_params(raw)
    with connect() as conn, conn.cursor() as cur:
        cur.execute("delete from cluster_pair where run_id = %s", (run_id,))
        cur.execute("delete from cluster_membership where run_id = %s", (run_id,))
        cur.execute(
            """insert into cluster_run (run_id, dag_run_id, params, status, stage_seconds, report_path, started_at)
               values (%s, %s, %s, 'running', '{}'::jsonb, '', now())
               on conflict (run_id) do update set dag_run_id = excluded.dag_run_id, params = excluded.params,
                 status = 'running', stage_seconds = '{}'::jsonb, started_at = now(), finished_at = null""",
            (run_id, dag_run_id, json.dumps(params)))
    return params


def build_selection(run_id: str) -> dict:
    """dbt: consolidated layer, normalization, partitions, and the run's selection."""
    from data_platform.dbt_runner import run_dbt

    with timed(run_id, "select_normalize"):
        run_dbt(["build", *DBT_SELECT_SELECTION], vars={"run_id": run_id})
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select count(*), count(distinct departement) from dbt.cluster_selection")
        actors, partitions = cur.fetchone()
    return {"actors": actors, "partitions": partitions}


def plan(run_id: str, n_batches: int = DEFAULT_BATCHES) -> list[list[str]]:
    from data_platform.cluster.partition import plan_batches

    with connect() as conn:
        return plan_batches(conn, run_id, n_batches)


def cluster(run_id: str, departements: list[str]) -> dict:
    """Cluster a batch of partitions; merge per-partition timings into the run."""
    from data_platform.cluster.partition import cluster_batch

    params = load_params(run_id)
    start = time.perf_counter()
    result = cluster_batch(run_id, departements, params)
    seconds = round(time.perf_counter() - start, 3)
    partitions = result.get("partition_seconds") or {}
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            """update cluster_run set stage_seconds = stage_seconds
                 || jsonb_build_object('partitions', coalesce(stage_seconds->'partitions', '{}'::jsonb) || %s::jsonb)
                 || jsonb_build_object('cluster', coalesce((stage_seconds->>'cluster')::float, 0) + %s)
               where run_id = %s""",
            (json.dumps(partitions), seconds, run_id))
    return result


def build_parents(run_id: str) -> dict:
    """dbt: parent choice, parent data and the typed changes, for all clusters at once."""
    from data_platform.dbt_runner import run_dbt

    with timed(run_id, "parents_changes"):
        run_dbt(["build", *DBT_SELECT_PARENTS], vars={"run_id": run_id})
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select change_type, count(*) from dbt.cluster_changes where run_id = %s "
                    "group by 1 order by 1", (run_id,))
        return dict(cur.fetchall())


def write(run_id: str, dag_id: str = "cluster_acteurs", dag_run_id: str = "") -> dict:
    from data_platform.suggestions.write import write_suggestions

    params = load_params(run_id)
    with timed(run_id, "suggestions"), connect() as conn:
        counts = write_suggestions(conn, run_id, dag_id=dag_id, dag_run_id=dag_run_id, params=params,
                                   dry_run=params["dry_run"])
    return counts


def finish(run_id: str, counts: dict | None = None) -> dict:
    """Close the run and write its HTML report (counts: what `write` returned, e.g. for a dry run)."""
    from data_platform.report import write_report

    with connect() as conn:
        with conn.cursor() as cur:
            cur.execute("update cluster_run set status = 'done', finished_at = now() where run_id = %s", (run_id,))
        conn.commit()
        path = write_report(conn, run_id, counts=counts)
    log.info("run report: %s", path)
    return {"report": str(path)}


def load_params(run_id: str) -> dict:
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select params from cluster_run where run_id = %s", (validate_run_id(run_id),))
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"no clustering run {run_id!r}")
    return row[0]


def run_all(run_id: str, raw_params: dict | None = None, n_batches: int = DEFAULT_BATCHES) -> dict:
    """All stages in a row, without Airflow (dedupe-csv, tests, benchmarks)."""
    start_run(run_id, raw_params)
    summary: dict = {"selection": build_selection(run_id)}
    batches = plan(run_id, n_batches)
    results = [cluster(run_id, batch) for batch in batches]
    summary["clusters"] = sum(int(r.get("clusters", 0)) for r in results)
    summary["changes"] = build_parents(run_id)
    summary["suggestions"] = write(run_id)
    summary.update(finish(run_id, summary["suggestions"]))
    return summary


def report_path(run_id: str) -> Path | None:
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select report_path from cluster_run where run_id = %s", (run_id,))
        row = cur.fetchone()
    return Path(row[0]) if row and row[0] else None
