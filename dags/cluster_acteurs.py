"""Clustering DAG: from ACTIF actors to typed merge suggestions, per département.

Wiring only: every task calls a function of data_platform.pipeline. Triggered from the Airflow UI
with the parameter form below, or by ingestion's asset events (then only the départements that
changed are clustered).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from data_platform.assets import ACTEURS_INGESTED
from data_platform.cluster.params import (
    ACTEUR_TYPE_CODES,
    DEFAULT_PARAMS,
    DESCRIPTIONS,
    EXACT_FIELDS,
    RAW_FIELDS,
    SOURCE_CODES,
)


def _list_param(name: str, choices: list[str] | None = None) -> Param:
    items = {"type": "string"}
    if choices:
        items["enum"] = choices
    return Param(DEFAULT_PARAMS[name], type="array", items=items, description=DESCRIPTIONS[name],
                 title=name, **({"examples": choices} if choices else {}))


def _bool_param(name: str) -> Param:
    return Param(DEFAULT_PARAMS[name], type="boolean", description=DESCRIPTIONS[name], title=name)


PARAMS = {
    "sources": _list_param("sources", SOURCE_CODES),
    "sources_apply_to_parents": _bool_param("sources_apply_to_parents"),
    "acteur_types": _list_param("acteur_types", ACTEUR_TYPE_CODES),
    "acteur_types_apply_to_parents": _bool_param("acteur_types_apply_to_parents"),
    "departements": _list_param("departements"),
    "departements_apply_to_parents": _bool_param("departements_apply_to_parents"),
    "nom_regex": Param(DEFAULT_PARAMS["nom_regex"], type="string", description=DESCRIPTIONS["nom_regex"],
                       title="nom_regex"),
    "nom_regex_apply_to_parents": _bool_param("nom_regex_apply_to_parents"),
    "required_fields": _list_param("required_fields", RAW_FIELDS),
    "required_fields_apply_to_parents": _bool_param("required_fields_apply_to_parents"),
    "normalize_drop_short_words": Param(DEFAULT_PARAMS["normalize_drop_short_words"], type="integer",
                                        minimum=0, maximum=10, title="normalize_drop_short_words",
                                        description=DESCRIPTIONS["normalize_drop_short_words"]),
    "normalize_sort_words": _bool_param("normalize_sort_words"),
    "exact_match_fields": _list_param("exact_match_fields", EXACT_FIELDS),
    "fuzzy_fields": Param(DEFAULT_PARAMS["fuzzy_fields"], type="object", title="fuzzy_fields",
                          description=DESCRIPTIONS["fuzzy_fields"]),
    "threshold": Param(DEFAULT_PARAMS["threshold"], type="number", minimum=0, maximum=1, title="threshold",
                       description=DESCRIPTIONS["threshold"]),
    "allow_same_source": _bool_param("allow_same_source"),
    "max_distance_m": Param(DEFAULT_PARAMS["max_distance_m"], type="number", minimum=0, title="max_distance_m",
                            description=DESCRIPTIONS["max_distance_m"]),
    "parent_source_priority": _list_param("parent_source_priority", SOURCE_CODES),
    "parent_excluded_sources": _list_param("parent_excluded_sources", SOURCE_CODES),
    "keep_parent_data": _bool_param("keep_parent_data"),
    "dry_run": _bool_param("dry_run"),
}


@dag(
    dag_id="cluster_acteurs",
    description="Cluster ACTIF actors per département and write merge suggestions for review",
    schedule=[ACTEURS_INGESTED],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # the per-run dbt selection is one table
    params=PARAMS,
    tags=["clustering"],
    doc_md=__doc__,
)
def cluster_acteurs():
    @task
    def validate_params() -> str:
        """Fails with a message naming the bad parameter before anything runs."""
        from data_platform import pipeline

        ctx = get_current_context()
        cluster_run_id = ctx["run_id"]
        departements: list[str] = []
        for events in (ctx.get("triggering_asset_events") or {}).values():
            for event in events:
                departements.extend((event.extra or {}).get("departements", []))
        pipeline.start_run(cluster_run_id, dict(ctx["params"]), dag_run_id=cluster_run_id,
                           departements_from_assets=departements)
        return cluster_run_id

    @task
    def select_and_normalize(cluster_run_id: str) -> str:
        from data_platform import pipeline

        print(pipeline.build_selection(cluster_run_id))
        return cluster_run_id

    @task
    def plan_batches(cluster_run_id: str) -> list[list[str]]:
        from data_platform import pipeline

        return pipeline.plan(cluster_run_id)

    @task(map_index_template="{{ task.op_kwargs['departements'][:3] | join(',') }}")
    def cluster_partitions(departements: list[str]) -> dict:
        from data_platform import pipeline

        return pipeline.cluster(get_current_context()["run_id"], departements)

    @task
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
        print(f"run report: {result['report']}")
        return {**counts, **result}

    cluster_run_id = validate_params()
    selected = select_and_normalize(cluster_run_id)
    clustered = cluster_partitions.expand(departements=plan_batches(selected))
    parents = choose_parents(selected, clustered)
    report(parents, write_suggestions(parents))


cluster_acteurs()
