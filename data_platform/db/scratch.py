"""Throw-away databases on the platform's server (dedupe-csv, the demo's ingestion step)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager

from data_platform import settings
from data_platform.db.connection import drop_database, ensure_database


@contextmanager
def scratch_database(prefix: str):
    """A fresh, migrated database; DATABASE_URL points to it inside the block, dropped afterwards."""
    base = settings.database_url()
    url = settings.with_database(base, f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    ensure_database(url)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        # a child process: this one's Django may already be bound to another database
        subprocess.run([sys.executable, "-m", "data_platform.cli", "migrate"], check=True,
                       env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL)
        yield url
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        drop_database(url)
