"""The clustering DAG with the LocalExecutor, then with the CeleryExecutor and two local workers.

    .venv/bin/python bench/bench_executors.py [--actors 20000] [--seed 7] [--batches 4] [--concurrency 1]

Generates N actors into the scratch database `bench_executors`, starts Debian's redis-server and an
api-server on free ports of this checkout's range (DP_EMBEDDED_PORT+1 …), runs `airflow dags test
cluster_acteurs --use-executor` with the LocalExecutor (AIRFLOW__CORE__PARALLELISM, 4 unless set), then
with two `airflow celery worker`s (--concurrency each), and prints for each: the wall time of the DAG
run, the clustering stage's wall time (first batch start → last batch end, from the task instances),
its task time, each batch's worker, seconds and peak RSS, and whether both cohorts are equal.
The process helpers are the Celery test's (tests/dags/test_celery_executor.py).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _db import generate_actors, use_bench_database

from tests.dags import test_celery_executor as C


def _batches(database_url: str, run_id: str) -> list[dict]:
    from data_platform import settings
    from data_platform.db.connection import connect

    with connect(settings.airflow_database_url(database_url)) as conn, conn.cursor() as cur:
        cur.execute("select map_index, hostname, start_date, end_date from task_instance "
                    "where dag_id = 'cluster_acteurs' and task_id = 'cluster_partitions' and run_id = %s "
                    "order by map_index", (run_id,))
        return [{"map_index": i, "host": h, "start": s, "end": e} for i, h, s, e in cur.fetchall()]


def _measure(db, database_url: str, env: dict, logs: Path, name: str, batches: int) -> dict:
    C.BATCHES = batches
    t = time.perf_counter()
    C._dag_test(env, logs, name)
    wall = time.perf_counter() - t
    run_id = C._latest_run(db)
    with db.cursor() as cur:
        cur.execute("select stage_seconds - 'partitions', started_at, finished_at from cluster_run where run_id = %s",
                    (run_id,))
        stages, started, finished = cur.fetchone()
    db.commit()
    tis = _batches(database_url, run_id)
    rss = stages.get("batch_peak_rss_mb", {})
    return {"name": name, "run_id": run_id, "dag_test_wall_s": round(wall, 1),
            "run_s": round((finished - started).total_seconds(), 1),
            "cluster_stage_wall_s": round((max(b["end"] for b in tis) - min(b["start"] for b in tis)).total_seconds(), 1),
            "cluster_task_s": stages.get("cluster"), "select_normalize_s": stages.get("select_normalize"),
            "batches": [(b["host"], round((b["end"] - b["start"]).total_seconds(), 1)) for b in tis],
            "batch_peak_rss_mb": rss, "cohort": C._cohort(db, run_id)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=1, help="tasks at once per Celery worker")
    ap.add_argument("--reuse", action="store_true", help="keep the actors already in bench_executors")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per DAG run")
    args = ap.parse_args()
    C.DAG_TEST_TIMEOUT = args.timeout

    url = use_bench_database("bench_executors", fresh=not args.reuse)
    if not args.reuse:
        generate_actors(args.actors, args.seed)
    from data_platform import settings
    from data_platform.airflow_runner import ensure_airflow_db
    from data_platform.db.connection import connect

    os.environ.update(settings.airflow_env(url))
    ensure_airflow_db(url)
    logs = settings.LOCAL_DIR / "bench_executors"
    logs.mkdir(parents=True, exist_ok=True)
    procs = C.Processes(logs)
    used = {int(settings.url_parts(url)["port"])}
    results = []
    with ExitStack() as stack, connect(url) as db:
        stack.callback(procs.stop)
        with db.cursor() as cur:
            cur.execute("truncate suggestion_decision, suggestion, suggestion_cohorte, cluster_pair, "
                        "cluster_membership, cluster_run")
        db.commit()
        broker = stack.enter_context(C._redis(procs, used))
        api_port = C._free_port(used)
        used.add(api_port)
        jwt = {"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16)}
        procs.start("api-server", [C._airflow(), "api-server", "--port", str(api_port)],
                    {**C._airflow_env(url, "LocalExecutor", api_port, broker), **jwt})

        def api_ready() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=2)
                return True
            except OSError:
                return False

        C._wait("api-server", api_ready, 240, procs, "api-server")
        local_env = {**C._airflow_env(url, "LocalExecutor", api_port, broker), **jwt}
        results.append(_measure(db, url, local_env, logs, "local", args.batches))
        with db.cursor() as cur:
            cur.execute("truncate suggestion_decision, suggestion, suggestion_cohorte")
        db.commit()
        celery_env = {**C._airflow_env(url, "CeleryExecutor", api_port, broker), **jwt,
                      "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(args.concurrency)}
        for name in C.WORKERS:
            procs.start(name, [C._airflow(), "celery", "worker", "--celery-hostname", f"{name}@%h",
                               "--concurrency", str(args.concurrency), "--skip-serve-logs"],
                        {**celery_env, "DP_TEST_WORKER_NAME": name})
        for name in C.WORKERS:
            C._wait(f"worker {name}", lambda n=name: " ready." in procs.log(n), 240, procs, name)
        results.append(_measure(db, url, celery_env, logs, "celery", args.batches))
    local, celery = results
    print(f"{args.actors} actors (seed {args.seed}), {args.batches} batches; LocalExecutor parallelism "
          f"{os.environ.get('AIRFLOW__CORE__PARALLELISM', '4')}; 2 Celery workers × concurrency {args.concurrency}")
    for r in results:
        print(json.dumps({k: v for k, v in r.items() if k != "cohort"}, default=str))
    same = local["cohort"] == celery["cohort"]
    print(f"cohorts equal: {same} ({len(local['cohort']['members'])} memberships, "
          f"{len(local['cohort']['suggestions'])} suggestions)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
