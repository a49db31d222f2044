"""Run dbt with the platform's profile (dbt_project/profiles.yml reads DP_PG* variables).

Two dbt invocations never run at once on one database (issue 13 item 12: the apply DAG every 5
minutes and the clustering DAG both rebuild `vue_acteur`): `run_dbt` holds a PostgreSQL session
advisory lock (DBT_LOCK_KEY) around the build, waiting at most `lock_timeout` seconds (default
DP_DBT_LOCK_TIMEOUT, 1800) and failing with a message that says so. Each invocation writes to its
own `--target-path` (.local/dbt-targets/<unique>, removed after); the shared
dbt_project/target/partial_parse.msgpack is copied in before and back after (under the lock), so
partial parsing keeps working.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from data_platform import settings

DBT_LOCK_KEY = 0x0DB7_B11D  # arbitrary constant, "dbt build"
PARTIAL_PARSE = "partial_parse.msgpack"


class DbtLockTimeout(RuntimeError):
    """Another dbt invocation held the lock for longer than the wait allowed."""


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


@contextmanager
def dbt_lock(database_url: str, timeout: float):
    """The session advisory lock DBT_LOCK_KEY on its own connection, polled until `timeout` seconds."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        deadline = time.monotonic() + timeout
        with conn.cursor() as cur:
            while True:
                cur.execute("select pg_try_advisory_lock(%s)", (DBT_LOCK_KEY,))
                if cur.fetchone()[0]:
                    break
                if time.monotonic() >= deadline:
                    raise DbtLockTimeout(
                        f"another dbt invocation holds the dbt lock (pg advisory lock {DBT_LOCK_KEY}) "
                        f"after waiting {timeout:g} s; nothing was built (retry later, or raise "
                        "DP_DBT_LOCK_TIMEOUT)")
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        yield
    finally:
        conn.close()  # releases the session lock


def _shared_target() -> Path:
    return settings.DBT_PROJECT_DIR / "target"


def run_dbt(args: list[str], vars: dict | None = None, check: bool = True,
            capture: bool = False, database_url: str | None = None,
            lock_timeout: float | None = None) -> subprocess.CompletedProcess:
    """`dbt <args>` in dbt_project/, with `--vars` passed as JSON (values, never SQL text), on
    `database_url` (default: DATABASE_URL, else the embedded server, started if needed); serialized
    by the dbt advisory lock, in a target path of its own."""
    from data_platform.db import embedded

    url = database_url or embedded.ensure_url()
    timeout = float(os.environ.get("DP_DBT_LOCK_TIMEOUT", "1800")) if lock_timeout is None else lock_timeout
    env = {**os.environ, **settings.dbt_env(url)}
    targets = settings.LOCAL_DIR / "dbt-targets"
    targets.mkdir(parents=True, exist_ok=True)
    with dbt_lock(url, timeout):
        target = Path(tempfile.mkdtemp(prefix="run-", dir=targets))
        try:
            shared = _shared_target() / PARTIAL_PARSE
            if shared.exists():
                shutil.copy2(shared, target / PARTIAL_PARSE)
            own = "--target-path" not in args and bool(args) and not args[0].startswith("-")
            cmd = [dbt_executable(), *args] + (["--target-path", str(target)] if own else [])
            if vars:
                cmd += ["--vars", json.dumps(vars)]
            proc = subprocess.run(cmd, cwd=settings.DBT_PROJECT_DIR, env=env, check=False, text=True,
                                  capture_output=capture)
            fresh = target / PARTIAL_PARSE
            if fresh.exists():
                _shared_target().mkdir(exist_ok=True)
                tmp = _shared_target() / (PARTIAL_PARSE + f".{os.getpid()}.tmp")
                shutil.copy2(fresh, tmp)
                os.replace(tmp, shared)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc
