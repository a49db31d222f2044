"""Benchmark of the demo data generator: generate + load 500,000 actors into a scratch database.

    .venv/bin/python bench/bench_generate.py                      # 500,000 actors, seed 42
    .venv/bin/python bench/bench_generate.py --actors 100000 --csv /tmp/demo.csv

Prints the wall-clock and CPU seconds of each step (generate, load = COPY + index rebuild + commit,
optionally the CSV file) and the total. The scratch database (`bench_generate` on the platform's
server) is created and migrated when missing and dropped at the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _db import use_bench_database

from data_platform.db.connection import connect, drop_database

BUDGET_SECONDS = 60


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--actors", type=int, default=500_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--db", default="bench_generate", help="scratch database name")
    p.add_argument("--csv", help="also write the CSV file here (timed separately, not in the total)")
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = p.parse_args()

    url = use_bench_database(args.db, fresh=False)
    from data_platform.generate.output import load_database, write_csv
    from data_platform.generate.population import generate

    steps = {}

    def timed(name, func):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        steps[name] = {"seconds": round(time.perf_counter() - wall, 2), "cpu_seconds": round(time.process_time() - cpu, 2)}
        print(f"{name:<10} {steps[name]['seconds']:7.2f} s   (cpu of this process {steps[name]['cpu_seconds']:.2f} s)",
              flush=True)
        return result

    pop = timed("generate", lambda: generate(args.actors, args.seed))

    def load():
        with connect(url) as conn:
            return load_database(conn, pop)

    counts = timed("load", load)
    total = steps["generate"]["seconds"] + steps["load"]["seconds"]
    print(f"{'total':<10} {total:7.2f} s   for {args.actors:,} actors "
          f"({'within' if total < BUDGET_SECONDS else 'OVER'} the {BUDGET_SECONDS} s budget)")
    if args.csv:
        timed("csv", lambda: write_csv(pop, args.csv))
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("select (select count(*) from acteur), (select count(*) from revision_acteur), "
                    "(select count(*) from ground_truth)")
        db_counts = dict(zip(["acteur", "revision_acteur", "ground_truth"], cur.fetchone()))
    assert db_counts == counts, (db_counts, counts)
    print(json.dumps({"actors": args.actors, "seed": args.seed, "steps": steps, "total_seconds": round(total, 2),
                      "loaded": counts, "load_average": os.getloadavg()[0], "population": pop.summary()}))
    if not args.keep:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
