"""DAG tests: Airflow's environment (metadata DB next to the test database) before airflow is imported.

Generic for every DAG test module of this folder: `airflow_env` (session, autouse) exports
data_platform.settings.airflow_env() and migrates the metadata database once; `dagbag` parses dags/.
"""
from __future__ import annotations

import os

import pytest


def _export_airflow_env() -> None:
    from data_platform import settings

    os.environ.update(settings.airflow_env())


# No export at import: when this folder is named on the command line, pytest imports this file
# before the root conftest's pytest_configure, which starts the embedded server and exports
# Airflow's environment for the test database itself, before any test module imports airflow.


@pytest.fixture(scope="session", autouse=True)
def airflow_env(database_url):
    from data_platform.airflow_runner import ensure_airflow_db

    _export_airflow_env()
    ensure_airflow_db()
    return dict(os.environ)


@pytest.fixture(scope="session")
def dagbag(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    from data_platform import settings

    return DagBag(dag_folder=str(settings.DAGS_DIR))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES
