"""Whole clustering pipeline at scale: generate N actors, run every stage (selection → suggestions).

    .venv/bin/python bench/bench_pipeline.py [--actors 500000] [--seed 7] [--keep]

Runs the DAG's stage sequence (`data_platform.pipeline.run_all`) in one process, in a scratch
database, and prints the seconds per stage the run recorded (`cluster_run.stage_seconds`), peak
memory of this process and of its children (dbt), and precision/recall/F1 against the generator's
ground truth.
"""
from __future__ import annotations

import json
import resource
import sys
import time

from _db import generate_actors, scale_arguments, use_bench_database

from data_platform.db.connection import connect, drop_database


def main() -> int:
    ap = scale_arguments()
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()

    url = use_bench_database("bench_pipeline")
    generate_actors(args.actors, args.seed)

    from data_platform.evaluate import evaluate_run
    from data_platform.pipeline import run_all

    run_id = "bench"
    t0 = time.perf_counter()
    summary = run_all(run_id)
    total = time.perf_counter() - t0
    with connect() as conn:
        with conn.cursor() as cur:
            cur.execute("select stage_seconds - 'partitions' from cluster_run where run_id = %s", (run_id,))
            stages = cur.fetchone()[0]
        quality = evaluate_run(conn, run_id, thresholds=[])
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sel = summary["selection"]
    print(f"selected actors: {sel['actors']} in {sel['partitions']} partitions; clusters: {summary['clusters']}")
    print(f"changes: {json.dumps(summary['changes'])}")
    print(f"suggestions: {summary['suggestions'].get('suggestions')}")
    order = ["select_normalize", "cluster", "parents_changes", "suggestions"]
    for stage in sorted(stages, key=lambda s: order.index(s) if s in order else len(order)):
        print(f"  {stage:<36} {stages[stage]:7.1f} s")
    print(f"  {'TOTAL selection → report':<36} {total:7.1f} s")
    print(f"peak RSS: this process {self_mb:.0f} MB, largest child (dbt) {child_mb:.0f} MB")
    print("quality: " + json.dumps({k: quality[k] for k in ("precision", "recall", "f1")}))
    if not args.keep:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
