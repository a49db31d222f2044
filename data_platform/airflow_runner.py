"""Run `airflow` with the platform's environment; its metadata database is created and migrated once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from data_platform import settings


def airflow_executable() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def ensure_airflow_db() -> None:
    """Create Airflow's metadata database and migrate it (skipped when already at head)."""
    from data_platform.db.connection import ensure_database

    ensure_database(settings.airflow_database_url())
    marker = settings.LOCAL_DIR / "airflow" / ".migrated"
    key = f"{settings.airflow_database_url()}|{_airflow_version()}"
    if marker.exists() and marker.read_text() == key:
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([airflow_executable(), "db", "migrate"], env=_env(), check=True,
                   stdout=subprocess.DEVNULL)
    marker.write_text(key)


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def _env() -> dict:
    return {**os.environ, **settings.airflow_env()}


def run_airflow(args: list[str], check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    ensure_airflow_db()
    return subprocess.run([airflow_executable(), *args], env=_env(), check=check, text=True,
                          capture_output=capture)
