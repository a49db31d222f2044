"""data-platform's stop of a long-running airflow server (airflow_runner._stop_server), on a stand-in for
`airflow standalone` that waits for its components without a time limit, as standalone does."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap

from data_platform.airflow_runner import _stop_server

# SIGINT: SIGTERM to its component, then wait for it (no timeout), then print "Complete" and exit 0.
# The component ignores SIGTERM: only SIGKILL ends it.
STANDALONE = textwrap.dedent("""
    import signal, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE)
    child.stdout.readline()
    stopping = []
    signal.signal(signal.SIGINT, lambda *a: stopping.append(1))
    print("ready", flush=True)
    while not stopping:
        time.sleep(0.05)
    print("Shutting down components", flush=True)
    child.terminate()
    child.wait()
    print("Complete", flush=True)
""")


def test_a_component_that_ignores_sigterm_is_killed_and_standalone_completes(tmp_path):
    log = tmp_path / "out.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", STANDALONE], stdout=out, stderr=subprocess.STDOUT,
                                process_group=0)
        try:
            while "ready" not in log.read_text():
                assert proc.poll() is None, log.read_text()
            rc = _stop_server(proc, timeout=1.0)
        finally:  # nothing left running whatever happened
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    # the stand-in finished its own shutdown (it was not killed): the stuck component was
    assert rc == 0 and "Shutting down components" in text and "Complete" in text, (rc, text)
