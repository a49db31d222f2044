"""Airflow's `core.hostname_callable` for the Celery test's workers: both run on this machine, so the
task instance's `hostname` is the worker's name (DP_TEST_WORKER_NAME, the same as its
`--celery-hostname`) instead of the machine's, and the test can tell which worker ran a batch."""
import os
import socket


def worker_hostname() -> str:
    return os.environ.get("DP_TEST_WORKER_NAME") or socket.getfqdn()
