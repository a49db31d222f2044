"""Active learning of the match model (dedupe's idea): ask a person about the candidate pairs the
current model is least sure of, retrain every few answers.

`Pool.from_frame(df)` builds the candidate pairs of a normalized selection-shaped frame exactly as the
clustering does (same blocking, same comparison levels, per département partition) and fits the
zero-label model on them (Fellegi–Sunter by EM). `ActiveLearner` then:
- `next_pair()`: the unlabelled pair whose probability is nearest the decision `threshold` (where the
  labels can change a decision; 0.5 by default), penalised when its département or its comparison
  pattern (the vector of levels) was already asked, so that ten near-identical pairs are never asked
  in a row; ties broken by the pair's ids (deterministic);
- `answer(k, label)`: True (oui), False (non) or None (je ne sais pas: never asked again, not a label);
  every `retrain_every` labels the model is retrained (`retrain` → `learn`), which keeps the best by
  cross-validation on the labels of:
  - EM alone (the zero-label model; its quality on the labels is measured directly);
  - EM corrected by the labels, once both classes have `MIN_PER_CLASS` labels
    (`LogisticMatcher.fit_offset`): EM's log odds as an offset plus ridge-penalized corrections (one
    per comparison level, a rescaling of EM's evidence, a free intercept), so that a few labels near
    the boundary adjust EM instead of relearning the whole model; its decision cut chosen by
    cross-validation and aligned on the run's threshold;
  - while no label is a non-match, EM seeded by the labelled matches (m re-estimated with them
    counted as certain matches, EM's m weighing as many matches as it was fitted on).
  A model trained on the labels replaces EM only when its cross-validated F1 on them is higher by
  MIN_F1_GAIN: labels never make the model worse than EM by that measure.
- `quality(truth)`: pairwise precision / recall / F1 of the current model on the pool's candidates
  at `threshold` against a truth (identifiant_unique → entity), the denominator of the recall being
  every true pair of the frame (candidates missed by blocking count as misses).

Measured 2026-12-02 on the shared 2-core machine, `bench/bench_active_learning.py --actors 50000 --seed 42`
(47,916 ACTIF actors with email/url, 259,502 candidate pairs, threshold 0.75, oracle = entity_id,
retraining every 10 labels), pairwise precision / recall on the candidates:
    labels   0 (EM)          20              40              60              80              100
    before   0.9904/0.9933   0.9906/0.9932   0.9880/0.9934   0.9732/0.9933   0.9965/0.9791   0.9961/0.9812
    now      0.9904/0.9933   0.9949/0.9872   0.9903/0.9950   0.9956/0.9907   0.9938/0.9935   0.9907/0.9948
("before": `data-platform label --oracle-column entity_id --budget 100`, retraining every 5, with the
logistic regression on labels plus 3,000 pseudo-labels of each class from EM's sure pairs, questions
nearest 0.5, EM seeded with m worth 10 pairs; it traded recall for precision.) With EM
as an offset the labelled model's F1 is 0.9927–0.9937 from 40 labels (EM 0.9919; the same features
fully supervised on every candidate: 0.9937 / 0.9938 at 0.5), P ≥ 0.99 and R ≥ 0.99 from 40 labels.
The labels pay most where EM's assumptions fail (tests/labels/test_active.py: duplicates that moved,
recall 0 → 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_platform.cluster import partition as P
from data_platform.cluster.comparisons import N_LEVELS, Compared
from data_platform.cluster.model import M_PSEUDO_COUNT, FellegiSunter, LogisticMatcher, precision_recall
from data_platform.cluster.params import RunParams

MIN_PER_CLASS = 5          # labels of each class before the logistic regression replaces EM
RETRAIN_EVERY = 5          # labels between two retrainings
DEPARTEMENT_PENALTY = 0.05  # per earlier question in the same département
PATTERN_PENALTY = 0.5       # the same comparison pattern was already asked
SEED = 20_241_202
MIN_F1_GAIN = 0.05     # cross-validated F1 a labelled model must gain over the model it replaces


@dataclass
class Pool:
    """Candidate pairs of a frame: global row indices `a`, `b` into `ids`, their comparison levels
    `compared` (concatenated over partitions), the partition of each pair and its size."""
    frame: pd.DataFrame                 # rows in partition order, as prepared by the clustering
    ids: np.ndarray
    a: np.ndarray
    b: np.ndarray
    compared: Compared
    departement: np.ndarray
    partition_size: np.ndarray
    model: FellegiSunter                # the zero-label model

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, params: RunParams | None = None, workers: int = 1) -> Pool:
        params = params or RunParams()
        scorer = P.ModelScorer(None, params.scoring, workers)
        parts, frames, depts, sizes, a, b = [], [], [], [], [], []
        offset = 0
        for d, part in P.partitions_of(df):
            arr = P.prepare(part)
            compared = P.compare_partition(arr, params, workers, scorer=scorer)
            parts.append((arr, compared))
            frames.append(part.sort_values("identifiant_unique", kind="stable"))
            a.append(compared.i + offset)
            b.append(compared.j + offset)
            depts.append(np.full(len(compared), d, dtype=object))
            sizes.append(np.full(len(compared), float(len(arr))))
            offset += len(arr)
        model = FellegiSunter.fit_partitions(parts)
        frame = pd.concat(frames, ignore_index=True) if frames else df.iloc[:0]
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.empty(0, dt))
        return cls(frame, frame["identifiant_unique"].to_numpy(dtype=object), cat(a, np.int64), cat(b, np.int64),
                   Compared.concat([c for _, c in parts]) if parts else Compared.empty(),
                   cat(depts, object), cat(sizes, np.float64), model)

    def pair_ids(self, k: int) -> tuple[str, str]:
        return str(self.ids[self.a[k]]), str(self.ids[self.b[k]])

    def subset(self, rows: np.ndarray) -> Compared:
        c = self.compared
        return Compared(c.i[rows], c.j[rows], c.levels[rows], c.tf[rows], c.distance_m[rows])

    def truth_labels(self, truth: pd.Series) -> np.ndarray:
        """True where both sides of the pair have the same non-empty entity in `truth`."""
        t = truth[~truth.index.duplicated()].reindex(self.ids).fillna("").astype(str).to_numpy()
        ta, tb = t[self.a], t[self.b]
        return (ta == tb) & (ta != "")


def _patterns(levels: np.ndarray) -> np.ndarray:
    """One integer per distinct row of comparison levels."""
    base = (N_LEVELS + 1).astype(np.int64)
    code = np.zeros(len(levels), np.int64)
    for k in range(levels.shape[1]):
        code = code * base[k] + (levels[:, k].astype(np.int64) + 1)
    return code


@dataclass
class ActiveLearner:
    pool: Pool
    threshold: float = 0.5
    retrain_every: int = RETRAIN_EVERY
    min_per_class: int = MIN_PER_CLASS
    labels: dict = field(default_factory=dict)      # pair index → True / False
    skipped: set = field(default_factory=set)       # "je ne sais pas"
    model: object = None
    history: list = field(default_factory=list)     # [(labels, model kind)] after each retraining

    def __post_init__(self):
        if self.model is None:
            self.model = self.pool.model
        self._prob = self._predict(self.model)
        self._pattern = _patterns(self.pool.compared.levels)
        order = np.lexsort((self.pool.ids[self.pool.b].astype(str), self.pool.ids[self.pool.a].astype(str)))
        self._tiebreak = np.empty(len(order), np.int64)
        self._tiebreak[order] = np.arange(len(order))
        # départements and comparison patterns as codes, counted in arrays: choosing a pair is a few
        # vectorized passes over the pool (a pandas map over 4 M pairs per question took 0.5 s)
        self._dept_code, depts = pd.factorize(pd.Series(self.pool.departement, dtype=object))
        self._asked_dept = np.zeros(len(depts) + 1, np.float64)
        self._pattern_code, patterns = pd.factorize(self._pattern)
        self._asked_pattern = np.zeros(len(patterns) + 1, bool)

    def _predict(self, model) -> np.ndarray:
        if not len(self.pool):
            return np.empty(0)
        prob, _, _ = model.predict(self.pool.compared, self.pool.partition_size)
        return prob

    @property
    def probabilities(self) -> np.ndarray:
        return self._prob

    def next_pair(self) -> int | None:
        """Index of the pool pair to ask next (None when every pair was asked)."""
        n = len(self.pool)
        if n == len(self.labels) + len(self.skipped):
            return None
        uncertainty = np.abs(self._prob - self.threshold)
        dept_count = self._asked_dept[self._dept_code]
        seen_pattern = self._asked_pattern[self._pattern_code]
        cost = uncertainty + DEPARTEMENT_PENALTY * dept_count + PATTERN_PENALTY * seen_pattern
        asked = np.fromiter(list(self.labels) + list(self.skipped), np.int64)
        cost[asked] = np.inf
        best = np.flatnonzero(cost == cost.min())
        return int(best[np.argmin(self._tiebreak[best])])

    def mark_asked(self, k: int) -> None:
        """Pair k's département and comparison pattern count as asked (the diversity of next_pair)."""
        self._asked_dept[self._dept_code[k]] += 1
        self._asked_pattern[self._pattern_code[k]] = True

    def answer(self, k: int, label: bool | None) -> bool:
        """Record the answer about pair k; returns True when the model was retrained."""
        self.mark_asked(k)
        if label is None:
            self.skipped.add(k)
            return False
        self.labels[k] = bool(label)
        if len(self.labels) % self.retrain_every == 0:
            self.retrain()
            return True
        return False

    def retrain(self) -> None:
        rows = np.fromiter(self.labels, np.int64)
        y = np.fromiter(self.labels.values(), bool)
        pool = self.pool
        self.model = learn(pool.model, pool.subset(rows), y, pool.partition_size[rows], threshold=self.threshold,
                           min_per_class=self.min_per_class)
        self._prob = self._predict(self.model)
        self.history.append((len(self.labels), self.model.kind))

    def quality(self, truth: pd.Series, true_pairs: int | None = None) -> dict:
        """Pairwise precision / recall / F1 of the current model on the candidates at `threshold`."""
        is_match = self.pool.truth_labels(truth)
        if true_pairs is None:
            true_pairs = count_true_pairs(self.pool.ids, truth)
        pred = self._prob >= self.threshold
        tp = int((pred & is_match).sum())
        precision = tp / int(pred.sum()) if pred.any() else 1.0
        recall = tp / true_pairs if true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        info = getattr(self.model, "info", {})
        return {"labels": len(self.labels), "model": info.get("chosen", self.model.kind),
                "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                "cv_precision": info.get("cv_precision"), "cv_recall": info.get("cv_recall")}


def _folds(y: np.ndarray, cv: int = 5):
    """Deterministic (train, test) folds of the labels: stratified when both classes have two
    labels, else plain folds; none for fewer than two labels."""
    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(y.astype(int), minlength=2)
    if counts.min() >= 2:
        return list(StratifiedKFold(min(cv, int(counts.min())), shuffle=True, random_state=SEED).split(y, y))
    if len(y) >= 2:
        return list(KFold(min(cv, len(y)), shuffle=True, random_state=SEED).split(y))
    return []


def em_matches(base: FellegiSunter) -> float:
    """How many matches EM's m was estimated from (its expected matches among the candidates), the
    weight of EM's m against labelled matches when they are counted in (at least M_PSEUDO_COUNT): a
    few labels move the m of a model fitted on a handful of matches, not of one fitted on thousands."""
    share = float(base.info.get("candidate_match_share") or 0.0)
    pairs = float(base.info.get("candidate_pairs") or 0.0)
    return max(M_PSEUDO_COUNT, share * pairs)


def seeded_em(base: FellegiSunter, levels: np.ndarray, y: np.ndarray) -> FellegiSunter:
    """EM's model with m re-estimated from the labelled matches' levels (counted as certain matches,
    Dirichlet-centred on EM's m); u and r kept."""
    m = [x.copy() for x in base.m]
    pos = levels[y]
    strength = em_matches(base)
    for k, n_lev in enumerate(N_LEVELS.tolist()):
        col = pos[:, k]
        counts = np.bincount(col[col >= 0].astype(np.int64), minlength=n_lev).astype(np.float64)
        m[k] = (counts + strength * base.m[k]) / (counts.sum() + strength)
    info = {**base.info, "labels": len(y), "positives": int(y.sum()), "seeded_by_labels": True}
    return FellegiSunter(m, base.u, base.r, info)


def learn(base: FellegiSunter, labelled: Compared, y: np.ndarray, sizes: np.ndarray, *,
          threshold: float = 0.5, min_per_class: int = MIN_PER_CLASS):
    """The best model for these labels among EM alone (`base`), EM seeded by the labelled matches
    (while the labels lack non-matches) and EM corrected by the labels (`LogisticMatcher.fit_offset`:
    EM's log odds as an offset plus ridge-penalized corrections, its decision cut chosen by
    cross-validation and aligned on `threshold`), by the cross-validated F1 of each on the labels at
    `threshold` (EM alone is not trained on them: its quality is measured directly). Ties keep the simpler model, EM first: labels never make the
    model's cross-validated quality on them worse than EM's. The chosen model's `info` holds
    `labels`, `positives`, `cv_precision`, `cv_recall`, `cv_f1`, `chosen_by` and the candidates'
    scores (`candidates`)."""
    y = np.asarray(y, bool)
    sizes = np.asarray(sizes, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    base_prob = base.predict(labelled, sizes)[0] if len(y) else np.empty(0)
    scores = {"fellegi_sunter": precision_recall(base_prob >= threshold, y, prefix="cv_")}
    models = {"fellegi_sunter": base}
    folds = _folds(y)
    logistic_possible = min(n_pos, n_neg) >= min_per_class
    # EM seeded by the labelled matches (while the logistic regression lacks labels of a class); EM's m
    # weighs as many matches as it was fitted on (`em_matches`): with m worth 10 pairs, 20 hard matches
    # let in false matches (precision 0.990 → 0.977 at 20 labels on 50,000 generated actors)
    if n_pos and folds and not logistic_possible:
        oof = np.empty(len(y))
        for train, test in folds:
            oof[test] = seeded_em(base, labelled.levels[train], y[train]).predict(_rows(labelled, test),
                                                                               sizes[test])[0]
        scores["seeded_em"] = precision_recall(oof >= threshold, y, prefix="cv_")
        models["seeded_em"] = seeded_em(base, labelled.levels, y)
    if logistic_possible:
        model = LogisticMatcher.fit_offset(labelled, y, sizes, base, threshold=threshold)
        if model.cv_probability is not None:
            scores["logistic"] = precision_recall(model.cv_probability >= threshold, y, prefix="cv_")
            models["logistic"] = model
    best = "fellegi_sunter"
    for k in ("seeded_em", "logistic"):
        if k in scores and _better(scores[k], scores[best]):
            best = k
    chosen = models[best]
    if best == "fellegi_sunter":  # a copy: EM's own info stays as it was
        chosen = FellegiSunter(base.m, base.u, base.r, dict(base.info))
    chosen.info.update({"labels": len(y), "positives": n_pos, **scores[best], "chosen_by": "cv_f1",
                        "chosen": best, "threshold": threshold,
                        "candidates": {k: v for k, v in scores.items()}})
    return chosen


def _better(new: dict, old: dict) -> bool:
    """A model trained on the labels replaces another when its cross-validated F1 on them is higher by
    MIN_F1_GAIN (a handful of labels near the boundary is a noisy judge: a tie or a small gain keeps
    the simpler model)."""
    return new["cv_f1"] >= old["cv_f1"] + MIN_F1_GAIN


def _rows(c: Compared, rows: np.ndarray) -> Compared:
    return Compared(c.i[rows], c.j[rows], c.levels[rows], c.tf[rows], c.distance_m[rows])


def count_true_pairs(ids, truth: pd.Series) -> int:
    t = truth[~truth.index.duplicated()].reindex(pd.Index(ids)).fillna("").astype(str)
    sizes = t[t != ""].value_counts().to_numpy(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def run_oracle(learner: ActiveLearner, oracle: pd.Series, budget: int, truth: pd.Series | None = None,
               report_at=None, on_point=None) -> list[dict]:
    """Answer up to `budget` pairs from `oracle` (identifiant_unique → value; same non-empty value =
    match) and return the learning curve: the quality at 0 labels and at each of `report_at` (default
    every `retrain_every` labels), retraining just before each point."""
    truth = oracle if truth is None else truth
    true_pairs = count_true_pairs(learner.pool.ids, truth)
    answers = learner.pool.truth_labels(oracle)
    points = set(report_at) if report_at is not None else None
    curve = [learner.quality(truth, true_pairs)]
    if on_point:
        on_point(curve[-1])
    while len(learner.labels) < budget:
        k = learner.next_pair()
        if k is None:
            break
        learner.answer(k, bool(answers[k]))
        n = len(learner.labels)
        if points is None and n % learner.retrain_every == 0 or points is not None and n in points:
            if n % learner.retrain_every:
                learner.retrain()
            curve.append(learner.quality(truth, true_pairs))
            if on_point:
                on_point(curve[-1])
    if curve[-1]["labels"] != len(learner.labels):
        learner.retrain()
        curve.append(learner.quality(truth, true_pairs))
        if on_point:
            on_point(curve[-1])
    return curve
