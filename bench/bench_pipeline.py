"""Whole clustering pipeline at scale: generate N actors, run every stage (selection → suggestions).

    .venv/bin/python bench/bench_pipeline.py [--actors 500000] [--seed 7] [--keep]

Runs the same stage functions as the DAG's tasks (data_platform.pipeline), in one process, in a
scratch database, and prints seconds per stage, peak memory of this process and of its children
(dbt), and precision/recall/F1 against the generator's ground truth.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from data_platform import settings
from data_platform.db.connection import connect, drop_database, ensure_database


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()

    url = settings.with_database(settings.database_url(), "bench_pipeline")
    drop_database(url)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    env = {**os.environ}
    cli = [sys.executable, "-m", "data_platform.cli"]
    subprocess.run(cli + ["migrate"], check=True, env=env, stdout=subprocess.DEVNULL)
    t = time.perf_counter()
    subprocess.run(cli + ["generate", "--actors", str(args.actors), "--seed", str(args.seed)], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    print(f"generate + load {args.actors} actors: {time.perf_counter() - t:.1f} s")

    from data_platform import pipeline

    run_id = "bench"
    timings = {}
    peaks = {}

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t0 = time.perf_counter()
    pipeline.start_run(run_id, {})
    t = time.perf_counter()
    sel = pipeline.build_selection(run_id)
    timings["select_normalize (dbt)"] = time.perf_counter() - t
    peaks["select_normalize (dbt)"] = peak()
    t = time.perf_counter()
    batches = pipeline.plan(run_id)
    clusters = sum(int(pipeline.cluster(run_id, b).get("clusters", 0)) for b in batches)
    timings["cluster (all batches, sequential)"] = time.perf_counter() - t
    peaks["cluster (all batches, sequential)"] = peak()
    t = time.perf_counter()
    changes = pipeline.build_parents(run_id)
    timings["parents + changes (dbt)"] = time.perf_counter() - t
    peaks["parents + changes (dbt)"] = peak()
    t = time.perf_counter()
    counts = pipeline.write(run_id)
    timings["suggestions"] = time.perf_counter() - t
    peaks["suggestions"] = peak()
    t = time.perf_counter()
    pipeline.finish(run_id, counts)
    timings["report"] = time.perf_counter() - t
    peaks["report"] = peak()
    total = time.perf_counter() - t0

    from data_platform.evaluate import evaluate_run

    with connect() as conn:
        quality = evaluate_run(conn, run_id, thresholds=[])
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"selected actors: {sel['actors']} in {sel['partitions']} partitions; clusters: {clusters}")
    print(f"changes: {json.dumps(changes)}")
    print(f"suggestions: {counts.get('suggestions')}")
    for stage, seconds in timings.items():
        print(f"  {stage:<36} {seconds:7.1f} s   (peak RSS so far {peaks[stage]:.0f} MB)")
    print(f"  {'TOTAL selection → suggestions':<36} {total:7.1f} s")
    print(f"peak RSS: this process {self_mb:.0f} MB, largest child (dbt) {child_mb:.0f} MB")
    print("quality: " + json.dumps({k: quality[k] for k in ("precision", "recall", "f1")}))
    if not args.keep:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
