"""`make demo`: database, realistic demo data, the clustering DAG through Airflow, a summary."""
from __future__ import annotations

import argparse
import json
import os
import time

from data_platform import settings


def _step(title: str) -> float:
    print(f"\n==> {title}", flush=True)
    return time.perf_counter()


def _done(start: float) -> None:
    print(f"    ({time.perf_counter() - start:.1f} s)", flush=True)


def _demo_ingestion(rows: int) -> None:
    """Ingest every configured source from the replay server twice: the second run changes nothing.

    A side database keeps the clustering demo intact: the generated actors are not in the replay
    feeds, and ingestion rightly marks actors that vanished from their feed SUPPRIME."""
    from data_platform.db.scratch import scratch_database
    from data_platform.ingest.client import RetryPolicy
    from data_platform.ingest.pipeline import IngestOptions, ingest
    from data_platform.ingest.replay_server import ReplayServer

    with ReplayServer(rows=rows) as server, scratch_database("demo_ingest") as url:
        opts = IngestOptions(base_url=server.base_url, policy=RetryPolicy(), database_url=url)
        for attempt in ("first run", "second run"):
            results = ingest(None, opts)
            print(f"    {attempt}:")
            for r in results:
                print(f"      {r.source:<10} {r.status:<8} read {r.rows_read:>6}, rejected {r.rows_rejected:>4}, "
                      f"new {r.inserted:>6}, changed {r.updated:>5}, gone {r.deleted:>5}  {r.message}")


def run(args) -> int:
    """The demo, on the database the entry point resolved (DATABASE_URL or the embedded server)."""
    from data_platform.db.connection import connect
    from data_platform.generate.cli import run as generate

    t0 = time.perf_counter()
    t = _step("Database")
    url = settings.database_url()
    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else \
        "embedded PostgreSQL in .local/pg (stop it with `make stop`)"
    parts = settings.url_parts(url)
    print(f"    {parts['host']}:{parts['port']}/{parts['dbname']} ({where})")
    from data_platform.db.migrate import migrate

    migrate()
    _done(t)

    t = _step(f"Demo data: {args.actors} actors (seed {args.seed})")
    if generate(argparse.Namespace(actors=args.actors, seed=args.seed, out=None, append=False)) != 0:
        return 1
    _done(t)

    t = _step("Ingestion from a local data-fair replay server (into a side database)")
    _demo_ingestion(rows=args.ingest_rows)
    _done(t)

    t = _step("Clustering DAG `cluster_acteurs` through Airflow (airflow dags test)")
    from data_platform.airflow_runner import run_airflow

    result = run_airflow(["dags", "test", "cluster_acteurs"], check=False, capture=True)
    log_path = settings.LOCAL_DIR / "demo_cluster_dag.log"
    log_path.write_text((result.stdout or "") + (result.stderr or ""))
    if result.returncode != 0:
        print(f"    the DAG run failed; its log: {log_path}")
        print("\n".join((result.stdout + result.stderr).splitlines()[-40:]))
        return result.returncode
    print(f"    DAG log: {log_path}")
    _done(t)

    with connect() as conn, conn.cursor() as cur:
        cur.execute("select run_id, stage_seconds, report_path from cluster_run order by started_at desc limit 1")
        run_id, stages, report = cur.fetchone()
        cur.execute("select compteurs from suggestion_cohorte where run_id = %s", (run_id,))
        row = cur.fetchone()
        counts = row[0] if row else {}
        cur.execute("select statut, count(*) from suggestion group by 1 order by 1")
        statuses = dict(cur.fetchall())

    t = _step("Quality against the generator's ground truth")
    from data_platform.evaluate import evaluate_run

    with connect() as conn:
        quality = evaluate_run(conn, run_id, thresholds=[])
    print("    " + json.dumps({k: quality[k] for k in ("precision", "recall", "f1") if k in quality}))
    _done(t)

    print("\n==> Summary")
    print(f"    run: {run_id}")
    partitions = stages.pop("partitions", {}) or {}
    slowest = sorted(partitions.items(), key=lambda kv: -kv[1])[:5]
    print(f"    stage seconds: {json.dumps(stages)}")
    print(f"    slowest partitions: {', '.join(f'{d} {s:.2f}s' for d, s in slowest)}")
    print(f"    clusters: {counts.get('clusters')}, suggestions written: {counts.get('suggestions')}, "
          f"skipped: {json.dumps(counts.get('skipped', {}))}")
    print(f"    changes: {json.dumps(counts.get('changes', {}))}")
    print(f"    suggestions by status: {json.dumps(statuses)}")
    from data_platform.report.run_report import report_url

    print(f"    run report: {report_url(run_id)} (served by `make admin`; a file copy: {report})")
    print(f"    total: {time.perf_counter() - t0:.1f} s")
    print("\nNext:")
    print("    make admin                      # review the suggestions (prints a reviewer login)")
    print("    .venv/bin/data-platform evaluate   # precision/recall table over thresholds")
    print("    .venv/bin/data-platform airflow dags test apply_suggestions   # apply approved ones")
    print("    make test                       # the test suite")
    return 0
