"""run_all clusters its batches in parallel worker processes; the output does not depend on it."""
from __future__ import annotations

import pytest


def _outputs(conn, run_id: str):
    with conn.cursor() as cur:
        cur.execute("select cluster_id, identifiant_unique, departement from cluster_membership "
                    "where run_id = %s order by 1, 2", (run_id,))
        members = cur.fetchall()
        cur.execute("select cluster_id, id_a, id_b, score, details::text from cluster_pair "
                    "where run_id = %s order by 1, 2, 3", (run_id,))
        pairs = cur.fetchall()
    conn.commit()
    return members, pairs


@pytest.fixture
def generated(db):
    from data_platform.generate.output import load_database
    from data_platform.generate.population import generate

    load_database(db, generate(3000, seed=5))
    db.commit()
    return db


def test_parallel_batches_give_the_serial_runs_clusters_ids_and_pairs(generated, monkeypatch):
    """The same selection clustered in one process (one batch) and in two worker processes (four
    batches): same clusters, same cluster ids, same pairs and details, same order."""
    from data_platform import pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ACTORS", 0)  # parallel even for a small selection
    params = {"model": "em", "dry_run": True}
    serial = pipeline.run_all("serial", params, n_batches=1, workers=1)
    parallel = pipeline.run_all("parallel", params, n_batches=4, workers=2)
    assert serial["clusters"] == parallel["clusters"] > 50
    members_s, pairs_s = _outputs(generated, "serial")
    members_p, pairs_p = _outputs(generated, "parallel")
    assert members_s == members_p and pairs_s == pairs_p
    with generated.cursor() as cur:  # the run saw its four batches (one timing per partition merged)
        cur.execute("select jsonb_object_keys(stage_seconds->'partitions') from cluster_run where run_id = 'parallel'")
        assert len(cur.fetchall()) == serial["selection"]["partitions"]


def test_cluster_batches_runs_each_batch_in_a_worker_and_keeps_their_order(generated):
    from data_platform import pipeline

    pipeline.start_run("order", {"model": "rules", "dry_run": True})
    pipeline.build_selection("order")
    batches = pipeline.plan("order", 3)
    seen = []
    results = pipeline.cluster_batches("order", batches, workers=2, on_done=lambda r: seen.append(r["departements"]))
    assert [r["departements"] for r in results] == [sorted(b) for b in batches] == seen


def test_the_model_fitted_in_worker_processes_is_the_serial_one(generated, monkeypatch):
    """Training's comparisons computed in two worker processes (random pairs drawn in the parent, in
    the serial order): the same Fellegi–Sunter parameters as the serial fit."""
    from data_platform import pipeline
    from data_platform.cluster.compared_cache import drop_run
    from data_platform.cluster.params import RunParams

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ACTORS", 0)
    pipeline.start_run("fit", {"model": "em", "dry_run": True})
    pipeline.build_selection("fit")
    params = pipeline.load_params("fit")
    assert isinstance(params, RunParams)
    serial, seen_s = pipeline.fit_selection_model(generated, "fit", params, processes=1)
    drop_run(generated, "fit")  # the workers compute their comparisons, not read the serial fit's back
    parallel, seen_p = pipeline.fit_selection_model(generated, "fit", params, processes=2)
    assert seen_s == seen_p and not serial.info["fallback"]
    assert parallel.to_json() == serial.to_json()


def test_until_clusters_stops_at_the_final_clusters(generated):
    """dedupe-csv's stages: the same memberships as the whole run, the run closed, no changes built for it."""
    from data_platform import pipeline

    params = {"model": "em", "dry_run": True}
    whole = pipeline.run_all("whole", params, n_batches=1, workers=1)
    short = pipeline.run_all("short", params, n_batches=1, workers=1, until="clusters")
    assert short["clusters"] == whole["clusters"] and "suggestions" not in short and short["status"] == "done"
    assert _outputs(generated, "short") == _outputs(generated, "whole")
    with generated.cursor() as cur:
        cur.execute("select count(*) from dbt.cluster_changes where run_id = 'short'")
        assert cur.fetchone()[0] == 0
        cur.execute("select status, finished_at is not null from cluster_run where run_id = 'short'")
        assert cur.fetchone() == ("done", True)
    with pytest.raises(ValueError, match="until"):
        pipeline.run_all("bad", params, until="parents")


def test_the_workers_server_starts_before_dbt_when_the_selection_will_be_parallel(generated, monkeypatch):
    """run_all starts the forkserver (its imports) before dbt builds the selection when the acteur table
    holds PARALLEL_MIN_ACTORS rows or more (the planner's estimate), not for a small job."""
    from data_platform import pipeline

    with generated.cursor() as cur:
        cur.execute("analyze acteur")
    generated.commit()
    assert pipeline._acteurs_estimate() == 3000
    events = []
    build = pipeline.build_selection
    monkeypatch.setattr(pipeline, "start_server", lambda: events.append("server"))
    monkeypatch.setattr(pipeline, "build_selection", lambda run_id: events.append("dbt") or build(run_id))
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ACTORS", 3000)
    pipeline.run_all("early", {"model": "rules", "dry_run": True}, workers=2, until="clusters")
    assert events == ["server", "dbt"]
    events.clear()
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_ACTORS", 3001)
    pipeline.run_all("small", {"model": "rules", "dry_run": True}, workers=2, until="clusters")
    assert events == ["dbt"]


def test_start_server_runs_the_forkserver_the_pools_use():
    from multiprocessing import forkserver

    from data_platform.workers import start_server, worker_context

    start_server()
    assert forkserver._forkserver._forkserver_pid is not None
    with worker_context().Pool(1) as pool:
        assert pool.map(abs, [-1, -2]) == [1, 2]
