"""Run parameters: one table (RunParams) → defaults, validation naming the parameter, the docs; the name
regex checked by PostgreSQL; every run ends done, failed or empty."""
import pickle

import psycopg2.errors
import pytest

from data_platform.cluster.params import (
    DEFAULT_PARAMS,
    SECTIONS,
    SPECS,
    ParamError,
    RunParams,
    contracts_markdown,
    param_schema,
    validate_params,
    validate_run_id,
)


def test_defaults_are_valid_and_complete():
    p = validate_params({})
    assert set(p) == set(DEFAULT_PARAMS)
    assert p["threshold"] == DEFAULT_PARAMS["threshold"]
    assert p["sources"] == []
    assert RunParams.from_raw({}) == RunParams()


@pytest.mark.parametrize("raw, name", [
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": "high"}, "threshold"),
    ({"sources": ["nope"]}, "sources"),
    ({"acteur_types": ["garage"]}, "acteur_types"),
    ({"departements": ["20"]}, "departements"),
    ({"departements": ["977"]}, "departements"),
    ({"departements": ["13\n"]}, "departements"),  # `$` would accept the trailing newline
    ({"departements": ["2a"]}, "departements"),
    ({"nom_regex": r"\bdecheterie\b"}, "nom_regex"),  # \b is a backspace in PostgreSQL: say so
    ({"nom_regex": "x" * 501}, "nom_regex"),
    ({"required_fields": ["identifiant_unique"]}, "required_fields"),
    ({"fuzzy_fields": {"nom": 1, "color": 1}}, "fuzzy_fields"),
    ({"fuzzy_fields": {"adresse": 1}}, "fuzzy_fields"),
    ({"max_distance_m": -1}, "max_distance_m"),
    ({"dry_run": "yes"}, "dry_run"),
    ({"exact_match_fields": ["nom"]}, "exact_match_fields"),
    ({"normalize_drop_short_words": 2.5}, "normalize_drop_short_words"),
    ({"parent_source_priority": ["sinoe", "nope"]}, "parent_source_priority"),
    ({"thresold": 0.5}, "thresold"),
])
def test_invalid_parameter_is_named(raw, name):
    with pytest.raises(ParamError) as err:
        validate_params(raw)
    assert err.value.name == name
    assert f"'{name}'" in str(err.value)


def test_values_are_normalized():
    p = validate_params({"sources": "refashion, ecosystem", "departements": ["2A", "971", "01", "2A"],
                         "threshold": 1})
    assert p["sources"] == ["refashion", "ecosystem"]
    assert p["departements"] == ["2A", "971", "01"]
    assert p["threshold"] == 1.0 and isinstance(p["threshold"], float)


def test_none_means_the_default():
    """What the Airflow form submits for an emptied nullable field."""
    p = RunParams.from_raw({"nom_regex": None, "departements": None, "sources": None, "required_fields": None})
    assert p.nom_regex == "" and p.departements == () and p.sources == () and p.required_fields == ()
    assert p == RunParams()


def test_run_params_are_typed_frozen_and_round_trip():
    p = RunParams.from_raw({"departements": ["2A", "975", "inconnu"], "threshold": 0.8,
                            "fuzzy_fields": {"nom": 1, "adresse": 0.5}})
    assert p.departements == ("2A", "975", "inconnu") and p.threshold == 0.8
    with pytest.raises(AttributeError):
        p.threshold = 0.1
    with pytest.raises(TypeError):
        p.fuzzy_fields["nom"] = 0
    assert RunParams.from_dict(p.to_dict()) == p
    assert pickle.loads(pickle.dumps(p)) == p  # batches go to worker processes
    assert p.scoring == {"fuzzy_fields": {"nom": 1.0, "adresse": 0.5}, "exact_match_fields": (), "max_distance_m": 0.0}
    assert p.replace(threshold=0.9).threshold == 0.9
    assert RunParams.from_dict({"threshold": 0.6}) == RunParams().replace(threshold=0.6)  # older rows: defaults


def test_run_id_is_checked():
    assert validate_run_id("manual__2026-11-22T00:43:06.797781+00:00")
    with pytest.raises(ParamError):
        validate_run_id("x'; drop table acteur; --")
    with pytest.raises(ParamError):
        validate_run_id("run\n")


def test_every_parameter_has_a_section_a_french_title_and_a_description():
    for name, spec in SPECS.items():
        assert spec.section in SECTIONS and spec.title and spec.description, name
        schema = param_schema(name)
        assert schema["title"] == spec.title and schema["description"].startswith(f"{name} — ")
    assert param_schema("nom_regex")["type"] == ["null", "string"]
    assert "PostgreSQL" in param_schema("nom_regex")["description"] and "\\y" in SPECS["nom_regex"].description
    dep = param_schema("departements")
    assert dep["type"] == ["null", "array"] and dep["values_display"]["2A"] == "2A Corse-du-Sud"
    assert dep["examples"][0] == "01" and "975" in dep["examples"]
    priority = param_schema("parent_source_priority")
    assert priority["type"] == ["null", "array"] and "examples" not in priority  # ordered, one per line
    assert all("null" in param_schema(name)["type"] for name in SPECS)  # no field is "required"
    assert RunParams.from_raw({name: None for name in SPECS}) == RunParams()


def test_contracts_md_documents_every_parameter():
    from data_platform.settings import ROOT

    text = (ROOT / "docs" / "CONTRACTS.md").read_text(encoding="utf-8")
    rendered = contracts_markdown()
    assert rendered in text, "docs/CONTRACTS.md is stale: run python -m data_platform.cluster.params"
    for name in SPECS:
        assert f"| `{name}` |" in rendered


# ---------------------------------------------------------------- with PostgreSQL

@pytest.mark.parametrize("regex", ["(unclosed", "a*+", "a{2,1}"])
def test_start_run_checks_the_regex_with_postgresql(db, regex):
    from data_platform import pipeline

    with pytest.raises(ParamError) as err:
        pipeline.start_run("bad_regex", {"nom_regex": regex})
    assert err.value.name == "nom_regex" and "PostgreSQL" in str(err.value)
    with db.cursor() as cur:
        cur.execute("select status, error from cluster_run where run_id = 'bad_regex'")
        status, error = cur.fetchone()
    assert status == "failed" and "'nom_regex'" in error


def test_start_run_accepts_postgresql_word_boundaries(db):
    from data_platform import pipeline

    params = pipeline.start_run("good_regex", {"nom_regex": r"\ydecheterie\y", "departements": None})
    assert params.nom_regex == r"\ydecheterie\y"
    assert pipeline.load_params("good_regex") == params
    with db.cursor() as cur:
        cur.execute("select params, status from cluster_run where run_id = 'good_regex'")
        stored, status = cur.fetchone()
    assert stored == params.to_dict() and set(stored) == set(DEFAULT_PARAMS) and status == "running"


def test_a_failing_stage_marks_the_run_failed(db):
    from data_platform import pipeline

    pipeline.start_run("will_fail", {})
    with pytest.raises(psycopg2.errors.UndefinedTable):
        pipeline.cluster("will_fail", ["01"])  # no dbt.cluster_selection: the stage raises
    with db.cursor() as cur:
        cur.execute("select status, error, finished_at is not null from cluster_run where run_id = 'will_fail'")
        status, error, finished = cur.fetchone()
    assert status == "failed" and error.startswith("cluster: ") and "cluster_selection" in error and finished


def test_a_run_with_no_actor_ends_empty_with_a_report(db):
    from pathlib import Path

    from data_platform import pipeline

    with db.cursor() as cur:
        cur.execute("insert into acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, "
                    "code_postal, ville) values ('refashion_1', '1', 'refashion', 'commerce', 'Emmaüs', '01000', "
                    "'Bourg')")
    db.commit()
    summary = pipeline.run_all("empty_975", {"departements": ["975"]})
    assert summary["selection"]["actors"] == 0
    assert summary["clusters"] == 0 and summary["changes"] == {} and summary["suggestions"]["empty"]
    assert summary["status"] == "empty"
    with db.cursor() as cur:
        cur.execute("select status, finished_at is not null from cluster_run where run_id = 'empty_975'")
        assert cur.fetchone() == ("empty", True)
        cur.execute("select count(*) from suggestion_cohorte")
        assert cur.fetchone()[0] == 0
    assert "sélection vide" in Path(summary["report"]).read_text(encoding="utf-8")
