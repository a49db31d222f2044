"""Test database: a fresh PostgreSQL database per session on the same server as DATABASE_URL
(the embedded server when unset), migrated once. Tests that write use the `db` fixture, which
empties the data tables first."""
from __future__ import annotations

import os

import pytest

TEST_DB = os.environ.get("DP_TEST_DB", "dp_test")

DATA_TABLES = [
    "pair_label", "suggestion_decision", "suggestion", "suggestion_cohorte", "cluster_pair", "cluster_membership",
    "cluster_run", "match_model", "ingest_rejected_row", "ingest_state", "ground_truth", "revision_acteur", "acteur",
]


def pytest_configure(config):
    from data_platform import settings
    from data_platform.db import embedded
    from data_platform.db.connection import drop_database, ensure_database

    base = embedded.ensure_url()
    url = settings.with_database(base, TEST_DB)
    drop_database(url)
    ensure_database(url)
    # the test session's configuration: every module, dbt and Airflow child reads this database
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DP_LOCAL_DIR", str(settings.LOCAL_DIR))
    # Airflow reads its configuration once, at its first import: whichever test imports it first
    # (a DAG test, the import-cycle test) must find the test session's metadata database already set
    os.environ.update(settings.airflow_env(url))
    from data_platform.db.migrate import migrate

    migrate()


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ["DATABASE_URL"]


@pytest.fixture
def db(database_url):
    """A connection to an emptied test database (reference data kept)."""
    from data_platform.db.connection import connect

    with connect(database_url) as conn:
        with conn.cursor() as cur:
            cur.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
            cur.execute("DROP SCHEMA IF EXISTS dbt CASCADE")
        conn.commit()
        yield conn
