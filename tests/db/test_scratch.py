"""A scratch database is handed over by URL: the process's DATABASE_URL never changes, and the
ingestion's dbt models are built where the URL says. Small jobs' slot copies of a migrated template
already hold dbt's seeds."""
from __future__ import annotations

import os

from data_platform.db.connection import connect
from data_platform.db.scratch import scratch_database, slot_scratch_database


def test_scratch_database_is_passed_by_url_not_through_the_environment(database_url):
    from data_platform.ingest.pipeline import ensure_models

    with scratch_database("dp_test_scratch") as url:
        assert url != database_url and os.environ["DATABASE_URL"] == database_url
        assert ensure_models(url) is True  # dbt ran on the scratch database ...
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from acteur_type")  # migrated
            assert cur.fetchone()[0] == 11
            cur.execute("select to_regclass('dbt.ingest_acteur_diff') is not null")
            assert cur.fetchone()[0]
        assert ensure_models(url) is False  # ... and recorded there: built from the current files
    assert os.environ["DATABASE_URL"] == database_url
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from pg_database where datname = %s", (url.rsplit("/", 1)[1],))
        assert cur.fetchone()[0] == 0  # dropped


def test_a_slot_copy_is_migrated_seeded_and_dropped_after(database_url):
    from data_platform.dbt_runner import seeds_current

    with slot_scratch_database("t_scratch", database_url) as url, \
            slot_scratch_database("t_scratch", database_url) as other:
        assert url != other  # two jobs at once: two slots
        assert seeds_current(url)  # the selection build of a small job does not reload the seeds
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from acteur_type")  # migrated, as the template
            assert cur.fetchone()[0] == 11
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from pg_database where datname like 't\\_scratch\\_slot%%'")
        assert cur.fetchone()[0] == 0  # both dropped
