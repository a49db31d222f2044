"""Run dbt with the platform's profile (dbt_project/profiles.yml reads DP_PG* variables).

Two dbt invocations never run at once on one database (issue 13 item 12: the apply DAG every 5
minutes and the clustering DAG both rebuild `vue_acteur`): `run_dbt` holds a PostgreSQL session
advisory lock (DBT_LOCK_KEY) around the build, waiting at most `lock_timeout` seconds (default
DP_DBT_LOCK_TIMEOUT, 1800) and failing with a message that says so. Each invocation writes to its
own `--target-path` (.local/dbt-targets/<unique>, removed after).

dbt's fixed cost is paid once per database, not per call (issue 9): partial parsing survives between
calls because nothing that dbt hashes changes from one call to the next —
- the parse state (partial_parse.msgpack) is cached per profile (host, port, user, database, schema) in
  .local/dbt-cache/<key>/, copied into the call's target before and back after, under the lock (dbt
  re-parses everything when the profile differs, and its nodes carry the database name);
- the run id reaches the per-run models through the environment (DP_DBT_RUN_ID, read by macro
  validated_run_id), not through `--vars`: any change of `--vars` makes dbt re-parse the whole project,
  a changed environment variable only the few files that read it.
Quiet mode (`quiet=True`, or DP_QUIET=1 in the environment: dedupe-csv without --verbose) captures dbt's
log and prints one line instead ("dbt build: 14 models, 9 tests passed in 6.2 s"), the log only on
failure; colours are off whenever the output is not a terminal.
"""
from __future__ import annotations

import hashlib
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
RUN_ID_ENV = "DP_DBT_RUN_ID"  # read by dbt_project/macros/validated_run_id.sql
QUIET_ENV = "DP_QUIET"


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


def profile_key(env: dict) -> str:
    """The parse state's cache key: what dbt's profile hash sees (connection, not password)."""
    fields = [env.get(k, "") for k in ("DP_PGHOST", "DP_PGPORT", "DP_PGUSER", "DP_PGDATABASE", "DP_DBT_SCHEMA")]
    return hashlib.sha1("\x1f".join(fields).encode()).hexdigest()[:16]


def _parse_cache(env: dict) -> Path:
    return settings.LOCAL_DIR / "dbt-cache" / profile_key(env) / PARTIAL_PARSE


def _save_atomically(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".{os.getpid()}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)


def quiet_default() -> bool:
    return os.environ.get(QUIET_ENV, "") == "1"


def summary_line(args: list[str], results_path: Path, seconds: float) -> str:
    """One line from dbt's run_results.json: "dbt build: 14 models, 2 seeds, 9 tests passed in 6.2 s"."""
    try:
        results = json.loads(results_path.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return f"dbt {' '.join(args[:1])}: done in {seconds:.1f} s"
    kinds: dict[str, int] = {}
    bad = 0
    for r in results:
        kind = r.get("unique_id", "").split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        bad += r.get("status") in ("error", "fail", "runtime error")
    names = [("model", "models"), ("seed", "seeds"), ("test", "tests"), ("unit_test", "unit tests"),
             ("snapshot", "snapshots")]
    parts = [f"{kinds[k]} {label}" for k, label in names if kinds.get(k)]
    outcome = "passed" if not bad else f"{bad} failed"
    return f"dbt {' '.join(args[:1])}: {', '.join(parts) or 'nothing to do'} {outcome} in {seconds:.1f} s"


def run_dbt(args: list[str], vars: dict | None = None, check: bool = True,
            capture: bool = False, database_url: str | None = None,
            lock_timeout: float | None = None, quiet: bool | None = None) -> subprocess.CompletedProcess:
    """`dbt <args>` in dbt_project/, with `--vars` passed as JSON (values, never SQL text; `run_id`
    goes through DP_DBT_RUN_ID), on `database_url` (default: DATABASE_URL, else the embedded server,
    started if needed); serialized by the dbt advisory lock, in a target path of its own, with the
    profile's cached parse state. `quiet` (default DP_QUIET=1): one summary line on stderr instead of
    dbt's log (printed on failure)."""
    from data_platform.db import embedded

    url = database_url or embedded.ensure_url()
    timeout = float(os.environ.get("DP_DBT_LOCK_TIMEOUT", "1800")) if lock_timeout is None else lock_timeout
    quiet = quiet_default() if quiet is None else quiet
    vars = dict(vars or {})
    run_id = vars.pop("run_id", None)
    env = {**os.environ, **settings.dbt_env(url), RUN_ID_ENV: "" if run_id is None else str(run_id)}
    if capture or quiet or not sys.stdout.isatty():
        env.setdefault("DBT_USE_COLORS", "false")  # no raw ANSI codes in a file or a pipe
    targets = settings.LOCAL_DIR / "dbt-targets"
    targets.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    summary = ""
    with dbt_lock(url, timeout):
        target = Path(tempfile.mkdtemp(prefix="run-", dir=targets))
        try:
            cache, shared = _parse_cache(env), _shared_target() / PARTIAL_PARSE
            for candidate in (cache, shared):  # this profile's parse state, else the last one written
                if candidate.exists():
                    shutil.copy2(candidate, target / PARTIAL_PARSE)
                    break
            own = "--target-path" not in args and bool(args) and not args[0].startswith("-")
            cmd = [dbt_executable(), *args] + (["--target-path", str(target)] if own else [])
            if vars:
                cmd += ["--vars", json.dumps(vars)]
            proc = subprocess.run(cmd, cwd=settings.DBT_PROJECT_DIR, env=env, check=False, text=True,
                                  capture_output=capture or quiet)
            fresh = target / PARTIAL_PARSE
            if fresh.exists():
                _save_atomically(fresh, cache)
                _save_atomically(fresh, shared)
            if quiet and own:
                summary = summary_line(args, target / "run_results.json", time.perf_counter() - start)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    if quiet:
        if proc.returncode != 0 and not capture:  # the log, only when it failed
            sys.stderr.write((proc.stdout or "")[-20_000:] + (proc.stderr or "")[-5_000:])
        elif summary and proc.returncode == 0:
            print(summary, file=sys.stderr, flush=True)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc


# ---------------------------------------------------------------- seeds loaded only when they changed

SEED_STATE_TABLE = "dp_seed_checksum"  # in the dbt schema: dropped with it, so never stale


def seed_checksum() -> str:
    """sha256 of dbt_project/seeds (every file, by name) and dbt_project.yml (seed configuration)."""
    digest = hashlib.sha256()
    root = settings.DBT_PROJECT_DIR
    for path in sorted((root / "seeds").rglob("*")) + [root / "dbt_project.yml"]:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _seed_names() -> list[str]:
    return sorted(p.stem for p in (settings.DBT_PROJECT_DIR / "seeds").rglob("*.csv"))


def seeds_current(database_url: str) -> bool:
    """The database holds every seed table, loaded from the current seed files (recorded checksum)."""
    from data_platform.db.connection import connect

    schema = settings.DBT_SCHEMA
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) = cardinality(%s::text[]) from unnest(%s::text[]) as s(name) "
                    "where to_regclass(quote_ident(%s) || '.' || quote_ident(s.name)) is not null",
                    (_seed_names(), _seed_names(), schema))
        if not cur.fetchone()[0]:
            return False
        cur.execute("select to_regclass(quote_ident(%s) || '.' || %s) is not null", (schema, SEED_STATE_TABLE))
        if not cur.fetchone()[0]:
            return False
        cur.execute(f'select checksum from "{schema}".{SEED_STATE_TABLE}')  # schema: settings' identifier
        row = cur.fetchone()
    return bool(row) and row[0] == seed_checksum()


def record_seeds(database_url: str) -> None:
    """Remember that the seeds of the current files are loaded (after a build that loaded them)."""
    from data_platform.db.connection import connect

    schema = settings.DBT_SCHEMA
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(f'create table if not exists "{schema}".{SEED_STATE_TABLE} (checksum text not null)')
        cur.execute(f'delete from "{schema}".{SEED_STATE_TABLE}')
        cur.execute(f'insert into "{schema}".{SEED_STATE_TABLE} values (%s)', (seed_checksum(),))
