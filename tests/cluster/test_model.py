"""Learned matching (data_platform.cluster.model): Fellegi–Sunter by EM without labels, logistic
regression with labels, JSON round trip, and the behaviours issue 8 asks for, on a crafted population."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tests.cluster.crafted_matching import crafted_population

from data_platform.cluster import partition as P
from data_platform.cluster.comparisons import COL, N_LEVELS, NAMES, Compared, compare
from data_platform.cluster.model import EM_MAX_ITER, FellegiSunter, LogisticMatcher, model_from_json
from data_platform.cluster.params import RunParams
from data_platform.evaluate import pairwise_scores

THRESHOLD = 0.75  # the run's default threshold, read as a match probability


@pytest.fixture(scope="module")
def crafted():
    df = crafted_population(0)
    fitted: dict = {}
    parts = list(P.scored_partitions(df, RunParams(), model="fellegi_sunter", fitted=fitted))
    assert len(parts) == 1
    _, arr, scored, _ = parts[0]
    entity = df.set_index("identifiant_unique").loc[arr.ids, "entity"].to_numpy()
    return {"df": df, "model": FellegiSunter.from_json(fitted["model"]), "arr": arr, "scored": scored,
            "true": entity[scored.i] == entity[scored.j]}


def _rank_auc(score: np.ndarray, true: np.ndarray) -> float:
    """P(a true pair scores above a false pair), ties count half."""
    ranks = pd.Series(score).rank().to_numpy()
    n_t, n_f = int(true.sum()), int((~true).sum())
    return (ranks[true].sum() - n_t * (n_t + 1) / 2) / (n_t * n_f)


def test_em_converges_and_ranks_true_pairs_above_false(crafted):
    info = crafted["model"].info
    assert [s["blocked_on"] for s in info["sessions"]] == ["place", "siret_or_telephone"]
    assert all(s["iterations"] < EM_MAX_ITER for s in info["sessions"])
    score, true = crafted["scored"].score, crafted["true"]
    assert true.sum() > 100 and (~true).sum() > 500
    assert _rank_auc(score, true) > 0.98
    assert (score[true] >= 0.5).mean() > 0.95
    assert (score[~true] >= 0.5).mean() < 0.05
    # duplicates per actor: the crafted set has 206 true pairs among 333 actors (r ≈ 1.24)
    assert 0.8 < crafted["model"].r < 2.0


def test_json_round_trip_gives_the_same_probabilities(crafted):
    model, arr, scored = crafted["model"], crafted["arr"], crafted["scored"]
    c = compare(arr, scored.i, scored.j)
    back = model_from_json(json.loads(json.dumps(model.to_json())))
    assert isinstance(back, FellegiSunter) and back.to_json() == model.to_json()
    for a, b in zip(model.predict(c, len(arr)), back.predict(c, len(arr))):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        FellegiSunter.from_json({**model.to_json(), "comparisons": [{"name": "nom", "levels": ["exact"]}]})


def _before_other_establishment(data: dict) -> dict:
    """The model's JSON as saved before the SIRET comparison's other_establishment level existed."""
    out = json.loads(json.dumps(data))
    k = COL["siret"]
    out["comparisons"][k]["levels"] = ["siret", "siren", "other"]
    if "m" in out:
        out["m"][k] = [out["m"][k][0], out["m"][k][1], out["m"][k][3]]
        out["u"][k] = [out["u"][k][0], out["u"][k][1], out["u"][k][3]]
    else:
        start = int(N_LEVELS[:k].sum())
        del out["coef"][start + 2]
    return out


def test_a_model_saved_before_a_level_was_added_scores_it_as_the_old_level(crafted):
    arr, scored, true = crafted["arr"], crafted["scored"], crafted["true"]
    c = compare(arr, scored.i, scored.j)
    k = COL["siret"]
    lv = c.levels.copy()
    # the old model's "siren" level held every same-SIREN pair: read both new levels as it
    lv[:, k] = np.where(lv[:, k] == 2, 1, lv[:, k])
    as_old = Compared(c.i, c.j, lv, c.tf, c.distance_m)
    for model in (crafted["model"], LogisticMatcher.fit(c, true, len(arr))):
        old = _before_other_establishment(model.to_json())
        back = model_from_json(old)
        assert [x["levels"] for x in back.to_json()["comparisons"]] == [x["levels"] for x in model.to_json()["comparisons"]]
        # the saved model scores other_establishment pairs as it scored them (as "siren") before
        assert np.allclose(back.predict(c, len(arr))[1], back.predict(as_old, len(arr))[1])
    broken = _before_other_establishment(crafted["model"].to_json())
    broken["comparisons"][k]["levels"] = ["siret", "other"]
    with pytest.raises(ValueError, match="siret levels"):
        model_from_json(broken)


def _pair(crafted, a: dict, b: dict, model=None):
    """Probability, contributions and levels of the pair (a, b) added to the crafted partition."""
    base = {c: "" for c in P.SELECTION_COLUMNS}
    base.update({"est_parent": "f", "departement": "69", "ville_norm": "lyon", "code_postal_norm": "69003"})
    extra = pd.DataFrame([{**base, "identifiant_unique": "zz_a", "source": "sinoe", **a},
                          {**base, "identifiant_unique": "zz_b", "source": "cma", **b}])
    arr = P.prepare(pd.concat([crafted["df"][P.SELECTION_COLUMNS], extra], ignore_index=True))
    ia, ib = (int(np.flatnonzero(arr.ids == x)[0]) for x in ("zz_a", "zz_b"))
    c = compare(arr, np.array([ia]), np.array([ib]))
    prob, _, bf = (model or crafted["model"]).predict(c, len(arr))
    return float(prob[0]), dict(zip(NAMES, bf[0].tolist())), c.levels[0]


HERE = {"latitude": "45.760000", "longitude": "4.850000"}
M20 = {"latitude": "45.760180", "longitude": "4.850000"}   # 20 m north
KM2 = {"latitude": "45.778000", "longitude": "4.850000"}   # 2 km north


def test_typo_house_number_identical_name_20_m_apart_matches(crafted):
    for a, b in [("215", "251"), ("2n5", "215"), ("12o", "126"), ("59", "599")]:
        p, w, _ = _pair(crafted, {"nom_norm": "atelier bonnet", "adresse_norm": f"{a} rue pasteur", **HERE},
                        {"nom_norm": "atelier bonnet", "adresse_norm": f"{b} rue pasteur", **M20})
        assert p >= THRESHOLD, (a, b, p, w)


def test_shared_phone_alone_does_not_match(crafted):
    p, w, _ = _pair(crafted, {"nom_norm": "decheterie nord", "telephone_norm": "0478000000",
                              "adresse_norm": "3 rue voltaire", **HERE},
                    {"nom_norm": "ressourcerie colibri", "telephone_norm": "0478000000",
                     "adresse_norm": "80 avenue foch", **KM2})
    assert w["telephone"] > 0 and p < 0.5, (p, w)


def test_same_chain_name_2_km_apart_does_not_match(crafted):
    p, w, _ = _pair(crafted, {"nom_norm": "carrefour", "adresse_norm": "3 rue voltaire", **HERE},
                    {"nom_norm": "carrefour", "adresse_norm": "80 avenue foch", **KM2})
    assert w["nom"] > 0 and p < 0.5, (p, w)
    # the chain's name (held by 8+ actors of the partition) is weaker evidence than a rare name
    _, rare, _ = _pair(crafted, {"nom_norm": "horlogerie zacharie", **HERE}, {"nom_norm": "horlogerie zacharie", **M20})
    assert rare["nom"] > w["nom"] + 1


def test_missing_values_contribute_zero(crafted):
    _, w, levels = _pair(crafted, {"nom_norm": "atelier bonnet", "telephone_norm": "0478000000"},
                         {"nom_norm": "atelier bonnet"})
    assert levels[COL["telephone"]] == -1 and levels[COL["place"]] == -1
    assert {k for k, v in w.items() if v != 0} <= {"nom", "code_postal", "ville"}
    model = crafted["model"]
    empty = Compared(np.array([0]), np.array([1]), np.full((1, len(NAMES)), -1, np.int8),
                     np.full((1, 2), np.nan), np.array([np.nan]))
    assert np.array_equal(model.bayes_factors(empty), np.zeros((1, len(NAMES))))


def test_cluster_frame_with_the_model_is_deterministic_and_explained(crafted):
    df = crafted["df"]
    truth = pd.Series(df["entity"].to_numpy(), index=df["identifiant_unique"].to_numpy())
    m1, p1 = P.cluster_frame(df[P.SELECTION_COLUMNS], model="fellegi_sunter")
    m2, p2 = P.cluster_frame(df[P.SELECTION_COLUMNS], model=crafted["model"])
    pd.testing.assert_frame_equal(m1, m2)
    pd.testing.assert_frame_equal(p1, p2)
    pred = pd.Series(m1["cluster_id"].to_numpy(), index=m1["identifiant_unique"].to_numpy())
    q = pairwise_scores(df["identifiant_unique"], pred, truth)
    assert q["precision"] >= 0.97 and q["recall"] >= 0.93, q
    details = json.loads(p1["details"].iloc[0])
    assert set(details) >= {"fields", "matched", "distance_m", "weights", "match_weight"}
    assert set(details["weights"]) <= set(NAMES) and details["matched"]
    # every pair of each cluster is stored, its weakest included (issue 8 item 6), not only those ≥ threshold
    sizes = m1.groupby("cluster_id").size()
    assert p1.groupby("cluster_id").size().reindex(sizes.index, fill_value=0).eq(sizes * (sizes - 1) // 2).all()
    assert ((p1["score"] >= 0) & (p1["score"] <= 1)).all()
    # the learned model is the default; the former rules scorer stays selectable
    m_rules, _ = P.cluster_frame(df[P.SELECTION_COLUMNS], model="rules")
    assert len(m_rules) and P.model_kind(RunParams()) == "fellegi_sunter"
    assert P.model_kind(RunParams(model="rules")) == "rules"


def test_logistic_matcher_learns_from_labels_and_round_trips(crafted):
    arr, scored, true = crafted["arr"], crafted["scored"], crafted["true"]
    c = compare(arr, scored.i, scored.j)
    model = LogisticMatcher.fit(c, true, len(arr))
    assert model.info["labels"] == len(true) and model.info["cv_precision"] > 0.9 and model.info["cv_recall"] > 0.9
    prob, weight, per = model.predict(c, len(arr))
    assert _rank_auc(prob, true) > 0.98
    prior_term = LogisticMatcher.features(c, len(arr))[:, -1] * model.coef[-1] / np.log(2)
    assert np.allclose(model.intercept / np.log(2) + prior_term + per.sum(axis=1), weight)
    back = model_from_json(json.loads(json.dumps(model.to_json())))
    assert isinstance(back, LogisticMatcher)
    assert np.array_equal(back.predict(c, len(arr))[0], prob)
    m, _ = P.cluster_frame(crafted["df"][P.SELECTION_COLUMNS], model=back)
    assert len(m)
