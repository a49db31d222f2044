"""The benchmarks' database: a named scratch database on the platform's server, used by the whole
benchmark process (its stages read DATABASE_URL, as an Airflow task's do)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def use_bench_database(name: str, fresh: bool = True) -> str:
    """Create (dropped first when `fresh`) and migrate `name` on DATABASE_URL's server, else the
    embedded one (started here); this process and its children then use it. Returns its URL."""
    from data_platform import settings
    from data_platform.db import embedded
    from data_platform.db.connection import drop_database, ensure_database

    url = settings.with_database(embedded.ensure_url(), name)
    if fresh:
        drop_database(url)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url  # the benchmark's entry point: configure the process once
    subprocess.run([sys.executable, "-m", "data_platform.cli", "migrate"], check=True, stdout=subprocess.DEVNULL)
    return url


def scale_arguments() -> argparse.ArgumentParser:
    """The arguments of the whole-pipeline benchmarks: --actors N (generated), --seed S."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=7)
    return ap


def generate_actors(actors: int, seed: int) -> None:
    """Generate and load `actors` synthetic actors (`data-platform generate`) into the bench database."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "data_platform.cli", "generate", "--actors", str(actors),
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    print(f"generate + load {actors} actors: {time.perf_counter() - t:.1f} s")
