"""Throw-away databases on the platform's server (dedupe-csv, the demo's ingestion step)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from data_platform import settings
from data_platform.db.connection import drop_database, ensure_database


@contextmanager
def scratch_database(prefix: str, server_url: str | None = None) -> Iterator[str]:
    """A fresh, migrated database on `server_url`'s server (default: the platform's), dropped
    afterwards. Yields its URL; the caller passes it on (nothing is written to the environment)."""
    base = server_url or settings.database_url()
    url = settings.with_database(base, f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    ensure_database(url)
    try:
        # a child process: this one's Django may already be bound to another database
        subprocess.run([sys.executable, "-m", "data_platform.cli", "migrate"], check=True,
                       env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL)
        yield url
    finally:
        drop_database(url)


# ---------------------------------------------------------------- small jobs: a template and stable names

SLOT_LOCK_KEY = 0x5C7A  # pg_try_advisory_lock(SLOT_LOCK_KEY, slot), held in database `postgres`
MAX_SLOTS = 64


def _schema_key() -> str:
    """What a template depends on: the migrations, the reference data, the migrate step and dbt's seeds."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("webapp/*/migrations/*.py")) + sorted(root.glob("webapp/*/models.py")) + [
        root / "reference.py", root / "db" / "migrate.py"]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    from data_platform.dbt_runner import seed_checksum

    digest.update(seed_checksum().encode())
    return digest.hexdigest()[:12]


def _admin(base: str):
    import psycopg2

    conn = psycopg2.connect(settings.with_database(base, "postgres"))
    conn.autocommit = True
    return conn


def template_database(base: str) -> str:
    """Name of a migrated template database for the current schema (created once, under a lock; built
    under a temporary name and renamed, so a half-built template is never used)."""
    from psycopg2 import sql

    name = f"dp_template_{_schema_key()}"
    conn = _admin(base)
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone():
                return name
            cur.execute("select pg_advisory_lock(%s, %s)", (SLOT_LOCK_KEY, -1))
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone():
                return name
            building = settings.with_database(base, name + "_building")
            drop_database(building)
            ensure_database(building)
            subprocess.run([sys.executable, "-m", "data_platform.cli", "migrate"], check=True,
                           env={**os.environ, "DATABASE_URL": building}, stdout=subprocess.DEVNULL)
            _load_seeds(building)
            cur.execute(sql.SQL("alter database {} rename to {}").format(
                sql.Identifier(name + "_building"), sql.Identifier(name)))
            return name
    finally:
        conn.close()  # releases the lock


def _load_seeds(url: str) -> None:
    """dbt's seeds in the template: every copy starts with them (dbt_runner.seeds_current), and a small
    job's selection build does not reload them (seconds of a 1,000-row dedupe-csv)."""
    from data_platform.dbt_runner import record_seeds, run_dbt

    run_dbt(["seed"], database_url=url, capture=True)
    record_seeds(url)


@contextmanager
def slot_scratch_database(prefix: str, server_url: str | None = None) -> Iterator[str]:
    """Like scratch_database, for small jobs: a copy of a migrated template (CREATE DATABASE …
    TEMPLATE: a fraction of a second instead of a migrate) under a stable name, `<prefix>_slot<k>`
    with the first slot k no other process holds (a session advisory lock, for the whole job). A
    stable name keeps dbt's partial parsing valid from one job to the next (dbt re-parses the whole
    project when the profile's database changes). Dropped afterwards, like scratch_database."""
    from psycopg2 import sql

    base = server_url or settings.database_url()
    template = template_database(base)
    conn = _admin(base)
    try:
        with conn.cursor() as cur:
            for slot in range(MAX_SLOTS):
                cur.execute("select pg_try_advisory_lock(%s, %s)", (SLOT_LOCK_KEY, slot))
                if cur.fetchone()[0]:
                    break
            else:
                raise RuntimeError(f"all {MAX_SLOTS} scratch database slots of {prefix!r} are in use")
            url = settings.with_database(base, f"{prefix}_slot{slot}")
            drop_database(url)  # left over by a job that was killed
            cur.execute(sql.SQL("create database {} template {}").format(
                sql.Identifier(f"{prefix}_slot{slot}"), sql.Identifier(template)))
        try:
            yield url
        finally:
            drop_database(url)
    finally:
        conn.close()  # releases the slot
