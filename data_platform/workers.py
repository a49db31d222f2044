"""The worker processes of a run's parallel stages (training, clustering batches, the national LSH).

Every pool starts its processes from one forkserver that imported the clustering code once (WORKER_PRELOAD):
a worker starts in milliseconds with pandas, scikit-learn and the platform already imported, and returns its
memory when it ends. The server is per process and starts with the first pool, unless `start_server` started
it earlier: run_all does so before dbt builds the selection, so that its imports (1–2 s) run on the core dbt
leaves idle instead of before the first pool."""
from __future__ import annotations

import multiprocessing

WORKER_PRELOAD = ["data_platform.pipeline", "data_platform.cluster.partition"]


def worker_context():
    """The forkserver context of every pool (its preload set)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx


def start_server() -> None:
    """Start the forkserver now, without waiting for its imports (the first pool waits for them)."""
    from multiprocessing import forkserver

    worker_context()
    forkserver.ensure_running()
