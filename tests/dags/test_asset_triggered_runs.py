"""Asset-triggered clustering runs (issue 13 item 13): the départements come from the events by dbt's
rule; a junk code is skipped and reported, never failing the run; events that touched nothing make a
no-op run (`empty`, with the reason), never a run on all of France.

The DAG's first task is `assets.open_run(run_id, params, triggering_asset_events)`; these tests give
it the events as the Task SDK does (a TriggeringAssetEventsAccessor of AssetEventDagRunReferenceResult)
and run the stages the DAG maps, on the test PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.dags.test_cluster_dag import _load, _suggestions


def _events(*extras: dict):
    """The context's `triggering_asset_events` for events with these `extra`s on ACTEURS_INGESTED."""
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    from data_platform.assets import ACTEURS_INGESTED

    events = [AssetEventDagRunReferenceResult.model_validate({
        "asset": {"name": ACTEURS_INGESTED.name, "uri": ACTEURS_INGESTED.uri, "extra": {}},
        "extra": extra, "source_task_id": "ingest_source", "source_dag_id": "ingest_sources",
        "source_run_id": "manual__1", "source_map_index": i, "source_aliases": [],
        "timestamp": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)}) for i, extra in enumerate(extras)]
    return TriggeringAssetEventsAccessor.build(events)


def _run_stages(run_id: str) -> dict:
    """The DAG's stages after validate_params, in its order (one task each; the batches mapped)."""
    from data_platform import pipeline

    selection = pipeline.build_selection(run_id)
    pipeline.train_model(run_id)
    batches = pipeline.plan(run_id)
    clustered = [pipeline.cluster(run_id, batch) for batch in batches]
    pipeline.build_parents(run_id)
    counts = pipeline.write(run_id)
    return {"selection": selection, "batches": batches, "clustered": clustered,
            **pipeline.finish(run_id, counts)}


def _run_row(db, run_id):
    with db.cursor() as cur:
        cur.execute("select status, error, params, stage_seconds from cluster_run where run_id = %s", (run_id,))
        row = cur.fetchone()
    db.commit()
    return row


def test_events_give_the_departements_junk_is_skipped_and_reported():
    from data_platform.assets import departements_to_cluster

    touched = departements_to_cluster(_events(
        {"source": "refashion", "departements": ["01", "2A", "99", "inconnu"]},
        {"source": "sinoe", "departements": ["01", "974", "", "20"]},
        {"source": "manual"}))
    assert touched.departements == ["01", "2A", "974", "inconnu"]
    assert touched.ignored == ["", "20", "99"]  # no département (Corsica is 2A/2B), never a failure
    assert touched.events == 3 and touched.sources == ["manual", "refashion", "sinoe"]
    assert touched.reason == ""
    assert departements_to_cluster(_events()) is None  # not triggered: the run's own parameters
    assert departements_to_cluster(None) is None


def test_a_junk_code_does_not_fail_the_triggered_run(db, airflow_env):
    """Today's code fails the run ("unknown value '99'"); now '99' is skipped and reported, and the
    run clusters the départements that are real."""
    from data_platform.assets import open_run

    _load(db)
    run_id = "asset_junk"
    open_run(run_id, {}, _events({"source": "refashion", "departements": ["01", "99"]},
                                 {"source": "ecomaison", "departements": ["74"]}), dag_run_id=run_id)
    result = _run_stages(run_id)
    status, error, params, stages = _run_row(db, run_id)
    assert (status, error) == ("done", "") and result["status"] == "done"
    assert params["departements"] == ["01", "74"]
    assert stages["asset_events"] == {"events": 2, "sources": ["ecomaison", "refashion"],
                                      "departements": ["01", "74"], "ignored": ["99"]}
    assert sorted(dep for *_, dep in _suggestions(db)) == ["01", "74"]  # not 05, not 75
    page = Path(result["report"]).read_text(encoding="utf-8")
    assert "asset_events" in page and "99" in page  # the report shows the ignored code


@pytest.mark.parametrize("extras", [
    [{"source": "refashion"}],                                    # no département key at all
    [{"source": "refashion", "departements": []}],                # touched nothing
    [{"source": "refashion", "departements": ["99", "00000"]}],   # only junk
], ids=["no-key", "empty", "only-junk"])
def test_an_event_that_touched_nothing_is_a_noop_run(db, airflow_env, extras):
    """Today's code clusters all of France; now the run is `empty` with the reason, no dbt build,
    no batch, no suggestion, and a report that says so."""
    from data_platform.assets import open_run

    _load(db)
    run_id = "asset_noop"
    open_run(run_id, {}, _events(*extras), dag_run_id=run_id)
    status, error, *_ = _run_row(db, run_id)
    assert status == "empty" and error.startswith("nothing to cluster: the 1 asset event(s)")
    result = _run_stages(run_id)
    assert result["selection"] == {"actors": 0, "partitions": 0} and result["batches"] == []
    status, error, _, stages = _run_row(db, run_id)
    assert status == "empty" and "name no département" in error and result["status"] == "empty"
    assert "select_normalize" not in stages  # the selection was never built
    with db.cursor() as cur:
        cur.execute("select count(*) from cluster_membership")
        assert cur.fetchone()[0] == 0
        cur.execute("select to_regclass('dbt.cluster_selection') is null")
        assert cur.fetchone()[0]
    assert _suggestions(db) == []
    assert "sélection vide" in Path(result["report"]).read_text(encoding="utf-8")
    db.commit()


def test_a_manual_run_is_not_narrowed(db, airflow_env):
    """Without asset events the run's own parameters apply (every département of the data)."""
    from data_platform.assets import open_run

    _load(db)
    assert open_run("manual_run", {"departements": ["05"]}, _events(), dag_run_id="manual_run") is None
    status, _, params, stages = _run_row(db, "manual_run")
    assert status == "running" and params["departements"] == ["05"] and "asset_events" not in stages
    db.commit()


def test_the_batches_parameter_sets_the_number_of_batches_and_memory_is_recorded(db, airflow_env):
    """Issue 14 item 3: `batches` (the slots that run them) sets how many mapped batches; each batch
    records the peak memory of the process that ran it."""
    from data_platform import pipeline

    _load(db)  # 4 départements: 01, 05, 74, 75
    sizes = {}
    for n in (0, 1, 2, 3):
        run_id = f"batches_{n}"
        pipeline.start_run(run_id, {"batches": n} if n else {}, dag_run_id=run_id)
        pipeline.build_selection(run_id)
        pipeline.train_model(run_id)
        batches = pipeline.plan(run_id)
        sizes[n] = len(batches)
        assert sorted(d for b in batches for d in b) == ["01", "05", "74", "75"]
        if n == 2:
            results = [pipeline.cluster(run_id, b) for b in batches]
            assert all(r["peak_rss_mb"] > 10 for r in results)
            _, _, _, stages = _run_row(db, run_id)
            assert len(stages["batch_peak_rss_mb"]) == 2
            assert all(v > 10 for v in stages["batch_peak_rss_mb"].values())
    assert sizes == {0: min(pipeline.DEFAULT_BATCHES, 4), 1: 1, 2: 2, 3: 3}
    with pytest.raises(Exception, match="parameter 'batches'"):
        pipeline.start_run("batches_bad", {"batches": 1000})
    db.commit()


def test_touched_departements_follow_the_dbt_rule(db):
    """Ingestion's side: exception communes (Claret 05110 is in 04), the revision's postal code, the
    old postal code of a changed actor, and `inconnu` for an empty or junk code ('99999')."""
    from data_platform.assets import touched_departements

    with db.cursor() as cur:
        cur.execute("insert into acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, "
                    "code_postal, ville) values ('refashion_M', 'M', 'refashion', 'commerce', 'Moved', '74000', "
                    "'Annecy'), ('refashion_R', 'R', 'refashion', 'commerce', 'Revised', '75002', 'Paris')")
        cur.execute("insert into revision_acteur (identifiant_unique, code_postal, ville) "
                    "values ('refashion_R', '20000', 'Ajaccio')")
        cur.execute("create temp table _ingest_diff (change_type text, identifiant_unique text, code_postal text, "
                    "ville text)")
        cur.execute("insert into _ingest_diff values ('new', 'refashion_C', '05110', 'Claret'), "
                    "('changed', 'refashion_M', '01000', 'Bourg-en-Bresse'), "
                    "('changed', 'refashion_R', '75003', 'Paris'), "
                    "('new', 'refashion_J', '99999', 'Nowhere'), ('vanished', 'refashion_E', '', '')")
        found = touched_departements(cur)
    db.rollback()
    # 04 (Claret, not 05), 01 (new) and 74 (old) of the moved actor, 2A (the revision wins, not 75),
    # inconnu (the junk and the empty codes: the partition dbt puts them in)
    assert found == ["01", "04", "2A", "74", "inconnu"]
    assert json.dumps(found)
