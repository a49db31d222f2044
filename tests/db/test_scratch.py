"""Small jobs' throw-away databases: copies of a migrated template that already holds dbt's seeds."""
from __future__ import annotations


def test_a_slot_copy_is_migrated_seeded_and_dropped_after(database_url):
    from data_platform.db.connection import connect
    from data_platform.db.scratch import slot_scratch_database
    from data_platform.dbt_runner import seeds_current

    with slot_scratch_database("t_scratch", database_url) as url, slot_scratch_database("t_scratch", database_url) as other:
        assert url != other  # two jobs at once: two slots
        assert seeds_current(url)  # the selection build of a small job does not reload the seeds
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from acteur_type")  # reference data of the migrate step
            assert cur.fetchone()[0] > 0
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from pg_database where datname like 't\\_scratch\\_slot%%'")
        assert cur.fetchone()[0] == 0
