"""Apply approved merge suggestions, then rebuild the displayed layer.

Every 5 minutes (and on demand from the UI). Wiring only: the work is in
data_platform.suggestions.apply (one locked transaction per suggestion, so two runs never apply
one suggestion twice and a crash leaves nothing in `applying`).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="apply_suggestions",
    description="Apply the suggestions approved by reviewers, then rebuild vue_acteur/displayed_acteur",
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"limit": Param(None, type=["null", "integer"], minimum=1, title="limit",
                           description="Apply at most this many suggestions (empty: all approved)")},
    tags=["suggestions"],
    doc_md=__doc__,
)
def apply_suggestions():
    @task
    def apply(params: dict | None = None) -> dict:
        from data_platform.suggestions.apply import apply_approved

        counts = apply_approved(limit=(params or {}).get("limit"))
        print(f"apply_approved: {counts}")
        return counts

    # pool `dbt` (1 slot, created by data_platform.airflow_runner.ensure_airflow_db): one dbt build at a
    # time across DAGs (the clustering DAG's dbt tasks share it); run_dbt's advisory lock backs it up
    @task(pool="dbt")
    def rebuild_displayed_layer(counts: dict) -> dict:
        from data_platform.suggestions.apply import rebuild_displayed_layer

        if not counts.get("applied") and not counts.get("recovered"):
            print("nothing applied: displayed layer unchanged")
            return {"rebuilt": False, "reason": "nothing applied"}
        return rebuild_displayed_layer()

    rebuild_displayed_layer(apply())


apply_suggestions()
