"""Run dbt with the platform's profile (dbt_project/profiles.yml reads DP_PG* variables)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from data_platform import settings


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(args: list[str], vars: dict | None = None, check: bool = True,
            capture: bool = False, database_url: str | None = None) -> subprocess.CompletedProcess:
    """`dbt <args>` in dbt_project/, with `--vars` passed as JSON (values, never SQL text), on
    `database_url` (default: DATABASE_URL, else the embedded server, started if needed)."""
    from data_platform.db import embedded

    cmd = [dbt_executable(), *args]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    env = {**os.environ, **settings.dbt_env(database_url or embedded.ensure_url())}
    return subprocess.run(cmd, cwd=settings.DBT_PROJECT_DIR, env=env, check=check, text=True,
                          capture_output=capture)
