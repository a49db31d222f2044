"""Run `airflow` with the platform's environment; its metadata database is created and migrated once.

The child's PATH starts with this interpreter's bin directory: `airflow standalone` starts its
components as `airflow <component>` by name, and they are found although the caller's PATH does not
hold the virtualenv (`.venv/bin/data-platform airflow standalone` from a bare shell).

Long-running servers (`standalone`, `scheduler`, `api-server`, ...) run in their own process group:
Ctrl-C or SIGTERM to `data-platform` becomes one SIGINT to the child alone (standalone's clean
shutdown path: it stops its components and waits for them); a component still running after
`STOP_TIMEOUT` seconds gets SIGTERM then SIGKILL (standalone then completes its shutdown), and a
group still there after that gets SIGTERM, then SIGKILL. Other commands share the caller's group
(interactive ones keep the terminal); SIGTERM is passed on to them.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from data_platform import settings


def airflow_executable() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def ensure_airflow_db(url: str | None = None) -> None:
    """Create Airflow's metadata database (on `url`'s server) and migrate it (skipped when at head)."""
    from data_platform.db.connection import ensure_database

    af_url = settings.airflow_database_url(url)
    ensure_database(af_url)
    marker = settings.LOCAL_DIR / "airflow" / ".migrated"
    key = f"{af_url}|{_airflow_version()}|pool dbt=1"
    if marker.exists() and marker.read_text() == key:
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([airflow_executable(), "db", "migrate"], env=_env(url), check=True,
                   stdout=subprocess.DEVNULL)
    # the dbt tasks of every DAG share one slot (issue 13 item 12; run_dbt also takes an advisory lock)
    subprocess.run([airflow_executable(), "pools", "set", "dbt", "1", "one dbt build at a time"],
                   env=_env(url), check=True, stdout=subprocess.DEVNULL)
    marker.write_text(key)


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def bin_dir() -> str:
    return str(Path(sys.executable).parent)


def _env(url: str | None) -> dict:
    env = {**os.environ, **settings.airflow_env(url)}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir()]
    env["PATH"] = os.pathsep.join([bin_dir(), *path])
    # a loaded machine answers a task's first execution-API call slowly: the default 5 s timeout made the
    # client retry a "start" that had gone through, and the task failed (measured on the 2-core machine)
    env.setdefault("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "60")
    # tasks reach the API server's execution API: on its port when another one is chosen
    port = env.get("AIRFLOW__API__PORT")
    if port and not env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    return env


# sub-commands that serve until stopped: their own process group, stopped as a whole
SERVERS = frozenset({"standalone", "scheduler", "api-server", "dag-processor", "triggerer", "celery"})
STOP_TIMEOUT = float(os.environ.get("DP_AIRFLOW_STOP_TIMEOUT", "45"))


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc; [] elsewhere)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return sorted(out)


def _signal_children(proc: subprocess.Popen, sig: int) -> None:
    for pid in _children(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _stop_server(proc: subprocess.Popen, timeout: float) -> int:
    """SIGINT to the child (standalone stops its components, one SIGTERM each: a second signal to
    every component would interrupt their own graceful shutdown). Standalone then waits for each
    component without a time limit (apache/airflow#72464 lists it): a component still there after
    `timeout` gets SIGTERM, then SIGKILL, from here, so that standalone's wait ends and it finishes
    its own shutdown; then SIGTERM and SIGKILL to the whole group."""
    steps = (("child", signal.SIGINT, timeout), ("components", signal.SIGTERM, 10.0),
             ("components", signal.SIGKILL, 10.0), ("group", signal.SIGTERM, 10.0), ("group", signal.SIGKILL, 10.0))
    for to, sig, wait in steps:
        if to == "child":
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        elif to == "components":
            _signal_children(proc, sig)
        else:
            _signal_group(proc, sig)
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            print(f"data-platform: airflow still running {wait:.0f} s after {signal.Signals(sig).name}"
                  + (" to its components" if to == "components" else ""), file=sys.stderr)
    # what the child left behind in its group (e.g. a component standalone did not reap)
    _signal_group(proc, signal.SIGKILL)
    return proc.wait()


class _Stop(Exception):
    pass


def _run_server(cmd: list[str], env: dict) -> int:
    def handler(signum, frame):
        raise _Stop(signum)

    # handlers first: the child then starts with default dispositions, even when this process was
    # started with SIGINT ignored (a shell's background job), so that SIGINT reaches standalone
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    proc = subprocess.Popen(cmd, env=env, process_group=0)
    try:
        try:
            return proc.wait()
        except _Stop:
            for sig in previous:  # a second Ctrl-C does not interrupt the shutdown
                signal.signal(sig, signal.SIG_IGN)
            print("data-platform: stopping airflow", file=sys.stderr)
            return _stop_server(proc, STOP_TIMEOUT)
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _run_command(cmd: list[str], env: dict) -> int:
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, frame):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the terminal's Ctrl-C reached the child too: let it finish
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_airflow(args: list[str], check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """`airflow <args>`; its tasks use DATABASE_URL, else the embedded server (started if needed)."""
    from data_platform.db import embedded

    url = embedded.ensure_url()
    ensure_airflow_db(url)
    cmd, env = [airflow_executable(), *args], _env(url)
    if capture:
        return subprocess.run(cmd, env=env, check=check, text=True, capture_output=True)
    is_server = bool(args) and args[0] in SERVERS
    returncode = _run_server(cmd, env) if is_server else _run_command(cmd, env)
    if check and returncode:
        raise subprocess.CalledProcessError(returncode, cmd)
    return subprocess.CompletedProcess(cmd, returncode)
