"""Nightly ingestion of ADEME's data-fair portals into `acteur` (issue 5).

One mapped task per source (dynamic task mapping over the configured sources). Each source that
changed `acteur` emits an event on the ACTEURS_INGESTED asset with the départements it touched
(dbt's partitions before and after the change, `inconnu` included: data_platform.assets), so that
clustering can run on them only. A source whose dataset did not change, or whose feed
matches `acteur` already, is skipped (no event). Guards (mass deletion, lost column) fail the
source's task with the reason; nothing of that source is applied.

Params: sources (default all), base_url (e.g. the local replay server), force, max_deleted_share.
No database access at parse time: the source list comes from the YAML files.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Metadata, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from data_platform.assets import ACTEURS_INGESTED
from data_platform.ingest.config import source_codes

SOURCES = source_codes()


@dag(
    dag_id="ingest_sources",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ingestion"],
    doc_md=__doc__,
    params={
        "sources": Param([], type="array", items={"type": "string", "enum": SOURCES},
                         description=f"Sources to ingest (empty: all of {', '.join(SOURCES)})"),
        "base_url": Param("", type="string",
                          description="Override every source's portal, e.g. http://127.0.0.1:8765/data-fair/api/v1"),
        "force": Param(False, type="boolean", description="Ingest even when the dataset did not change"),
        "max_deleted_share": Param(None, type=["null", "number"], minimum=0, maximum=1,
                                   description="Accept a feed removing up to this share of a source's actors "
                                               "(default: each source's own, 10%)"),
        "year": Param(None, type=["null", "integer"], description="SINOE's ANNEE_eq (default: last year)"),
    },
)
def ingest_sources():
    @task
    def select_sources() -> list[str]:
        from data_platform.ingest.config import load_sources

        params = get_current_context()["params"]
        return [c.code for c in load_sources(params.get("sources") or None)]

    @task
    def prepare() -> None:
        """Staging tables and the dbt views of models/ingest (one dbt run, only when needed)."""
        from data_platform.ingest.pipeline import ensure_models

        ensure_models()

    @task(outlets=[ACTEURS_INGESTED], max_active_tis_per_dagrun=2)
    def ingest_source(source: str):
        from data_platform.ingest.config import load_sources
        from data_platform.ingest.pipeline import IngestOptions
        from data_platform.ingest.pipeline import ingest_source as run_source

        context = get_current_context()
        params = context["params"]
        opts = IngestOptions(base_url=params.get("base_url") or None, force=bool(params.get("force")),
                             max_deleted_share=params.get("max_deleted_share"), year=params.get("year"),
                             run_id=f"{context['dag_run'].run_id}:{source}")
        result = run_source(load_sources([source])[0], opts)
        print(result.as_dict())
        if result.status == "skipped" or not result.changed:
            raise AirflowSkipException(f"{source}: {result.message}")
        yield Metadata(ACTEURS_INGESTED, extra={"source": source, "departements": result.departements})
        return result.as_dict()

    codes = select_sources()
    prepare() >> ingest_source.expand(source=codes)


ingest_sources()
