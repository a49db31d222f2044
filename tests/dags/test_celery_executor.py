"""cluster_acteurs with the CeleryExecutor (issue 14 item 2): two local `airflow celery worker`s, a
Redis broker started as a user would here (Debian's /usr/bin/redis-server, on a free port of this
checkout's range, never 6379), results in the Airflow database. The mapped batches run on both
workers, and the cohort equals the LocalExecutor's: same clusters, same ids, same suggestions.

Skipped, with the reason, only where the broker cannot be started (no redis-server, no free port).
Everything started here is stopped in a `finally`; the logs are printed when something fails.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS = "/usr/bin/redis-server"
ACTORS, SEED, BATCHES = 1200, 11, 4
WORKERS = ("worker-1", "worker-2")
DAG_TEST_TIMEOUT = 900  # seconds per DAG run (bench/bench_executors.py raises it for large sets)


def _free_port(exclude: set[int]) -> int | None:
    """A free port in this checkout's range (DP_EMBEDDED_PORT+1 … +9), else any free one; never 6379."""
    base = int(os.environ.get("DP_EMBEDDED_PORT", "54329"))
    for port in [*range(base + 1, base + 10), 0]:
        if port in exclude or port == 6379:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    return None


class Processes:
    """Started processes, each with its log file; all stopped (terminate, then kill) on exit."""

    def __init__(self, logs: Path):
        self.logs, self.procs = logs, {}

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
        self.procs[name] = (proc, log)
        return proc

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dump(self) -> str:
        return "\n".join(f"----- {name} (last 60 lines) -----\n" + "\n".join(self.log(name).splitlines()[-60:])
                         for name in self.procs)

    def stop(self) -> None:
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, 15)  # the worker's forked task processes too
                except ProcessLookupError:
                    pass
        for proc, log in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=10)
            log.close()


def _wait(what: str, ready, timeout: float, procs: Processes, name: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        proc = procs.procs[name][0]
        if proc.poll() is not None:
            raise AssertionError(f"{what}: {name} exited with {proc.returncode}\n{procs.dump()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready after {timeout:.0f} s\n{procs.dump()}")
        time.sleep(0.5)


@contextmanager
def _redis(procs: Processes, exclude: set[int]):
    """Debian's redis-server on a free port: its URL; skip (with the reason) when it cannot start."""
    if not os.access(REDIS, os.X_OK):
        pytest.skip(f"{REDIS} not found (Debian package redis-server): no broker for the CeleryExecutor")
    port = _free_port(exclude)
    if port is None:
        pytest.skip("no free port for the Redis broker")
    proc = procs.start("redis", [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--protected-mode", "yes"], os.environ.copy())
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"the Redis broker could not be started on port {port}: {procs.log('redis')[-500:]}")
            time.sleep(0.2)
    exclude.add(port)
    yield f"redis://127.0.0.1:{port}/0"


def _airflow_env(database_url: str, executor: str, api_port: int, broker: str) -> dict:
    from data_platform import settings

    af_db = settings.airflow_database_url(database_url)
    return {**os.environ, **settings.airflow_env(database_url),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + af_db,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.dags.celery_worker_name.worker_hostname",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def _airflow() -> str:
    from data_platform.airflow_runner import airflow_executable

    return airflow_executable()


def _dag_test(env: dict, logs: Path, name: str) -> str:
    """`airflow dags test cluster_acteurs --use-executor`; the run's id (its cluster_run)."""
    result = subprocess.run([_airflow(), "dags", "test", "cluster_acteurs", "--use-executor",
                             "-c", json.dumps({"batches": BATCHES})],
                            env=env, capture_output=True, text=True, timeout=DAG_TEST_TIMEOUT, cwd=ROOT, check=False)
    (logs / f"{name}.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{name} failed:\n" + "\n".join((result.stdout + result.stderr).splitlines()[-80:])
    return name


def _latest_run(db) -> str:
    with db.cursor() as cur:
        cur.execute("select run_id, status from cluster_run order by started_at desc limit 1")
        run_id, status = cur.fetchone()
    assert status == "done", status
    return run_id


def _cohort(db, run_id: str) -> dict:
    with db.cursor() as cur:
        cur.execute("select cluster_id, identifiant_unique from cluster_membership where run_id = %s order by 1, 2",
                    (run_id,))
        members = cur.fetchall()
        cur.execute("""select s.departement, s.taille, s.changes::text from suggestion s
                       join suggestion_cohorte c on c.id = s.cohorte_id where c.run_id = %s order by 1, 3""",
                    (run_id,))
        suggestions = cur.fetchall()
    db.commit()
    return {"members": members, "suggestions": suggestions}


def _batch_hosts(database_url: str, run_id: str) -> dict[int, tuple[str, str]]:
    from data_platform import settings
    from data_platform.db.connection import connect

    with connect(settings.airflow_database_url(database_url)) as conn, conn.cursor() as cur:
        cur.execute("select map_index, hostname, state from task_instance where dag_id = 'cluster_acteurs' "
                    "and task_id = 'cluster_partitions' and run_id = %s order by map_index", (run_id,))
        return {i: (host, state) for i, host, state in cur.fetchall()}


def test_celery_workers_run_the_batches_and_the_cohort_equals_the_local_executors(db, airflow_env, database_url,
                                                                                  tmp_path):
    from data_platform.generate.output import load_database
    from data_platform.generate.population import generate

    load_database(db, generate(ACTORS, SEED))
    db.commit()
    procs = Processes(tmp_path)
    from data_platform import settings

    used = {int(settings.url_parts(database_url)["port"])}
    with ExitStack() as stack:
        stack.callback(procs.stop)
        broker = stack.enter_context(_redis(procs, used))
        api_port = _free_port(used)
        assert api_port, "no free port for the api-server"
        used.add(api_port)
        jwt = {"AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16)}
        try:
            # the Execution API the task processes talk to (LocalExecutor and Celery workers alike)
            procs.start("api-server", [_airflow(), "api-server", "--port", str(api_port)],
                        {**_airflow_env(database_url, "LocalExecutor", api_port, broker), **jwt})

            def api_ready() -> bool:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=2)
                    return True
                except OSError:
                    return False

            _wait("api-server", api_ready, 240, procs, "api-server")

            # the reference: the LocalExecutor
            local_env = {**_airflow_env(database_url, "LocalExecutor", api_port, broker), **jwt}
            _dag_test(local_env, tmp_path, "local-run")
            local_run = _latest_run(db)
            local = _cohort(db, local_run)
            assert local["members"] and local["suggestions"]
            with db.cursor() as cur:  # the second run must write its own cohort, not skip it as pending
                cur.execute("truncate suggestion_decision, suggestion, suggestion_cohorte")
            db.commit()

            # two workers, one task at a time each, named so that the task instances say who ran them
            celery_env = {**_airflow_env(database_url, "CeleryExecutor", api_port, broker), **jwt}
            for name in WORKERS:
                procs.start(name, [_airflow(), "celery", "worker", "--celery-hostname", f"{name}@%h",
                                   "--concurrency", "1", "--skip-serve-logs"],
                            {**celery_env, "DP_TEST_WORKER_NAME": name})
            for name in WORKERS:
                _wait(f"celery worker {name}", lambda n=name: f"{n}@" in procs.log(n) and " ready." in procs.log(n),
                      240, procs, name)
            # both workers must run batches; which worker takes a queued task is timing: once, with 1.5-s batches,
            # one worker ran all four while the other finished the task before them. A second run must not
            # repeat it (each is a whole DAG run; the cohort of the last is compared below)
            for attempt in (1, 2):
                _dag_test(celery_env, tmp_path, f"celery-run-{attempt}")
                celery_run = _latest_run(db)
                assert celery_run != local_run
                hosts = _batch_hosts(database_url, celery_run)
                assert len(hosts) == BATCHES and {state for _, state in hosts.values()} == {"success"}, hosts
                if {host for host, _ in hosts.values()} == set(WORKERS) or attempt == 2:
                    break
                with db.cursor() as cur:  # the next run must write its own cohort, not skip it as pending
                    cur.execute("truncate suggestion_decision, suggestion, suggestion_cohorte")
                db.commit()
            assert {host for host, _ in hosts.values()} == set(WORKERS), hosts  # both workers ran batches
            assert _cohort(db, celery_run) == local  # same clusters, same ids, same suggestions
            print(f"batches by worker: {hosts}")
        except BaseException:
            for extra in ("local-run", "celery-run"):
                path = tmp_path / f"{extra}.log"
                if path.exists():
                    print(f"----- {extra} (last 80 lines) -----\n" + "\n".join(path.read_text().splitlines()[-80:]))
            print(procs.dump(), file=sys.stderr)
            raise
