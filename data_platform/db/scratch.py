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
