"""Clustering DAG: from ACTIF actors to typed merge suggestions, per département.

Wiring only: every task calls a function of data_platform.pipeline. Triggered from the Airflow UI
with the parameter form generated from data_platform.cluster.params, or by ingestion's asset events (then only the départements that
changed are clustered).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from data_platform.assets import ACTEURS_INGESTED
from data_platform.cluster.params import airflow_params


def _mark_failed(context) -> None:
    """A run whose DAG run failed (even a killed task) ends `failed` in cluster_run."""
    from data_platform import pipeline

    pipeline.fail_run(context["run_id"], context.get("reason") or "the DAG run failed")


@dag(
    dag_id="cluster_acteurs",
    description="Cluster ACTIF actors per département and write merge suggestions for review",
    schedule=[ACTEURS_INGESTED],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # the per-run dbt selection is one table (match runs: pipeline.run_lock)
    params=airflow_params(),
    on_failure_callback=_mark_failed,
    tags=["clustering"],
    doc_md=__doc__,
)
def cluster_acteurs():
    @task
    def validate_params() -> str:
        """Fails with a message naming the bad parameter before anything runs.

        Triggered by ingestion's asset events: only the départements they touched (junk codes skipped
        and reported in the log and the run's `asset_events`); none touched → a no-op run (`empty`)."""
        from data_platform.assets import open_run

        ctx = get_current_context()
        cluster_run_id = ctx["run_id"]
        touched = open_run(cluster_run_id, dict(ctx["params"]), ctx.get("triggering_asset_events"),
                           dag_run_id=cluster_run_id)
        if touched is not None:
            print(f"asset events: {touched.as_dict()}" + (f"; {touched.reason}" if touched.reason else ""))
        return cluster_run_id

    @task(pool="dbt")  # dbt builds run one at a time (the apply DAG rebuilds the displayed layer)
    def select_and_normalize(cluster_run_id: str) -> str:
        from data_platform import pipeline

        print(pipeline.build_selection(cluster_run_id))
        return cluster_run_id

    @task
    def train_model(cluster_run_id: str) -> str:
        """One model for the whole run (saved, or fitted once on the selection): every batch uses it."""
        from data_platform import pipeline

        print(pipeline.train_model(cluster_run_id))
        return cluster_run_id

    @task
    def plan_batches(cluster_run_id: str) -> list[list[str]]:
        from data_platform import pipeline

        return pipeline.plan(cluster_run_id)

    @task(map_index_template="{{ task.op_kwargs['departements'][:3] | join(',') }}")
    def cluster_partitions(departements: list[str]) -> dict:
        from data_platform import pipeline

        return pipeline.cluster(get_current_context()["run_id"], departements)

    @task(trigger_rule="none_failed")  # after every mapped batch (none for an empty selection)
    def cluster_across_partitions(cluster_run_id: str, _clustered: list[dict]) -> str:
        """Duplicates across partitions, `inconnu` included (run parameter `national`)."""
        from data_platform import pipeline

        print(pipeline.cluster_national(cluster_run_id))
        return cluster_run_id

    @task(trigger_rule="none_failed", pool="dbt")  # an empty selection maps no cluster task: still close the run
    def choose_parents(cluster_run_id: str, _clustered: list[dict]) -> str:
        from data_platform import pipeline

        print(pipeline.build_parents(cluster_run_id))
        return cluster_run_id

    @task
    def write_suggestions(cluster_run_id: str) -> dict:
        from data_platform import pipeline

        return pipeline.write(cluster_run_id, dag_id="cluster_acteurs", dag_run_id=cluster_run_id)

    @task
    def report(cluster_run_id: str, counts: dict) -> dict:
        from data_platform import pipeline

        result = pipeline.finish(cluster_run_id, counts)
        print(f"cohort counts: {counts}")
        print(f"run {result['status']}, report: {result['report_url']} (file {result['report']})")
        from data_platform.report.notices import zero_suggestions_warning

        if warning := zero_suggestions_warning(counts):
            print(f"WARNING: {warning}")
        return {**counts, **result}

    cluster_run_id = validate_params()
    selected = select_and_normalize(cluster_run_id)
    clustered = cluster_partitions.expand(departements=plan_batches(train_model(selected)))
    parents = choose_parents(cluster_across_partitions(selected, clustered), clustered)
    report(parents, write_suggestions(parents))


cluster_acteurs()
