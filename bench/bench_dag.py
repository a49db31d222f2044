"""The whole clustering DAG at scale, through Airflow with its executor (mapped tasks in parallel).

    .venv/bin/python bench/bench_dag.py [--actors 500000] [--seed 7] [--reuse]

Measured 2026-11-22 on this 2-core machine, 500,000 actors (seed 7): 165.7 s wall including Airflow
start-up, 157 s from validate_params to report; stages: select_normalize 33 s, cluster 137 s of task time
over 4 mapped batches run 2 at a time, parents_changes 24 s, suggestions 55 s; peak RSS 2.3 GB;
precision 0.9905, recall 0.9835.

Generates N actors into the scratch database `bench_dag` (or, with --reuse, keeps its actors and only
clears earlier suggestions), runs `airflow dags test cluster_acteurs --use-executor` (LocalExecutor,
AIRFLOW__CORE__PARALLELISM=4 unless set) and prints the wall time of the DAG run, the stage seconds the
run recorded, the peak memory of the largest process, and quality against the ground truth.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from _db import generate_actors, scale_arguments, use_bench_database

from data_platform import settings
from data_platform.db.connection import connect


def main() -> int:
    ap = scale_arguments()
    ap.add_argument("--reuse", action="store_true", help="keep the actors already in bench_dag")
    args = ap.parse_args()

    use_bench_database("bench_dag", fresh=False)
    if not args.reuse:
        generate_actors(args.actors, args.seed)
    with connect() as conn, conn.cursor() as cur:
        cur.execute("truncate suggestion_decision, suggestion, suggestion_cohorte, cluster_pair, "
                    "cluster_membership, cluster_run")
        cur.execute("select count(*) from acteur")
        print(f"actors in bench_dag: {cur.fetchone()[0]}")

    from data_platform.airflow_runner import airflow_executable, ensure_airflow_db, run_airflow

    # Executors run tasks in worker processes that talk to Airflow's Execution API: start an api-server.
    port = 8793
    os.environ.update({"AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
                       "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex()})
    ensure_airflow_db()
    api_log = open(settings.LOCAL_DIR / "bench_dag_api_server.log", "w")
    api = subprocess.Popen([airflow_executable(), "api-server", "--port", str(port)],
                           env={**os.environ, **settings.airflow_env()}, stdout=api_log, stderr=subprocess.STDOUT)
    try:
        import urllib.request

        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
                break
            except OSError:
                if time.time() > deadline or api.poll() is not None:
                    print("the api-server did not start; see .local/bench_dag_api_server.log")
                    return 1
                time.sleep(1)
        t = time.perf_counter()
        result = run_airflow(["dags", "test", "cluster_acteurs", "--use-executor"], check=False, capture=True)
        wall = time.perf_counter() - t
    finally:
        api.terminate()
        api.wait(timeout=30)
    log = settings.LOCAL_DIR / "bench_dag.log"
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        print(f"DAG run failed (exit {result.returncode}); log: {log}")
        return 1

    with connect() as conn, conn.cursor() as cur:
        cur.execute("select run_id, stage_seconds - 'partitions', started_at, finished_at from cluster_run")
        run_id, stages, started, finished = cur.fetchone()
        cur.execute("select compteurs->'suggestions', compteurs->'changes' from suggestion_cohorte")
        suggestions, changes = cur.fetchone()
    from data_platform.evaluate import evaluate_run

    with connect() as conn:
        quality = evaluate_run(conn, run_id, thresholds=[])
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"airflow dags test --use-executor: {wall:.1f} s wall (including Airflow start-up)")
    print(f"run from validate_params to report: {(finished - started).total_seconds():.1f} s")
    print(f"stage seconds recorded by the run: {json.dumps(stages)}")
    print(f"suggestions: {suggestions}; changes: {json.dumps(changes)}")
    print(f"peak RSS of the largest process: {child_mb:.0f} MB")
    print("quality: " + json.dumps({k: quality[k] for k in ("precision", "recall", "f1")}))
    print(f"log: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
