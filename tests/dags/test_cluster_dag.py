"""The cluster_acteurs DAG end to end with dag.test(): a crafted dataset that produces every change
type, the exact suggestions written, no duplicates on a second run, invalid parameters refused."""
from __future__ import annotations

import copy
import hashlib
import importlib.util

import pytest

ACTEURS = [
    # (identifiant_unique, source, nom, adresse, code_postal, ville, siret, telephone, lat, lon)
    # A: two orphans, one place -> a parent is created
    ("refashion_A1", "refashion", "Emmaüs Connect", "12 avenue Jean Jaurès", "01000", "Bourg-en-Bresse",
     "", "0474000001", 46.2052, 5.2255),
    ("ecosystem_A2", "ecosystem", "EMMAUS CONNECT SARL", "12 av Jean Jaures", "1000", "BOURG EN BRESSE",
     "", "04 74 00 00 01", 46.2053, 5.2256),
    # B: a child of an existing parent + an orphan -> parent kept, child verified, orphan repointed
    ("refashion_B1", "refashion", "La Recyclerie du Lac", "5 rue du Lac", "74000", "Annecy",
     "", "0450000002", 45.8992, 6.1294),
    ("ecomaison_B2", "ecomaison", "RECYCLERIE DU LAC", "5 r du Lac", "74000", "ANNECY",
     "", "", 45.8993, 6.1295),
    # C: children of two parents of one place -> the parent with most children kept, the other deleted
    ("refashion_C1a", "refashion", "Déchèterie de Gap", "Route de Marseille", "05000", "Gap",
     "", "0492000003", 44.5594, 6.0786),
    ("ecosystem_C1b", "ecosystem", "DECHETERIE DE GAP", "route de Marseille", "05000", "GAP",
     "", "", 44.5595, 6.0787),
    ("ecomaison_C2a", "ecomaison", "Dechetterie Gap", "Rte de Marseille", "05000", "Gap",
     "", "", 44.5594, 6.0788),
    # a stranger, alone
    ("corepile_N1", "corepile", "Boulangerie Martin", "3 rue de la Paix", "75002", "Paris",
     "", "", 48.8686, 2.3314),
]
PARENTS = [
    ("parent_B", "Recyclerie du Lac", "5 rue du Lac", "74000", "Annecy", 45.8992, 6.1294),
    ("parent_C1", "Déchèterie de Gap", "Route de Marseille", "05000", "Gap", 44.5594, 6.0786),
    ("parent_C2", "Déchèterie de Gap", "Route de Marseille", "05000", "Gap", 44.5594, 6.0786),
]
CHILDREN = {"refashion_B1": "parent_B", "refashion_C1a": "parent_C1", "ecosystem_C1b": "parent_C1",
            "ecomaison_C2a": "parent_C2"}


def _load(db):
    with db.cursor() as cur:
        for ident, source, nom, adresse, cp, ville, siret, tel, lat, lon in ACTEURS:
            cur.execute(
                "insert into acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, adresse,"
                " code_postal, ville, siret, telephone, latitude, longitude)"
                " values (%s, %s, %s, 'commerce', %s, %s, %s, %s, %s, %s, %s, %s)",
                (ident, ident.split("_", 1)[1], source, nom, adresse, cp, ville, siret, tel, lat, lon))
        for ident, nom, adresse, cp, ville, lat, lon in PARENTS:
            cur.execute(
                "insert into revision_acteur (identifiant_unique, acteur_type, nom, adresse, code_postal, ville,"
                " latitude, longitude, statut) values (%s, 'commerce', %s, %s, %s, %s, %s, %s, 'ACTIF')",
                (ident, nom, adresse, cp, ville, lat, lon))
        for child, parent in CHILDREN.items():
            cur.execute("insert into revision_acteur (identifiant_unique, parent_id) values (%s, %s)",
                        (child, parent))
    db.commit()


def _module():
    from data_platform import settings

    spec = importlib.util.spec_from_file_location("cluster_acteurs_dag", settings.DAGS_DIR / "cluster_acteurs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dag():
    return _module().cluster_acteurs()


def _suggestions(db):
    with db.cursor() as cur:
        cur.execute("select s.changes, s.taille, s.statut, s.departement from suggestion s "
                    "order by s.departement, s.id")
        return cur.fetchall()


def test_dag_parses(dagbag):
    assert not {k: v for k, v in dagbag.import_errors.items() if "cluster_acteurs" in k}
    dag = dagbag.get_dag("cluster_acteurs")
    assert dag.max_active_runs == 1
    assert "threshold" in dag.params and "dry_run" in dag.params


def test_default_params_pass_airflow_validation(dagbag):
    """What the trigger form submits untouched: Airflow's own ParamsDict validation, then ours."""
    from data_platform.cluster.params import SECTIONS, SPECS, RunParams

    dag = dagbag.get_dag("cluster_acteurs")
    resolved = copy.deepcopy(dag.params).validate()  # each default against its schema, as a trigger does
    assert list(resolved) == list(SPECS)
    assert resolved["nom_regex"] is None and resolved["departements"] is None
    assert RunParams.from_raw(resolved) == RunParams()
    # the form: sections, French titles, the technical name in the description, labelled choices
    schemas = {name: dag.params.get_param(name).schema for name in SPECS}
    assert {s["section"] for s in schemas.values()} == set(SECTIONS)
    assert schemas["threshold"]["title"] == "Seuil de correspondance"
    assert dag.params.get_param("threshold").description.startswith("threshold — ")
    assert schemas["departements"]["values_display"]["13"] == "13 Bouches-du-Rhône"
    assert "null" in schemas["nom_regex"]["type"] and "PostgreSQL" in dag.params.get_param("nom_regex").description


def test_airflow_accepts_nulls_and_refuses_bad_values(dagbag):
    from airflow.exceptions import ParamValidationError

    dag = dagbag.get_dag("cluster_acteurs")

    def submit(conf: dict) -> dict:  # what a trigger does with its conf: update the DAG's params, validate
        params = copy.deepcopy(dag.params)
        params.update(conf)
        return params.validate()

    ok = submit({"nom_regex": None, "sources": None, "departements": ["2A", "975"]})
    assert ok["nom_regex"] is None and ok["sources"] is None and ok["departements"] == ["2A", "975"]
    # types and bounds are the form's; unknown codes are refused by the first task, naming the parameter
    assert submit({"departements": ["20"]})["departements"] == ["20"]
    for bad in ({"threshold": 2}, {"normalize_drop_short_words": 11}, {"fuzzy_fields": {"nom": -1}},
                {"dry_run": "yes"}, {"nom_regex": 3}, {"parent_source_priority": "sinoe"}):
        with pytest.raises(ParamValidationError):
            submit(bad)


def test_every_change_type_end_to_end(db, airflow_env):
    from airflow.utils.state import DagRunState

    _load(db)
    dr = _dag().test()
    assert dr.state == DagRunState.SUCCESS

    suggestions = _suggestions(db)
    _assert_every_change_type(suggestions)
    assert all(statut == "to_review" for _, _, statut, _ in suggestions)
    # the parent to create gets its data from the members, never identity fields
    create = next(c for changes, *_ in suggestions for c in changes if c["type"] == "acteur_create_as_parent")
    assert create["data"]["nom"] and "source" not in create["data"] and "statut" not in create["data"]
    with db.cursor() as cur:
        cur.execute("select compteurs, rapport_path from suggestion_cohorte")
        [(counts, report)] = cur.fetchall()
        cur.execute("select status, report_path, stage_seconds ? 'select_normalize' from cluster_run")
        [(status, run_report, timed)] = cur.fetchall()
    assert counts["changes"] == {"acteur_create_as_parent": 1, "acteur_keep_as_parent": 2,
                                 "acteur_update_parent_id": 4, "acteur_verify_in_revision": 3,
                                 "acteur_delete_as_parent": 1}
    assert status == "done" and timed and report == run_report and report.endswith(".html")

    # same input, second run: nothing new to review (no duplicate pending suggestion)
    dr = _dag().test()
    assert dr.state == DagRunState.SUCCESS
    assert len(_suggestions(db)) == 3
    with db.cursor() as cur:
        cur.execute("select compteurs from suggestion_cohorte order by id desc limit 1")
        assert cur.fetchone()[0]["skipped"]["pending"] == 3
    db.commit()


def _assert_every_change_type(suggestions) -> None:
    """The crafted dataset's exact suggestions, whichever scorer found them."""
    by_dep = {dep: [(c["type"], c["identifiant_unique"], c.get("parent_id")) for c in changes]
              for changes, _, _, dep in suggestions}
    created = "parent_" + hashlib.md5(b"ecosystem_A2|refashion_A1").hexdigest()[:24]
    assert by_dep == {
        "01": [("acteur_create_as_parent", created, None),
               ("acteur_update_parent_id", "ecosystem_A2", created),
               ("acteur_update_parent_id", "refashion_A1", created)],
        "05": [("acteur_keep_as_parent", "parent_C1", None),
               ("acteur_update_parent_id", "ecomaison_C2a", "parent_C1"),
               ("acteur_verify_in_revision", "ecosystem_C1b", "parent_C1"),
               ("acteur_verify_in_revision", "refashion_C1a", "parent_C1"),
               ("acteur_delete_as_parent", "parent_C2", None)],
        "74": [("acteur_keep_as_parent", "parent_B", None),
               ("acteur_update_parent_id", "ecomaison_B2", "parent_B"),
               ("acteur_verify_in_revision", "refashion_B1", "parent_B")],
    }


def test_the_model_of_a_run_is_recorded_on_the_run_the_cohort_and_the_report(db, airflow_env):
    """model = em: one model fitted for the whole run by the train_model task (8 actors: the shipped
    default's m, u of this data), saved and recorded; a later run naming its id reuses it unfitted."""
    from pathlib import Path

    from airflow.utils.state import DagRunState

    _load(db)
    dr = _dag().test(run_conf={"model": "em"})
    assert dr.state == DagRunState.SUCCESS
    assert {ti.task_id: ti.state for ti in dr.get_task_instances()}["train_model"] == "success"
    _assert_every_change_type(_suggestions(db))
    with db.cursor() as cur:
        cur.execute("select run_id, model_id, report_path, stage_seconds ? 'model' from cluster_run")
        [(run_id, model_id, report, timed)] = cur.fetchall()
        cur.execute("select id, kind, trained_on, created_by, parameters->'info'->>'fallback' from match_model")
        [(saved, kind, trained_on, created_by, fallback)] = cur.fetchall()
        cur.execute("select parametres from suggestion_cohorte")
        [(parametres,)] = cur.fetchall()
    assert model_id == saved and kind == "fellegi_sunter" and timed
    assert trained_on == f"run {run_id}" and created_by == "pipeline" and "default model" in fallback
    assert parametres["model"] == "em" and parametres["model_id"] == model_id
    page = Path(report).read_text(encoding="utf-8")
    assert "Modèle de correspondance" in page and f"model export {model_id} " in page

    dr = _dag().test(run_conf={"model": str(model_id)})
    assert dr.state == DagRunState.SUCCESS
    with db.cursor() as cur:
        cur.execute("select count(*) from match_model")
        assert cur.fetchone()[0] == 1  # nothing fitted
        cur.execute("select model_id from cluster_run where run_id <> %s", (run_id,))
        assert cur.fetchone()[0] == model_id
        cur.execute("select compteurs, parametres->>'model_id' from suggestion_cohorte order by id desc limit 1")
        counts, cohort_model = cur.fetchone()
    assert counts["skipped"]["pending"] == 3 and cohort_model == str(model_id)
    db.commit()


@pytest.mark.parametrize("conf, name", [({"departements": ["20"]}, "departements"),
                                        ({"nom_regex": "(unclosed"}, "nom_regex")])
def test_invalid_parameter_fails_the_first_task(db, airflow_env, conf, name):
    from airflow.utils.state import DagRunState

    dr = _dag().test(run_conf=conf)
    assert dr.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["validate_params"] == "failed"
    assert states["select_and_normalize"] in ("upstream_failed", None)
    with db.cursor() as cur:
        cur.execute("select count(*) from suggestion_cohorte")
        assert cur.fetchone()[0] == 0
        cur.execute("select status, error from cluster_run")
        [(status, error)] = cur.fetchall()
    assert status == "failed" and f"'{name}'" in error  # the run ends, with the error naming the parameter
    db.commit()


def test_a_selection_without_actor_ends_empty(db, airflow_env):
    """A valid département with no actor: every task green, the run `empty`, a report that says so."""
    from pathlib import Path

    from airflow.utils.state import DagRunState

    _load(db)
    dr = _dag().test(run_conf={"departements": ["975"]})
    assert dr.state == DagRunState.SUCCESS
    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert states["report"] == "success" and states["choose_parents"] == "success"
    with db.cursor() as cur:
        cur.execute("select status, report_path, finished_at is not null from cluster_run")
        [(status, report, finished)] = cur.fetchall()
        cur.execute("select count(*) from suggestion_cohorte")
        assert cur.fetchone()[0] == 0
    assert status == "empty" and finished
    assert "sélection vide" in Path(report).read_text(encoding="utf-8")
    db.commit()


def test_dag_failure_callback_closes_a_running_run_only(db, airflow_env):
    """The DAG's on_failure_callback (a task killed before its stage could record the error)."""
    from data_platform import pipeline

    module = _module()
    assert module.cluster_acteurs().on_failure_callback is module._mark_failed
    pipeline.start_run("killed", {})
    pipeline.start_run("finished", {})
    with db.cursor() as cur:
        cur.execute("update cluster_run set status = 'done' where run_id = 'finished'")
    db.commit()
    for run_id in ("killed", "finished"):
        module._mark_failed({"run_id": run_id, "reason": "task_failure"})
    with db.cursor() as cur:
        cur.execute("select run_id, status, error from cluster_run order by run_id")
        assert cur.fetchall() == [("finished", "done", ""), ("killed", "failed", "task_failure")]
    db.commit()
