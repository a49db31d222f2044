"""Benchmark of the nightly ingestion: the replay server (its own process) serves N rows across the
configured sources; one full ingestion (fetch, clean, COPY, dbt diff, apply) into a fresh database.

    .venv/bin/python bench/bench_ingest.py [--rows 400000]

Prints seconds and rows/s (target: 400,000 rows in at most 2 minutes), then a second, unchanged
run (every source skipped), then a run on a new publication (rows changed, added and removed).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--db", default="dp_bench_ingest")
    args = ap.parse_args(argv)

    from _db import use_bench_database

    url = use_bench_database(args.db)
    server = subprocess.Popen([sys.executable, "-m", "data_platform.cli", "replay-server", "--port", "0",
                               "--rows", str(args.rows)], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        base_url = line.split(" on ", 1)[1].split(" ", 1)[0]
        print(line.strip(), flush=True)
        from data_platform.ingest.pipeline import IngestOptions, ensure_models, ingest

        t0 = time.perf_counter()
        ensure_models(url)
        t1 = time.perf_counter()
        results = ingest(None, IngestOptions(base_url=base_url, database_url=url))
        t2 = time.perf_counter()
        rows = sum(r.rows_read for r in results)
        for r in results:
            print(f"  {r.source:<10} {r.status:<8} {r.rows_read:>7} rows {r.seconds:>6.1f}s "
                  f"(fetch+clean+COPY {r.fetch_seconds:.1f}s, diff+apply {r.apply_seconds:.1f}s)  {r.message}")
        failed = [r.source for r in results if r.status != "applied"]
        print(f"dbt models: {t1 - t0:.1f}s")
        print(f"ingestion: {rows} rows in {t2 - t1:.1f}s = {rows / (t2 - t1):,.0f} rows/s"
              f" (target <= 120s){'; FAILED: ' + ', '.join(failed) if failed else ''}")
        t3 = time.perf_counter()
        again = ingest(None, IngestOptions(base_url=base_url, database_url=url))
        print(f"second run (unchanged): {time.perf_counter() - t3:.1f}s, "
              f"statuses {sorted({r.status for r in again})}")
        # a new publication everywhere: ~2% of rows gone, ~3% changed, 2% new (a typical night)
        import requests

        requests.post(base_url.split("/data-fair/")[0] + "/_replay/control", json={"version": 1}, timeout=10)
        t4 = time.perf_counter()
        night = ingest(None, IngestOptions(base_url=base_url, database_url=url))
        for r in night:
            print(f"  {r.source:<10} {r.status:<8} {r.seconds:>6.1f}s (fetch+clean+COPY {r.fetch_seconds:.1f}s, "
                  f"diff+apply {r.apply_seconds:.1f}s)  {r.message}")
        print(f"new publication: {time.perf_counter() - t4:.1f}s, "
              f"{sum(r.inserted for r in night)} new, {sum(r.updated for r in night)} changed, "
              f"{sum(r.deleted for r in night)} marked SUPPRIME, statuses {sorted({r.status for r in night})}")
        return 1 if failed or any(r.status != "applied" for r in night) else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
