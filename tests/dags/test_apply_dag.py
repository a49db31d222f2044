"""The apply_suggestions DAG: parses without touching the database, and runs end to end with dag.test()."""
from __future__ import annotations

from data_platform.suggestions import sample


def test_dag_parses_with_schedule_and_tasks(dagbag):
    assert not {k: v for k, v in dagbag.import_errors.items() if "apply_suggestions" in k}
    dag = dagbag.get_dag("apply_suggestions")
    assert dag is not None
    assert dag.catchup is False and dag.max_active_runs == 1
    assert [t.task_id for t in dag.topological_sort()] == ["apply", "rebuild_displayed_layer"]
    assert dag.timetable.expression == "*/5 * * * *"


def test_dag_test_applies_approved_suggestions(db, airflow_env):
    from airflow.utils.state import DagRunState

    members = [sample.acteur("ecosystem_dag1", "Atelier vélo", source="ecosystem"),
               sample.acteur("refashion_dag2", "Atelier Velo", source="refashion")]
    sample.insert_acteurs(db, members)
    cid = sample.create_cohorte(db, "run-dag")
    spec = sample.cluster_spec(members)
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()

    import importlib.util

    from data_platform import settings

    module_spec = importlib.util.spec_from_file_location("apply_suggestions_dag",
                                                         settings.DAGS_DIR / "apply_suggestions.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    dr = module.apply_suggestions().test()
    assert dr.state == DagRunState.SUCCESS

    with db.cursor() as cur:
        cur.execute("select statut from suggestion where id = %s", (sid,))
        assert cur.fetchone()[0] == "applied"
        cur.execute("select parent_id from revision_acteur where identifiant_unique = 'ecosystem_dag1'")
        assert cur.fetchone()[0] == spec["contexte"]["parent"]["identifiant_unique"]
        # the displayed layer was rebuilt: the members are hidden behind their new parent
        cur.execute("select identifiant_unique from dbt.displayed_acteur where identifiant_unique = any(%s)",
                    (["ecosystem_dag1", "refashion_dag2", spec["contexte"]["parent"]["identifiant_unique"]],))
        assert [r[0] for r in cur.fetchall()] == [spec["contexte"]["parent"]["identifiant_unique"]]
    db.commit()


def test_dbt_task_runs_in_the_dbt_pool(dagbag):
    """One dbt build at a time across DAGs (issue 13 item 12): the dbt task is in the 1-slot pool `dbt`."""
    dag = dagbag.get_dag("apply_suggestions")
    assert {t.task_id: t.pool for t in dag.tasks} == {"apply": "default_pool", "rebuild_displayed_layer": "dbt"}
