"""`.venv/bin/data-platform airflow standalone` from a bare PATH: every component starts (the child's
PATH holds the virtualenv, standalone starts `airflow <component>` by name), the API server answers,
and SIGTERM stops the whole thing within a bound, no component crashed."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

DATA_PLATFORM = Path(sys.executable).parent / "data-platform"
BARE_PATH = "/usr/bin:/bin"
STARTUP_TIMEOUT = 300  # a loaded 2-core machine; the test never asserts a duration below this bound
# standalone's own shutdown takes ~5 s on an idle machine; under CI load it once took more than 20 s,
# so the clean-shutdown window is wide: the test is about a clean stop, not a fast one
STOP_TIMEOUT = 90
STOP_BOUND = STOP_TIMEOUT + 4 * 10 + 30  # + the escalation (components, then the group: SIGTERM, SIGKILL) + margin


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def bare_env(**extra) -> dict:
    """The caller's platform variables only, and a PATH without the virtualenv."""
    keep = ("DATABASE_URL", "DP_LOCAL_DIR", "DP_EMBEDDED_PORT", "HOME", "LANG", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "PATH": BARE_PATH, **extra}


def test_airflow_subcommand_from_bare_path(airflow_env):
    out = subprocess.run([str(DATA_PLATFORM), "airflow", "version"], env=bare_env(), capture_output=True, check=False,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("3.")


@pytest.mark.skipif(not DATA_PLATFORM.exists(), reason="needs the installed data-platform script")
def test_standalone_from_bare_path_starts_and_stops_on_sigterm(airflow_env, tmp_path):
    api, logs, trig = _free_port(), _free_port(), _free_port()
    env = bare_env(AIRFLOW__API__PORT=str(api), AIRFLOW__API__HOST="127.0.0.1",
                   AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(logs),
                   AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(trig),
                   AIRFLOW__API__WORKERS="1", DP_AIRFLOW_STOP_TIMEOUT=str(STOP_TIMEOUT), PYTHONUNBUFFERED="1")
    log = tmp_path / "standalone.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(DATA_PLATFORM), "airflow", "standalone"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not _healthy(api):
                assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
                time.sleep(2)
            time.sleep(5)  # the other components are up too (they start in parallel)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_BOUND)
            except subprocess.TimeoutExpired:
                pytest.fail("standalone did not exit after SIGTERM:\n" + log.read_text(errors="replace")[-4000:])
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log.read_text(errors="replace")
    assert "FileNotFoundError" not in text, text[-4000:]
    for component in ("scheduler", "dag-processor", "api-server", "triggerer"):
        assert re.search(rf"^{component} *\| ", text, re.MULTILINE), (component, text[-4000:])
    assert "Shutting down components" in text and "Complete" in text, text[-4000:]
    # nothing of it still listens
    assert not _healthy(api)
