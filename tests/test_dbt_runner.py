"""run_dbt: one dbt invocation at a time (advisory lock, bounded wait) in a target path of its own."""
from __future__ import annotations

import psycopg2
import pytest

from data_platform import settings
from data_platform.dbt_runner import DBT_LOCK_KEY, DbtLockTimeout, run_dbt


def test_second_dbt_waits_then_fails_clearly_while_another_holds_the_lock(database_url):
    holder = psycopg2.connect(database_url)
    holder.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (DBT_LOCK_KEY,))
        with pytest.raises(DbtLockTimeout, match="another dbt invocation holds the dbt lock"):
            run_dbt(["parse"], database_url=database_url, lock_timeout=0.5)
    finally:
        holder.close()


def test_own_target_path_removed_after_and_partial_parse_kept(database_url):
    proc = run_dbt(["ls", "--select", "vue_acteur"], database_url=database_url, capture=True)
    assert "vue_acteur" in proc.stdout
    assert not list((settings.LOCAL_DIR / "dbt-targets").glob("run-*"))
    assert (settings.DBT_PROJECT_DIR / "target" / "partial_parse.msgpack").exists()
