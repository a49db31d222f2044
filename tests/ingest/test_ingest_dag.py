"""The ingestion DAG: imports cleanly, and a dag.test() run against the replay server ingests and
emits one ACTEURS_INGESTED event per changed source with its départements."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def airflow_ready(database_url):
    from data_platform import settings
    from data_platform.airflow_runner import ensure_airflow_db

    os.environ.update(settings.airflow_env())
    ensure_airflow_db()
    yield


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    from data_platform import settings

    bag = DagBag(dag_folder=str(settings.DAGS_DIR / "ingest_sources.py"))
    assert bag.import_errors == {}
    return bag.get_dag("ingest_sources")


def test_dag_imports(airflow_ready):
    dag = _dag()
    assert dag is not None and set(dag.params.keys()) >= {"sources", "base_url", "force", "max_deleted_share"}
    assert {t.task_id for t in dag.tasks} == {"select_sources", "prepare", "ingest_source"}
    assert dag.catchup is False


def test_dag_run_emits_asset_events(airflow_ready, ingest_db, replay):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag = _dag()
    run = dag.test(run_conf={"sources": ["aliapur", "sinoe"], "base_url": replay.base_url})
    assert str(run.state) in ("success", "DagRunState.SUCCESS")
    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_dag_id == "ingest_sources",
                                                          AssetEvent.source_run_id == run.run_id)).all()
        extras = sorted((e.extra for e in events), key=lambda e: e["source"])
    assert [e["source"] for e in extras] == ["aliapur", "sinoe"]
    with ingest_db.cursor() as cur:
        cur.execute("""select source, array_agg(distinct array[code_postal, ville]) from acteur group by source
                       order by source""")
        by_source = dict(cur.fetchall())
    from data_platform.geo import departement_from_postal_code

    for extra in extras:  # dbt's rule, `inconnu` included (issue 13 item 13: that partition is re-clustered too)
        assert extra["departements"] == sorted({departement_from_postal_code(cp, ville)
                                                for cp, ville in by_source[extra["source"]]})
    assert {"2A", "2B", "974"} & set(extras[0]["departements"] + extras[1]["departements"])

    # a second run on unchanged data: every source skipped, no new event
    again = dag.test(run_conf={"sources": ["aliapur", "sinoe"], "base_url": replay.base_url})
    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_dag_id == "ingest_sources",
                                                          AssetEvent.source_run_id == again.run_id)).all()
        states = {ti.map_index: str(ti.state) for ti in again.get_task_instances(session=session)
                  if ti.task_id == "ingest_source"}
    assert events == [] and set(states.values()) <= {"skipped", "TaskInstanceState.SKIPPED"} and len(states) == 2
