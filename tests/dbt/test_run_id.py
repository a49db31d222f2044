"""dbt: the run id is the only value templated into SQL; anything outside ^[A-Za-z0-9_.:+-]{1,250}$ stops
compilation before any SQL runs."""
from __future__ import annotations

from tests.dbt.helpers import dbt


def test_invalid_run_id_is_a_compilation_error(database_url):
    proc = dbt(["compile", "--select", "cluster_parent_choice"], run_id="x'; drop table acteur; --",
               expect_success=False)
    assert proc.returncode != 0
    assert "must match" in proc.stdout


def test_missing_run_id_is_a_compilation_error(database_url):
    proc = dbt(["compile", "--select", "cluster_selection"], expect_success=False)
    assert proc.returncode != 0
    assert "run_id is required" in proc.stdout


def test_run_id_with_a_trailing_newline_is_a_compilation_error(database_url):
    """A whole-string match (fullmatch, like params.py), not `^…$` which accepts "x\\n"."""
    proc = dbt(["compile", "--select", "cluster_selection"], run_id="run_ok\n", expect_success=False)
    assert proc.returncode != 0
    assert "must match" in proc.stdout
