"""Saved match models (data_platform.cluster.model_store): the match_model table, export/import through
one JSON file, the model of a run (a saved id is used as it is, never refitted; a few rows fall back
to the shipped default model), and what cluster_batch scores with."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data_platform import pipeline
from data_platform.cli import main
from data_platform.cluster import model_store
from data_platform.cluster import partition as P
from data_platform.cluster.model import (
    MIN_FIT_PAIRS,
    FellegiSunter,
    default_model,
    fit_selection,
)
from data_platform.cluster.params import RunParams
from tests.cluster.crafted_matching import crafted_population
from tests.cluster.test_cluster_partition_db import _create_selection, _fetch, _rows


@pytest.fixture(scope="module")
def crafted():
    df = crafted_population(0)[P.SELECTION_COLUMNS]
    fitted: dict = {}
    parts = list(P.scored_partitions(df, RunParams(), model="fellegi_sunter", fitted=fitted))
    (_, arr, scored, _), = parts
    compared = P.ModelScorer(None, RunParams().scoring).compare(arr, scored.i, scored.j)
    return {"df": df, "model": FellegiSunter.from_json(fitted["model"]), "arr": arr, "compared": compared}


def _count(db) -> int:
    return _fetch(db, "select count(*) from match_model")[0][0]


def test_export_import_round_trip_gives_the_same_probabilities(db, tmp_path, crafted):
    model, arr, compared = crafted["model"], crafted["arr"], crafted["compared"]
    first = model_store.save(db, model, name="crafted", trained_on="crafted population", created_by="tester")
    db.commit()
    path = tmp_path / "model.json"
    assert main(["model", "export", "latest", str(path)]) == 0
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert exported["match_model"]["id"] == first and exported["match_model"]["name"] == "crafted"
    assert exported["kind"] == "fellegi_sunter" and exported["m"] == model.to_json()["m"]

    assert main(["model", "import", str(path), "--created-by", "other"]) == 0
    listed = model_store.list_models(db)
    second = listed[0]["id"]
    assert [r["id"] for r in listed] == [second, first] and second > first
    assert listed[0]["name"] == "crafted" and listed[0]["created_by"] == "other"
    assert listed[0]["trained_on"] == f"import of model.json (model {first}: crafted population)"
    row = model_store.load_row(db, second)
    assert row["comparisons"] == exported["comparisons"] and row["n_labels"] == 0

    loaded_id, back = model_store.load(db, second)
    assert loaded_id == second and back.to_json() == model.to_json()
    for a, b in zip(model.predict(compared, len(arr)), back.predict(compared, len(arr))):
        assert np.array_equal(a, b)
    # a plain model JSON (bench/bench_matching.py --model-out) imports too; another version's does not
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(model.to_json()), encoding="utf-8")
    third = model_store.import_model(db, plain)
    assert model_store.load_row(db, "latest")["id"] == third
    wrong = {**model.to_json(), "comparisons": [{"name": "nom", "levels": ["exact", "other"]}]}
    plain.write_text(json.dumps(wrong), encoding="utf-8")
    with pytest.raises(ValueError, match="compares"):
        model_store.import_model(db, plain)
    with pytest.raises(LookupError):
        model_store.load(db, 999_999)
    db.commit()


def test_a_run_with_a_model_id_uses_that_model_without_fitting(db, crafted, make_selection):
    saved = model_store.save(db, crafted["model"], name="crafted")
    _create_selection(db, _rows(make_selection), params={"model": str(saved)})
    params = RunParams.load(db, "run1")
    assert params.model == str(saved)
    result = pipeline.choose_model(db, "run1", params)
    db.commit()
    assert result == {"model": str(saved), "model_id": saved, "fitted": False}
    assert _count(db) == 1 and _fetch(db, "select model_id from cluster_run")[0][0] == saved
    # the batch scores with the run's model: the stored scores are its probabilities
    P.cluster_batch("run1", ["69"], params)
    stored = _fetch(db, "select id_a, id_b, score from cluster_pair order by 1, 2")
    df = make_selection([r for r in _rows(make_selection).to_dict("records") if r["departement"] == "69"])
    _, expected = P.cluster_frame(df, params, model=crafted["model"])
    assert stored == list(expected[["id_a", "id_b", "score"]].itertuples(index=False, name=None))
    assert len(stored) == 3 and _count(db) == 1  # nothing was fitted
    with pytest.raises(LookupError):
        pipeline.choose_model(db, "run1", params.replace(model="999999"))


def test_latest_takes_the_newest_saved_model_and_rules_records_none(db, crafted, make_selection):
    _create_selection(db, _rows(make_selection), params={"model": "latest"})
    # nothing saved yet: 'latest' fits (here: too few pairs, the default model's m) and saves it
    fitted = pipeline.choose_model(db, "run1", RunParams(model="latest"))
    assert fitted["fitted"] and fitted["fallback"] and fitted["model_id"] == model_store.latest_id(db)
    newer = model_store.save(db, crafted["model"], name="crafted")
    assert pipeline.choose_model(db, "run1", RunParams(model="latest")) == {
        "model": "latest", "model_id": newer, "fitted": False}
    assert pipeline.choose_model(db, "run1", RunParams(model="rules"))["model_id"] is None
    assert _fetch(db, "select model_id from cluster_run")[0][0] is None
    db.rollback()


def test_small_data_uses_the_default_model_with_its_own_u(make_selection):
    # two records of one shop, alone in their partition: EM cannot learn from one pair
    df = make_selection([
        {"identifiant_unique": f"{src}_1", "source": src, "nom_norm": "friperie", "adresse_norm": "5 rue des lilas",
         "ville_norm": "paris", "departement": ""} for src in ("refashion", "ecosystem")])
    parts = []
    for _, part in P.partitions_of(df):
        arr = P.prepare(part)
        parts.append((arr, P.compare_partition(arr, RunParams(), scorer=P.ModelScorer(None, RunParams().scoring))))
    assert sum(len(c) for _, c in parts) < MIN_FIT_PAIRS
    model = fit_selection(parts)
    shipped = default_model()
    assert model.info["fallback"] and "generated" in model.info["m_from"]
    assert all(np.array_equal(a, b) for a, b in zip(model.m, shipped.m)) and model.r == shipped.r
    # u re-estimated on this data, the shipped u as its prior (one random pair moves it a little)
    assert model.info["random_pairs"] == 1
    assert any(not np.array_equal(a, b) for a, b in zip(model.u, shipped.u))
    assert all(np.allclose(a, b, atol=1e-3) for a, b in zip(model.u, shipped.u))
    # and the pair matches (a name shared by both actors of a partition of two is still evidence)
    m, p = P.cluster_frame(df, RunParams(allow_same_source=True), model="em")
    assert sorted(m["identifiant_unique"]) == ["ecosystem_1", "refashion_1"] and (p["score"] > 0.75).all()


def test_enough_pairs_are_fitted_by_em(crafted):
    df = crafted["df"]
    parts = [(crafted["arr"], crafted["compared"])]
    assert len(crafted["compared"]) >= MIN_FIT_PAIRS
    model = fit_selection(parts)
    assert model.info["fallback"] is False and [s["blocked_on"] for s in model.info["sessions"]] == [
        "place", "siret_or_telephone"]
    assert model.to_json()["m"] == crafted["model"].to_json()["m"]  # what cluster_frame fits, deterministic
    assert len(df) == len(crafted["arr"])


def test_training_samples_whole_partitions_deterministically():
    sizes = {f"{d:02d}": 10_000 + d for d in range(1, 40)}
    chosen = pipeline.sample_partitions(sizes, max_actors=100_000)
    assert chosen == pipeline.sample_partitions(dict(reversed(sizes.items())), max_actors=100_000)
    assert sum(sizes[d] for d in chosen) <= 100_000 and len(chosen) == 9
    assert pipeline.sample_partitions({"75": 5, "69": 3}) == ["69", "75"]
    assert pipeline.sample_partitions({"75": 500_000}, max_actors=10) == ["75"]  # never empty
    assert pd.Series(chosen).is_monotonic_increasing
