"""labels.active.learn: EM as the prior, labels to correct it, never worse than EM by
cross-validation on the labels; the corrected model (LogisticMatcher.fit_offset) round-trips."""
import json

import numpy as np
import pytest

from data_platform.cluster.model import LogisticMatcher, model_from_json, precision_recall
from data_platform.labels.active import ActiveLearner, Pool, learn
from tests.labels.test_active import crafted_frame


@pytest.fixture(scope="module")
def pool():
    return Pool.from_frame(crafted_frame()[0])


@pytest.fixture(scope="module")
def truth(pool):
    return pool.truth_labels(crafted_frame()[1])


def _em_f1(pool, rows, y, threshold):
    prob = pool.model.predict(pool.subset(rows), pool.partition_size[rows])[0]
    return precision_recall(prob >= threshold, y)["f1"]


@pytest.mark.parametrize("seed", range(6))
def test_labels_never_make_the_cross_validated_quality_worse_than_em(pool, truth, seed):
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(pool), 40, replace=False))
    y = truth[rows].copy()
    if seed % 2:  # a careless labeller: a fifth of the answers flipped
        flip = rng.choice(40, 8, replace=False)
        y[flip] = ~y[flip]
    model = learn(pool.model, pool.subset(rows), y, pool.partition_size[rows], threshold=0.75, min_per_class=3)
    assert model.info["labels"] == 40
    assert model.info["cv_f1"] >= _em_f1(pool, rows, y, 0.75)
    assert model.info["candidates"]["fellegi_sunter"]["cv_f1"] == _em_f1(pool, rows, y, 0.75)


def test_em_is_kept_when_it_already_agrees_with_the_labels(pool, truth):
    prob = pool.model.predict(pool.compared, pool.partition_size)[0]
    right = np.flatnonzero((prob >= 0.5) == truth)  # pairs EM decides right at 0.5
    rows = np.r_[right[truth[right]][:15], right[~truth[right]][:15]]
    y = truth[rows]
    model = learn(pool.model, pool.subset(rows), y, pool.partition_size[rows], threshold=0.5, min_per_class=3)
    assert model.kind == "fellegi_sunter" and model.info["chosen"] == "fellegi_sunter"
    assert model.info["cv_f1"] == 1.0 and "logistic" in model.info["candidates"]
    assert np.array_equal(model.predict(pool.compared, pool.partition_size)[0], prob)


def test_corrections_of_em_learn_the_moved_duplicates_and_round_trip(pool, truth):
    learner = ActiveLearner(pool, threshold=0.75)
    assert not (learner.probabilities[truth] >= 0.75).any()  # EM misses every duplicate here
    negatives = np.flatnonzero(~truth)
    hardest = negatives[np.argsort(-learner.probabilities[negatives], kind="stable")[:10]]  # EM's likeliest
    rows = np.r_[np.flatnonzero(truth)[:10], hardest]
    model = LogisticMatcher.fit_offset(pool.subset(rows), truth[rows], pool.partition_size[rows], pool.model,
                                       threshold=0.75)
    prob, weight, per = model.predict(pool.compared, pool.partition_size)
    found = precision_recall(prob >= 0.75, truth)
    assert found["recall"] >= 0.95 and found["precision"] >= 0.95
    assert model.info["cv_recall"] >= 0.9 and 0.0 < model.info["cv_threshold"] < 1.0
    back = model_from_json(json.loads(json.dumps(model.to_json())))
    assert back.offset and np.array_equal(back.predict(pool.compared, pool.partition_size)[0], prob)
    # without corrections the model is EM itself; the waterfall adds up to the weight but for the prior
    none = LogisticMatcher(np.zeros_like(model.coef), 0.0, 1.0, base=pool.model, offset=True)
    em_prob, em_weight, em_bf = pool.model.predict(pool.compared, pool.partition_size)
    assert np.allclose(none.predict(pool.compared, pool.partition_size)[0], em_prob)
    assert np.allclose(weight - per.sum(axis=1), (em_weight - em_bf.sum(axis=1)) * (1 + model.coef[-1] / 10.0)
                       + model.intercept / np.log(2.0))
