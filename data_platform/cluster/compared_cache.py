"""Candidate pairs and their comparison levels, computed once per run and partition.

Training the run's model (pipeline.train_model) computes the candidates and comparison levels of its
training partitions — all of them up to pipeline.TRAIN_MAX_ACTORS actors —, and the clustering batches
need the same comparisons again to score them. Computing them is most of both stages' time, so the
training writes each partition's `Compared` here and the batches read it back instead of recomputing.

A run's entries live in `.local/compared/<key>/`, key = hash of (database, run id, the run's start
time): a re-opened run (same id, new start) or another database (dedupe-csv's scratch slots all use
run id `dedupe_csv`) never reads another run's entries. An entry is named after its partition and a
digest of the partition's actor ids in row order, checked on read: `Compared.i/j` are row indices, so
an entry is used only for exactly the rows it was computed on. Comparisons depend on the rows' values
and on nothing else of the run (the run's parameters do not change during a run); the values change
only when the selection is rebuilt, and pipeline.build_selection drops the run's entries. Written
atomically; a missing or unreadable entry is a miss (the caller computes). The folder is removed when
the run finishes; folders older than a day (crashed runs) are pruned when a run opens its cache.
A worker on another machine (Celery) simply misses.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from data_platform import settings
from data_platform.cluster.comparisons import Compared

FIELDS = ("i", "j", "levels", "tf", "distance_m")
STALE_SECONDS = 24 * 3600


def _root() -> Path:
    return settings.LOCAL_DIR / "compared"


def run_key(conn, run_id: str) -> str | None:
    """The cache key of the run as it is open now (None: no such run)."""
    with conn.cursor() as cur:
        cur.execute("select current_database(), started_at::text from cluster_run where run_id = %s", (run_id,))
        row = cur.fetchone()
    if row is None:
        return None
    return hashlib.sha1("\x1f".join([row[0], run_id, row[1] or ""]).encode()).hexdigest()[:20]


def _ids_digest(ids) -> str:
    return hashlib.sha1("\0".join(map(str, ids)).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


class ComparedCache:
    """get / put of a partition's Compared for one run (folder None: a cache that never hits)."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    @classmethod
    def for_run(cls, conn, run_id: str) -> ComparedCache:
        key = run_key(conn, run_id)
        if key is None:
            return cls(None)
        _prune(key)
        return cls(_root() / key)

    def _path(self, departement: str, ids) -> Path:
        return self.folder / f"{_safe(departement)}-{_ids_digest(ids)}.npz"

    def get(self, departement: str, ids) -> Compared | None:
        if self.folder is None:
            return None
        path = self._path(departement, ids)
        try:
            with np.load(path, allow_pickle=False) as data:
                compared = Compared(*(data[f] for f in FIELDS))
        except (OSError, KeyError, ValueError):
            return None
        return compared

    def put(self, departement: str, ids, compared: Compared) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(departement, ids)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **{f: getattr(compared, f) for f in FIELDS})
        os.replace(tmp, path)


def drop_run(conn, run_id: str) -> None:
    """Remove the run's entries (its selection was rebuilt, or it finished)."""
    key = run_key(conn, run_id)
    if key is not None:
        shutil.rmtree(_root() / key, ignore_errors=True)


def _prune(keep: str) -> None:
    root = _root()
    if not root.is_dir():
        return
    cutoff = time.time() - STALE_SECONDS
    for folder in root.iterdir():
        try:
            if folder.name != keep and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
