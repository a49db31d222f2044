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


def test_partial_parsing_survives_another_run_id_and_quiet_mode_prints_one_line(database_url, capfd):
    """The run id goes through the environment, the parse state is cached per profile: a call with
    another run id re-parses only the per-run files, not the project; quiet mode prints one summary
    line (no dbt log, no ANSI codes)."""
    args = ["--debug", "compile", "--select", "cluster_parent_choice"]
    run_dbt(args, vars={"run_id": "parse_a"}, database_url=database_url, capture=True)
    proc = run_dbt(args, vars={"run_id": "parse_b"}, database_url=database_url, capture=True)
    assert "Unable to do partial parsing" not in proc.stdout
    assert "Partial parsing enabled" in proc.stdout
    assert "'parse_b'" in proc.stdout  # the compiled model carries the new run id
    capfd.readouterr()
    run_dbt(["ls", "--select", "vue_acteur"], database_url=database_url, quiet=True)
    err = capfd.readouterr().err
    assert "Running with dbt" not in err and "\x1b[" not in err
    assert err.startswith("dbt ls: ") and err.count("\n") == 1


def test_seeds_are_current_once_recorded_and_not_when_a_seed_table_is_missing(database_url):
    from data_platform.db.connection import connect
    from data_platform.dbt_runner import record_seeds, seeds_current

    run_dbt(["seed"], database_url=database_url, capture=True)
    record_seeds(database_url)
    assert seeds_current(database_url)
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("drop table dbt.stop_words cascade")
    assert not seeds_current(database_url)
    run_dbt(["seed", "--select", "stop_words"], database_url=database_url, capture=True)
