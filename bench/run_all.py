"""`make bench`: every benchmark in a row, each in its own process; prints their output and a summary.

    .venv/bin/python bench/run_all.py            # quick sizes (a few minutes): checks they all run
    .venv/bin/python bench/run_all.py --full     # the sizes of the README's figures (tens of minutes)
    .venv/bin/python bench/run_all.py --only bench_ingest --only bench_apply

The Airflow one (bench_dag.py) is included with --dag: it starts an api-server and runs the DAG.
Returns non-zero when a benchmark failed.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, quick arguments); --full runs each script with its own defaults
BENCHES = [
    ("bench_generate.py", ["--actors", "5000", "--db", "bench_generate_quick"]),
    ("bench_cluster.py", ["--actors", "5000", "--jobs", "1"]),
    ("bench_pipeline.py", ["--actors", "5000"]),
    ("bench_ingest.py", ["--rows", "5000", "--db", "dp_bench_ingest_quick"]),
    ("bench_apply.py", ["--suggestions", "200"]),
]
DAG_BENCH = ("bench_dag.py", ["--actors", "5000"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="each benchmark's default (large) sizes")
    ap.add_argument("--dag", action="store_true", help="also the DAG through Airflow (bench_dag.py)")
    ap.add_argument("--only", action="append", help="a benchmark's name (repeatable), e.g. bench_ingest")
    args = ap.parse_args(argv)
    benches = BENCHES + ([DAG_BENCH] if args.dag else [])
    if args.only:
        benches = [b for b in [*BENCHES, DAG_BENCH] if Path(b[0]).stem in args.only]
    results = []
    for script, quick in benches:
        cmd = [sys.executable, str(HERE / script), *([] if args.full else quick)]
        print(f"\n==> {' '.join([script, *cmd[2:]])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=HERE.parent, check=False).returncode
        results.append((script, code, time.perf_counter() - start))
    print("\n==> Summary")
    for script, code, seconds in results:
        print(f"    {script:<20} {'ok' if code == 0 else f'FAILED (exit {code})':<16} {seconds:7.1f} s")
    return 1 if any(code for _, code, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
