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


def _env(url: str | None) -> dict:
    return {**os.environ, **settings.airflow_env(url)}


def run_airflow(args: list[str], check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """`airflow <args>`; its tasks use DATABASE_URL, else the embedded server (started if needed)."""
    from data_platform.db import embedded

    url = embedded.ensure_url()
    ensure_airflow_db(url)
    return subprocess.run([airflow_executable(), *args], env=_env(url), check=check, text=True,
                          capture_output=capture)
