"""The ingestion's match runs and the clustering runs never share the per-run dbt tables (pipeline.run_lock): a match
run waits while a clustering run is active, and times out naming it (the ingestion stays committed); an abandoned or
ended run does not block; a clustering run's selection waits for a match run under way."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from data_platform import pipeline
from data_platform.db.connection import connect
from data_platform.ingest.config import load_sources
from data_platform.ingest.pipeline import ingest_source
from tests.ingest.conftest import ingest_db, options, replay  # noqa: F401 - fixtures
from tests.match.test_ingest_match import (  # noqa: F401
    NEW,
    PAIR,
    _insert_new,
    _known_copy_of_a_feed_place,
    _one,
    _pending_with,
    no_index_after,
)


def _wait_for_log(caplog, text: str, thread: threading.Thread, seconds: float = 60) -> None:
    """Until a record holding `text` is logged (by the thread), the thread still running."""
    deadline = time.monotonic() + seconds
    while not any(text in r.getMessage() for r in caplog.records):
        assert thread.is_alive(), "the thread ended without waiting"
        assert time.monotonic() < deadline, f"no log record with {text!r}"
        time.sleep(0.02)


def _in_thread(fn, *args) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target():
        try:
            out["result"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def test_a_match_run_waits_for_the_active_clustering_run_then_proceeds(known, monkeypatch, caplog):
    from data_platform.match import hooks

    monkeypatch.setenv(pipeline.RUN_WAIT_TIMEOUT_ENV, "120")
    monkeypatch.setenv(pipeline.RUN_WAIT_POLL_ENV, "0.05")
    caplog.set_level(logging.INFO, logger="data_platform.pipeline")
    conn = known
    pipeline.start_run("nightly", {})  # a clustering run, opened as the DAG's first task opens it
    applied_at = _insert_new(conn, [NEW])

    thread, out = _in_thread(hooks.after_ingest, "refashion", applied_at, "ing-1")
    _wait_for_log(caplog, "run match:ing-1: waiting for clustering run nightly (running since", thread)
    assert _one(conn, "select count(*) from cluster_run where run_id like 'match:%'") == (0,)  # no stage ran
    conn.commit()
    with connect() as c:
        assert pipeline.close_run(c, "nightly") == "done"
    thread.join(120)
    assert not thread.is_alive() and "error" not in out
    suggest = out["result"]["suggest"]
    assert "error" not in suggest, suggest
    assert (suggest["matched"], suggest["clusters"], suggest["suggestions"]) == (1, 1, 1)
    assert [(r, t) for r, t, _ in _pending_with(conn, PAIR)] == [("match:ing-1", "ingestion")]
    assert _one(conn, "select status from cluster_run where run_id = 'match:ing-1'") == ("done",)


def test_a_match_run_times_out_naming_the_clustering_run_and_the_ingestion_stays_committed(
        db, ingest_db, options, no_index_after, monkeypatch):  # noqa: F811

    conn = ingest_db
    with conn.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    conn.commit()
    cfg = load_sources(["ecosystem"])[0]
    assert ingest_source(cfg, options(run_id="first")).status == "applied"
    # one of the feed's places is already known under another source; the feed's copy is gone, so that the next
    # ingestion inserts it again and its match finds the known one (as test_ingest_match's first test)
    dup = _known_copy_of_a_feed_place(conn)
    pipeline.start_run("nightly", {})  # a clustering run that does not finish in time
    monkeypatch.setenv(pipeline.RUN_WAIT_TIMEOUT_ENV, "0.3")
    monkeypatch.setenv(pipeline.RUN_WAIT_POLL_ENV, "0.05")

    again = ingest_source(cfg, options(run_id="second", force=True))
    assert again.status == "applied" and again.inserted == 1
    error = again.match["suggest"]["error"]
    assert error.startswith("RunWaitTimeout: run match:second: clustering run nightly (running since "), error
    assert "still active after waiting" in error and pipeline.RUN_WAIT_TIMEOUT_ENV in error
    assert again.match["refresh"]["indexed"] == 1  # the hook's index refresh went through
    # the ingestion is committed, the match ran no stage, the clustering run is untouched
    assert _one(conn, "select count(*) from acteur where identifiant_unique = %s", (dup,)) == (1,)
    assert _one(conn, "select last_status from ingest_state where source_code = 'ecosystem'") == ("success",)
    assert _one(conn, "select count(*) from cluster_run where run_id like 'match:%'") == (0,)
    assert _one(conn, "select count(*) from suggestion_cohorte") == (0,)
    assert _one(conn, "select status, finished_at from cluster_run where run_id = 'nightly'") == ("running", None)


def test_abandoned_and_ended_runs_do_not_block_a_match_run(db):
    # a clustering run opened a day and more ago and never closed (its process killed outside Airflow)
    pipeline.start_run("crashed", {})
    with db.cursor() as cur:
        cur.execute("update cluster_run set started_at = now() - interval '25 hours' where run_id = 'crashed'")
    db.commit()
    pipeline.start_run("failed", {})
    pipeline.fail_run("failed", "build_selection: boom")
    pipeline.start_run("emptied", {})
    pipeline.mark_empty("emptied", "the asset events touched no département")  # open, but builds nothing more
    pipeline.start_run("done", {})
    with connect() as c:
        pipeline.close_run(c, "done")
    pipeline.start_run("match:killed", {})  # a match run that died: match runs are serialized by the lock itself
    with pipeline.run_lock("match:ing-1", timeout=0) as waited:
        assert waited == 0.0

    pipeline.start_run("nightly", {})  # a live one does block
    blocked = r"run match:ing-1: clustering run nightly \(running since"
    with pytest.raises(pipeline.RunWaitTimeout, match=blocked), pipeline.run_lock("match:ing-1", timeout=0):
        pass


def test_a_clustering_runs_selection_waits_for_the_match_run_under_way(known, monkeypatch, caplog):
    monkeypatch.setenv(pipeline.RUN_WAIT_POLL_ENV, "0.05")
    caplog.set_level(logging.INFO, logger="data_platform.pipeline")
    conn = known
    with pipeline.run_lock("match:ing-1"):  # what a match run holds from its start_run to its finish
        pipeline.start_run("match:ing-1", {})
        pipeline.start_run("nightly", {})
        thread, out = _in_thread(pipeline.build_selection, "nightly")
        _wait_for_log(caplog, "run nightly: waiting for match run match:ing-1 to finish", thread)
        stages = _one(conn, "select stage_seconds from cluster_run where run_id = 'nightly'")[0]
        conn.commit()
        assert "select_normalize" not in stages  # dbt has not started
        with connect() as c:
            pipeline.close_run(c, "match:ing-1")
    thread.join(120)
    assert not thread.is_alive() and "error" not in out, out
    assert out["result"]["actors"] > 0
    assert "select_normalize" in _one(conn, "select stage_seconds from cluster_run where run_id = 'nightly'")[0]
