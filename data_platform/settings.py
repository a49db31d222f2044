"""The one place that knows where things are and how Airflow, dbt and Django reach the database.

A leaf: it reads paths and the environment, imports nothing of data_platform and starts nothing.
`DATABASE_URL` selects a PostgreSQL server. When it is unset, the URL is the embedded server's
(`.local/pg`, port recorded in `.local/pg.port`); the entry points (the `data-platform` command, the
tests' conftest, the benchmarks) start that server first with `data_platform.db.embedded.ensure_url()`
and hand the URL to their children through the explicit environments below.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(os.environ.get("DP_LOCAL_DIR", ROOT / ".local"))
DAGS_DIR = ROOT / "dags"
PLUGINS_DIR = ROOT / "plugins"
DBT_PROJECT_DIR = ROOT / "dbt_project"
REPORTS_DIR = LOCAL_DIR / "reports"
DEFAULT_DB_NAME = "data_platform"
DBT_SCHEMA = "dbt"
EMBEDDED_DEFAULT_PORT = 54329


def embedded_port_file() -> Path:
    """Where the embedded server records the port it listens on."""
    return LOCAL_DIR / "pg.port"


def embedded_port() -> int:
    """The embedded server's recorded port; before its first start, DP_EMBEDDED_PORT or the default."""
    recorded = embedded_port_file()
    if recorded.exists():
        return int(recorded.read_text().strip())
    return int(os.environ.get("DP_EMBEDDED_PORT", EMBEDDED_DEFAULT_PORT))


def embedded_url(dbname: str = DEFAULT_DB_NAME) -> str:
    return f"postgresql://postgres@127.0.0.1:{embedded_port()}/{dbname}"


def database_url() -> str:
    """URL of the platform's database: DATABASE_URL, else the embedded server's. Reads only."""
    return os.environ.get("DATABASE_URL") or embedded_url()


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def url_parts(url: str | None = None) -> dict:
    """host/port/user/password/dbname of a postgres URL (for dbt profiles and Django)."""
    parts = urlsplit(url or database_url())
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "user": parts.username or os.environ.get("USER", "postgres"),
        "password": parts.password or "",
        "dbname": (parts.path or "/").lstrip("/") or DEFAULT_DB_NAME,
    }


def airflow_database_url(url: str | None = None) -> str:
    """Airflow's metadata lives in its own database on the same server (as `url`'s, default ours)."""
    explicit = os.environ.get("AIRFLOW_DATABASE_URL")
    if explicit:
        return explicit
    url = url or database_url()
    return with_database(url, url_parts(url)["dbname"] + "_airflow")


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment for dbt on `url` (default: ours): dbt_project/profiles.yml reads these variables."""
    p = url_parts(url)
    return {
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DP_PGHOST": str(p["host"]),
        "DP_PGPORT": str(p["port"]),
        "DP_PGUSER": str(p["user"]),
        "DP_PGPASSWORD": str(p["password"]),
        "DP_PGDATABASE": str(p["dbname"]),
        "DP_DBT_SCHEMA": DBT_SCHEMA,
    }


def airflow_env(url: str | None = None) -> dict[str, str]:
    """Environment for every `airflow` command started by the platform; its tasks use `url` (default: ours)."""
    url = url or database_url()
    af_url = airflow_database_url(url).replace("postgresql://", "postgresql+psycopg2://", 1)
    home = LOCAL_DIR / "airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": af_url,
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "DO_NOT_TRACK": "1",
        "UV_COMPILE_BYTECODE": "1",
        "DATABASE_URL": url,
    }


def admin_base_url() -> str:
    return os.environ.get("DP_ADMIN_URL", "http://127.0.0.1:8001/admin/")


def airflow_base_url() -> str:
    return os.environ.get("DP_AIRFLOW_URL", "http://127.0.0.1:8080")
