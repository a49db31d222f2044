"""Fixtures of the ingestion tests: a replay server in a thread, an emptied database that keeps
the dbt views (built once per session), fast deterministic retries."""
from __future__ import annotations

import pytest

INGEST_TABLES = ["ingest_rejected_row", "ingest_state", "revision_acteur", "acteur"]
SMALL = {"donnees-eo-refashion": 45, "donnees-eo-ecosystem": 60, "donnees-eo-ecomaison": 30,
         "donnees-eo-corepile-ecosystem": 30, "donnees-eo-aliapur": 20, "donnees-eo-batribox": 30,
         "sinoe-(r)-annuaire-des-decheteries-dma": 25}


@pytest.fixture
def replay():
    from data_platform.ingest.replay_server import ReplayServer

    server = ReplayServer(rows=dict(SMALL), seed=7).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ingest_db(database_url):
    """The test database with acteur and the ingestion tables emptied; dbt views built (once)."""
    from data_platform.db.connection import connect
    from data_platform.ingest.pipeline import ensure_models

    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(INGEST_TABLES) + " RESTART IDENTITY CASCADE")
    ensure_models(database_url)
    with connect(database_url) as conn:
        yield conn


@pytest.fixture
def options(replay, database_url):
    """Ingestion options against the replay server: pages of 10 rows, tiny seeded backoff."""
    from data_platform.ingest.client import RetryPolicy
    from data_platform.ingest.pipeline import IngestOptions

    def make(**kw):
        policy = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, jitter=0.5, seed=0,
                             connect_timeout=2, read_timeout=kw.pop("read_timeout", 5))
        return IngestOptions(base_url=replay.base_url, policy=policy, database_url=database_url, page_size=10,
                             run_id=kw.pop("run_id", "test_run"), **kw)

    return make
