"""Match models on comparison levels (data_platform.cluster.comparisons): a probability per pair.

`FellegiSunter` (no labels, as Splink does):
- u (probability of each level among non-matching pairs) from uniformly random pairs drawn inside
  the partitions, deterministic seed;
- m (the same among matching pairs) by EM on the candidate pairs with u fixed, in two training
  sessions (`_sessions`: pairs at one place train the name and identifiers, pairs sharing a SIRET or
  phone train the place; facts of one site never vouch for each other), Dirichlet pseudo-counts
  (small data stays stable) and a deterministic start;
- term-frequency adjustment of the exact levels of `TF_COMPARISONS`: agreeing on a value held by a
  share f of the partition's actors has Bayes factor m / f (a chain's name is weak evidence, a rare
  name strong);
- the prior is the probability that two random actors of the partition match, r / (n − 1), where r
  (duplicates per actor) is the fixed point r = 2 · Σ P(match | r) / N over the candidates: the
  threshold is a match probability that means the same in a partition of 500 and of 40,000 actors
  (measured: r = 1.472 for a true 1.480 on 9,601 generated actors).
Per pair: probability, match weight (log2 odds) and each comparison's log2 Bayes factor (0 where it
carries no information). Term frequencies are shrunk towards the level's u (`shrunk_tf`, a Beta prior
worth TF_PRIOR_ACTORS actors): in a partition of two actors sharing a name the name's frequency is not
1 (no evidence) but near a typical name's; in a partition of thousands the data decide.

Small data (`fit_selection`): below MIN_FIT_PAIRS candidate pairs EM is not fitted (m would be its
prior's, not the data's); as Splink puts it, m carries over between data sets and u must come from the
data: the shipped default model's m and r (`default_model()`, DEFAULT_MODEL_PATH, fitted by EM on
50,000 generated actors, seed 42) with u re-estimated on the selection's random pairs, the shipped u as
a Dirichlet prior worth U_PRIOR_PAIRS pairs (`FellegiSunter.with_u_from`).

`LogisticMatcher` (labels): regularized logistic regression (scikit-learn) on one-hot levels plus
the term-frequency weights and the log2 prior as features, with cross-validated precision/recall.

Both serialize to one JSON-compatible dict (`to_json` / `from_json`), round trip exact.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from data_platform.cluster.comparisons import (
    COL,
    COMPARISONS,
    N_LEVELS,
    NAMES,
    TF_COMPARISONS,
    Compared,
    compare,
    random_pairs,
)
from data_platform.cluster.scoring import Scored, apply_constraints, score_pairs

MODEL_VERSION = 1
U_SAMPLE_PAIRS = 200_000      # random pairs drawn for u, over all partitions
U_PSEUDO_COUNT = 1.0          # Dirichlet pseudo-count per level for u
M_PSEUDO_COUNT = 10.0         # total Dirichlet pseudo-count for m, spread as m_prior()
EM_MAX_ITER = 200
EM_TOL = 1e-6
SEED = 20_240_601
MAX_PRIOR = 0.5
# Below this many candidate pairs EM is not fitted (its sessions would see a few dozen pairs: m would
# be the Dirichlet prior's, not the data's); the shipped default model's m is used, u re-estimated
MIN_FIT_PAIRS = 500
U_PRIOR_PAIRS = 2_000.0       # weight, in random pairs, of the default model's u when u is re-estimated
# term frequencies are shrunk towards the level's u as if this many more actors were in the partition
TF_PRIOR_ACTORS = 100.0
DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.json")
TF_COLUMNS = [COL[name] for name in TF_COMPARISONS]
OFFSET_CS = (0.3, 1.0, 3.0)   # ridge strengths tried for the labels' corrections of EM (chosen by CV log loss)


def _pattern_counts(level: np.ndarray, weight: np.ndarray, n_lev: int) -> np.ndarray:
    """Σ weight per level of one comparison (levels -1 left out), as floats."""
    ok = level >= 0
    return np.bincount(level[ok].astype(np.int64), weights=weight[ok], minlength=n_lev).astype(np.float64)


def _one_hot(levels: np.ndarray) -> np.ndarray:
    """P × sum(N_LEVELS) indicator matrix (all zero for a comparison without information)."""
    offsets = np.r_[0, np.cumsum(N_LEVELS)[:-1]]
    out = np.zeros((len(levels), int(N_LEVELS.sum())), dtype=np.float64)
    rows = np.arange(len(levels))
    for k in range(levels.shape[1]):
        ok = levels[:, k] >= 0
        out[rows[ok], offsets[k] + levels[ok, k]] = 1.0
    return out


# facts of a site, shared by the businesses on it: the address, coordinates, postal code, city and
# the phone (a déchèterie and the ressourcerie next to it share one switchboard, SPEC §7)
SITE = ["place", "code_postal", "ville", "telephone"]
IDENTITY = ["nom", "siret", "domain"]


def _sessions(compared: Compared):
    """(name, rows, comparisons learnt, comparisons in the likelihood) of the EM training sessions, in
    order (as Splink's training sessions: the pairs that train a comparison were not chosen for
    agreeing on it, and facts of one site never vouch for each other):
    1. pairs at the same place (same address or within 100 m) train the name, SIRET, domain and phone
       with only the name, SIRET and domain in the likelihood (businesses sharing a site agree on
       every site fact, the phone included);
    2. pairs with the same SIRET or the same phone train the place, postal code and city, with every
       comparison but those two in the likelihood (the name's m as learnt in 1)."""
    levels = compared.levels
    names = np.array(NAMES)
    place = levels[:, COL["place"]]
    same_place = (place >= 0) & (place <= 3)
    yield "place", same_place, np.isin(names, IDENTITY + ["telephone"]), np.isin(names, IDENTITY)
    same_id = (levels[:, COL["siret"]] == 0) | (levels[:, COL["telephone"]] == 0)
    yield "siret_or_telephone", same_id, np.isin(names, ["place", "code_postal", "ville"]), \
        ~np.isin(names, ["siret", "telephone"])


def prior_weight(r: float, partition_size) -> np.ndarray:
    """log2 prior odds that two random actors of a partition of n match: π = r / (n − 1)."""
    n = np.maximum(np.asarray(partition_size, dtype=np.float64), 2.0)
    pi = np.clip(r / (n - 1.0), 1e-12, MAX_PRIOR)
    return np.log2(pi / (1.0 - pi))


def shrunk_tf(tf: np.ndarray, partition_size, u_exact: float, prior_actors: float = TF_PRIOR_ACTORS) -> np.ndarray:
    """A value's frequency, estimated from its k = tf · n holders among the partition's n actors as
    if `prior_actors` more actors held it at the level's average rate u_exact (a Beta prior): in a
    partition of two actors that share a name, the name's frequency is not 1 (which would make
    agreeing on it no evidence at all) but close to the typical name's; in a partition of thousands
    the data decide (k / n)."""
    n = np.broadcast_to(np.asarray(partition_size, dtype=np.float64), np.shape(tf))
    return (tf * n + prior_actors * u_exact) / (n + prior_actors)


def _sigmoid2(w: np.ndarray) -> np.ndarray:
    """Probability from log2 odds."""
    return 1.0 / (1.0 + np.exp2(-np.clip(w, -1000, 1000)))


def _one_blas_thread(fit):
    """Fits on labelled pairs (tens to thousands of rows) with one BLAS thread: on this 2-core machine
    OpenBLAS's threads made a fit on 100 labels ten times slower (180 ms against 18 ms)."""
    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return fit(*args, **kwargs)
    return wrapper


class FellegiSunter:
    kind = "fellegi_sunter"

    def __init__(self, m: list[np.ndarray], u: list[np.ndarray], r: float, info: dict | None = None):
        self.m = [np.asarray(x, dtype=np.float64) for x in m]
        self.u = [np.asarray(x, dtype=np.float64) for x in u]
        self.r = float(r)
        self.info = dict(info or {})

    # ------------------------------------------------------------ estimation
    @staticmethod
    def estimate_u(random_levels: np.ndarray) -> list[np.ndarray]:
        """u per comparison from the levels of random pairs (nearly all non-matches)."""
        out = []
        for k, n_lev in enumerate(N_LEVELS.tolist()):
            col = random_levels[:, k]
            counts = np.bincount(col[col >= 0].astype(np.int64), minlength=n_lev).astype(np.float64)
            out.append((counts + U_PSEUDO_COUNT) / (counts.sum() + U_PSEUDO_COUNT * n_lev))
        return out

    @staticmethod
    def initial_m() -> list[np.ndarray]:
        """Deterministic start: most of the mass on the strongest level, 8 times less level by level."""
        out = []
        for n_lev in N_LEVELS.tolist():
            m = 0.5 ** np.arange(n_lev, dtype=np.float64) * 4.0 ** -np.arange(n_lev)
            out.append(m / m.sum())
        return out

    @staticmethod
    def m_prior() -> list[np.ndarray]:
        """Shape of the Dirichlet pseudo-counts of m: halving level by level (gentler than the start,
        so that no level's weight is decided by the prior alone)."""
        return [0.5 ** np.arange(n) / (0.5 ** np.arange(n)).sum() for n in N_LEVELS.tolist()]

    @classmethod
    def fit(cls, candidates: Compared, random_levels: np.ndarray, n_records: int, *,
            partition_sizes: np.ndarray | None = None, max_iter: int = EM_MAX_ITER,
            tol: float = EM_TOL) -> FellegiSunter:
        """u from the random pairs' levels, m by EM in sessions (as Splink's training sessions: the
        pairs that train a comparison's m do not already agree on it because of how they were chosen),
        then the share of matching candidates by EM with m fixed.

        n_records: actors of the partitions the candidates come from (for r, duplicates per actor);
        partition_sizes (per candidate pair, its partition's size): r is then the fixed point of
        r = 2 · Σ P(match | r) / n_records with the very prior r / (n − 1) that scores the pairs.
        """
        u = cls.estimate_u(random_levels)
        model = cls(cls.initial_m(), u, r=0.0)
        levels = candidates.levels
        p = len(levels)
        info = {"candidate_pairs": int(p), "random_pairs": len(random_levels), "records": int(n_records),
                "sessions": []}
        if p == 0:
            model.info = info
            return model
        sizes = np.asarray(partition_sizes, dtype=np.float64) \
            if partition_sizes is not None and len(partition_sizes) == p else None
        for name, rows, learn, use in _sessions(candidates):
            if rows.sum() < 2:
                continue
            sub = Compared(candidates.i[rows], candidates.j[rows], levels[rows], candidates.tf[rows],
                           candidates.distance_m[rows])
            m_s, lam, it = model._em(sub, learn, use, max_iter, tol, None if sizes is None else sizes[rows])
            for k in np.flatnonzero(learn):
                model.m[k] = m_s[k]
            info["sessions"].append({"blocked_on": name, "pairs": int(rows.sum()), "iterations": it,
                                     "match_share": round(lam, 6)})
        # share of matching candidates with every m fixed, then duplicates per actor
        none = np.zeros(len(NAMES), bool)
        _, lam, _ = model._em(candidates, none, ~none, max_iter, tol, sizes)
        model.r = float(2.0 * lam * p / max(n_records, 1))
        info["candidate_match_share"] = round(lam, 6)
        if sizes is not None:
            bf = model.bayes_factors(candidates, sizes).sum(axis=1)
            for it in range(1, max_iter + 1):
                r = float(2.0 * _sigmoid2(prior_weight(model.r, partition_sizes) + bf).sum() / max(n_records, 1))
                done = abs(r - model.r) < tol * max(model.r, 1.0)
                model.r = r
                if done:
                    break
            info["r_iterations"] = it
        model.info = info
        return model

    def _em(self, compared: Compared, learn: np.ndarray, use: np.ndarray, max_iter: int, tol: float,
            sizes: np.ndarray | None = None):
        """EM on these pairs: the comparisons in `use` make the likelihood (the one blocked on is left
        out), those in `learn` have their m re-estimated, the others keep theirs.

        A pair's log2 Bayes factor is Σ log2 m[level] (which EM changes) minus Σ log2 u[level] or, at a
        term-frequency adjusted exact level, log2 tf (which it does not): the second sum is computed
        once per pair, the first once per distinct pattern of levels (a few thousand for a million
        pairs), so that an iteration costs one gather, one sigmoid and one bincount over the pairs."""
        cols = np.flatnonzero(use)
        levels = compared.levels[:, cols].astype(np.int64)
        # the constant part: minus log2 u (or log2 of the shrunk term frequency) where informative
        const = np.zeros(len(compared), dtype=np.float64)
        tf_of = {k: t for t, k in enumerate(TF_COLUMNS)}
        for c, k in enumerate(cols.tolist()):
            lev = levels[:, c]
            ok = lev >= 0
            const[ok] -= np.log2(self.u[k])[lev[ok]]
            if k in tf_of:
                tf = compared.tf[:, tf_of[k]]
                if sizes is not None:
                    tf = shrunk_tf(tf, sizes, self.u[k][0])
                adj = (lev == 0) & ~np.isnan(tf) & (tf > 0)
                const[adj] += np.log2(self.u[k][0]) - np.log2(np.maximum(tf[adj], 1e-9))
        base = np.int64(int(N_LEVELS.max()) + 1)
        key = np.zeros(len(compared), dtype=np.int64)
        for c in range(len(cols)):
            key = key * base + (levels[:, c] + 1)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        pattern = levels[first]                       # distinct level patterns × used comparisons
        m = [x.copy() for x in self.m]
        prior = self.m_prior()
        p = len(compared)
        lam = 0.1
        it = 0
        for it in range(1, max_iter + 1):
            log_m = np.zeros(len(pattern), dtype=np.float64)
            for c, k in enumerate(cols.tolist()):
                lev = pattern[:, c]
                ok = lev >= 0
                log_m[ok] += np.log2(m[k])[lev[ok]]
            post = _sigmoid2(log_m[inv] + const + np.log2(lam / (1.0 - lam)))
            per_pattern = np.bincount(inv, weights=post, minlength=len(pattern))
            delta = 0.0
            for k in np.flatnonzero(learn).tolist():
                n_lev = int(N_LEVELS[k])
                # per pattern where the comparison makes the patterns; a learnt comparison outside the
                # likelihood is not in them: per pair
                c = _pattern_counts(compared.levels[first, k], per_pattern, n_lev) if k in cols \
                    else _pattern_counts(compared.levels[:, k], post, n_lev)
                # Dirichlet pseudo-counts centred on the start ("duplicates mostly agree"): small
                # data stays stable, and a level matches were never seen at stays unlikely
                new = (c + M_PSEUDO_COUNT * prior[k]) / (c.sum() + M_PSEUDO_COUNT)
                delta = max(delta, float(np.abs(new - m[k]).max()))
                m[k] = new
            new_lam = float(np.clip((post.sum() + 1.0) / (p + 2.0), 1e-9, 1 - 1e-9))
            delta = max(delta, abs(new_lam - lam))
            lam = new_lam
            if delta < tol:
                break
        return m, lam, it

    @classmethod
    def fit_partitions(cls, partitions: list, seed: int = SEED, u_pairs: int = U_SAMPLE_PAIRS) -> FellegiSunter:
        """Fit on [(Arrays, Compared candidates)] of several partitions: u from random pairs drawn
        inside each partition (their count proportional to its number of pairs), m by EM on all the
        candidates at once."""
        random_levels = _random_levels(partitions, seed, u_pairs)
        sizes = np.array([len(arr) for arr, _ in partitions], dtype=np.float64)
        candidates = Compared.concat([c for _, c in partitions])
        pair_sizes = np.concatenate([np.full(len(c), float(len(arr))) for arr, c in partitions]) \
            if partitions else np.empty(0)
        return cls.fit(candidates, random_levels, int(sizes.sum()), partition_sizes=pair_sizes)

    def with_u_from(self, partitions: list, seed: int = SEED, u_pairs: int = U_SAMPLE_PAIRS,
                    prior_pairs: float = U_PRIOR_PAIRS) -> FellegiSunter:
        """This model's m and r, u re-estimated on [(Arrays, Compared)] of other data (Splink's view:
        m carries over between data sets, u is the data's own): per comparison, the random pairs'
        level counts with this model's u as a Dirichlet prior worth `prior_pairs` pairs, so that a
        selection of a few actors (whose few random pairs are often duplicates) keeps nearly the
        shipped u and a larger one gets its own."""
        random_levels = _random_levels(partitions, seed, u_pairs)
        u = []
        for k, n_lev in enumerate(N_LEVELS.tolist()):
            col = random_levels[:, k]
            counts = np.bincount(col[col >= 0].astype(np.int64), minlength=n_lev).astype(np.float64)
            u.append((counts + prior_pairs * self.u[k]) / (counts.sum() + prior_pairs))
        info = {"m_from": self.info.get("trained_on", "shipped default model"), "u_prior_pairs": prior_pairs,
                "random_pairs": len(random_levels),
                "candidate_pairs": int(sum(len(c) for _, c in partitions)),
                "records": int(sum(len(arr) for arr, _ in partitions))}
        return FellegiSunter([x.copy() for x in self.m], u, self.r, info)

    # ------------------------------------------------------------ scoring
    def bayes_factors(self, compared: Compared, partition_size=None) -> np.ndarray:
        """P × len(COMPARISONS) log2 Bayes factors (0 where a comparison has no information).

        partition_size (a number, or one per pair): the term frequencies are then shrunk towards the
        level's u (`shrunk_tf`); without it they are used as they are."""
        levels = compared.levels
        out = np.zeros(levels.shape, dtype=np.float64)
        for k in range(levels.shape[1]):
            lev = levels[:, k]
            ok = lev >= 0
            table = np.log2(self.m[k] / self.u[k])
            out[ok, k] = table[lev[ok]]
        for t, k in enumerate(TF_COLUMNS):
            tf = compared.tf[:, t]
            if partition_size is not None:
                tf = shrunk_tf(tf, partition_size, self.u[k][0])
            ok = (levels[:, k] == 0) & ~np.isnan(tf) & (tf > 0)
            # agreeing on a value held by a share tf of the partition's actors: u = tf (Splink's
            # term-frequency adjustment); pairs whose value has no frequency keep the level's u
            out[ok, k] = np.log2(self.m[k][0] / np.maximum(tf[ok], 1e-9))
        return out

    def predict(self, compared: Compared, partition_size) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability, match weight in log2 odds, per-comparison log2 Bayes factors) per pair."""
        bf = self.bayes_factors(compared, partition_size)
        weight = prior_weight(self.r, partition_size) + bf.sum(axis=1)
        return _sigmoid2(weight), weight, bf

    # ------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        return {"kind": self.kind, "version": MODEL_VERSION,
                "comparisons": [{"name": name, "levels": levels} for name, levels in COMPARISONS],
                "tf_comparisons": list(TF_COMPARISONS),
                "m": [x.tolist() for x in self.m], "u": [x.tolist() for x in self.u],
                "r": self.r, "info": self.info}

    @classmethod
    def from_json(cls, data: dict) -> FellegiSunter:
        data = _upgraded(data, cls.kind)
        return cls(data["m"], data["u"], data["r"], data.get("info"))


def _random_levels(partitions: list, seed: int, u_pairs: int) -> np.ndarray:
    """Levels of random pairs drawn inside each partition of [(Arrays, _)], their count proportional
    to its number of pairs (all its pairs when it has fewer); deterministic."""
    rng = np.random.default_rng(seed)
    sizes = np.array([len(arr) for arr, _ in partitions], dtype=np.float64)
    total = (sizes * (sizes - 1) / 2).sum()
    randoms = []
    for (arr, _), n in zip(partitions, sizes):
        want = int(np.ceil(u_pairs * n * (n - 1) / 2 / total)) if total else 0
        a, b = random_pairs(len(arr), want, rng)
        randoms.append(compare(arr, a, b).levels)
    return np.concatenate(randoms) if randoms else np.empty((0, len(NAMES)), np.int8)


def default_model() -> FellegiSunter:
    """The Fellegi–Sunter model shipped in the package (DEFAULT_MODEL_PATH: fitted by EM on 50,000
    generated actors, seed 42, with `bench/bench_matching.py --actors 50000 --seed 42 --no-rules
    --model-out`; its `info.trained_on` says so)."""
    import json

    return FellegiSunter.from_json(json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8")))


def fit_selection(partitions: list, seed: int = SEED, min_pairs: int = MIN_FIT_PAIRS) -> FellegiSunter:
    """The Fellegi–Sunter model of a selection, [(Arrays, Compared candidates)] of its partitions:
    fitted by EM when it has at least `min_pairs` candidate pairs, else (EM cannot learn m from a
    few pairs) the shipped default's m and r with u re-estimated on the selection
    (`FellegiSunter.with_u_from`); `info["fallback"]` says which."""
    p = sum(len(c) for _, c in partitions)
    if p >= min_pairs:
        model = FellegiSunter.fit_partitions(partitions, seed=seed)
        model.info["fallback"] = False
        return model
    model = default_model().with_u_from(partitions, seed=seed)
    model.info["fallback"] = f"{p} candidate pairs < {min_pairs}: m of the default model, u of this data"
    return model


# Levels added since models were first saved: (comparison, new level) → the older level whose pairs it
# was cut from. A model saved before the cut scores the new level as the old one (its m, u or one-hot
# coefficient copied), so its probabilities are unchanged; refitting it learns the difference.
ADDED_LEVELS = {("siret", "other_establishment"): "siren"}


def _upgraded(data: dict, kind: str) -> dict:
    """The model's JSON dict on this version's comparison levels (ADDED_LEVELS), or ValueError."""
    if data.get("kind") != kind:
        raise ValueError(f"not a {kind} model: kind {data.get('kind')!r}")
    names = [c["name"] for c in data.get("comparisons", [])]
    levels = [list(c["levels"]) for c in data.get("comparisons", [])]
    if names != NAMES:
        raise ValueError(f"model compares {names}, this version compares {NAMES}")
    current = [lv for _, lv in COMPARISONS]
    if levels == current:
        return data
    # source index, in the saved model, of every level of this version (per comparison)
    sources = []
    for name, old, new in zip(names, levels, current):
        idx = []
        for level in new:
            source = level if level in old else ADDED_LEVELS.get((name, level))
            if source not in old:
                raise ValueError(f"model's {name} levels {old} cannot be read as this version's {new}")
            idx.append(old.index(source))
        if len(set(idx)) < len(old):
            raise ValueError(f"model's {name} levels {old} cannot be read as this version's {new}")
        sources.append(idx)
    out = dict(data, comparisons=[{"name": n, "levels": lv} for n, lv in COMPARISONS])
    if kind == FellegiSunter.kind:
        out["m"] = [[row[i] for i in idx] for row, idx in zip(data["m"], sources)]
        out["u"] = [[row[i] for i in idx] for row, idx in zip(data["u"], sources)]
    else:   # one-hot columns first (comparison by comparison), the other features after them
        starts = np.r_[0, np.cumsum([len(lv) for lv in levels])]
        coef = list(data["coef"])
        out["coef"] = [coef[starts[k] + i] for k, idx in enumerate(sources) for i in idx] + coef[starts[-1]:]
    return out


def model_from_json(data: dict):
    """FellegiSunter or LogisticMatcher from its JSON dict."""
    kinds = {FellegiSunter.kind: FellegiSunter, LogisticMatcher.kind: LogisticMatcher}
    if data.get("kind") not in kinds:
        raise ValueError(f"unknown model kind {data.get('kind')!r}")
    return kinds[data["kind"]].from_json(data)


class LogisticMatcher:
    """Regularized logistic regression on one-hot comparison levels, the term-frequency log-weights
    of the exact levels and the log2 prior of the pair's partition (labels exist).

    With a `base` Fellegi–Sunter model (the zero-label EM model: `fit(..., base=em)`), the sum of the
    base's Bayes factors is one more feature, scaled by BASE_SCALE so that the regularization barely
    touches it: the labels then adjust EM's evidence (a level worth more or less than EM said, the
    offset of the decision) instead of relearning it from a hundred pairs — dedupe's and Splink's idea
    of a prior model corrected by labels. Its contribution is spread over the comparisons in
    proportion to their Bayes factors (the waterfall stays exact). `base` is saved inside the JSON."""
    kind = "logistic"

    def __init__(self, coef: np.ndarray, intercept: float, C: float, info: dict | None = None,
                 base: FellegiSunter | None = None, offset: bool = False):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.C = float(C)
        self.info = dict(info or {})
        self.base = base
        self.offset = bool(offset and base is not None)

    @staticmethod
    def features(compared: Compared, partition_size, base: FellegiSunter | None = None,
                 offset: bool = False) -> np.ndarray:
        """Design matrix: one-hot levels, term-frequency log-weights, [base's Bayes factors / BASE_SCALE],
        log2 prior of the partition (last column). With `offset` (and a base): one-hot levels, the
        base's match weight (log odds, prior included) / BASE_SCALE, then the base's log odds itself as
        the last column — the offset, whose coefficient is fixed to 1 (`_OffsetLogit`)."""
        n = np.broadcast_to(np.asarray(partition_size, dtype=np.float64), (len(compared),))
        if offset and base is not None:
            log_odds = base.predict(compared, n)[1] * np.log(2.0)
            return np.hstack([_one_hot(compared.levels), log_odds[:, None] / BASE_SCALE, log_odds[:, None]])
        tf = np.where(np.isnan(compared.tf), 0.0, -np.log2(np.maximum(np.nan_to_num(compared.tf, nan=1.0), 1e-9)))
        prior = np.log2(1.0 / np.maximum(n - 1.0, 1.0))
        cols = [_one_hot(compared.levels), tf]
        if base is not None:
            cols.append(base.bayes_factors(compared, n).sum(axis=1)[:, None] / BASE_SCALE)
        return np.hstack([*cols, prior[:, None]])

    @classmethod
    @_one_blas_thread
    def fit(cls, compared: Compared, labels, partition_size, C: float = 1.0, cv: int = 5,
            base: FellegiSunter | None = None, sample_weight=None, cv_rows=None,
            threshold: float = 0.5) -> LogisticMatcher:
        """Fit on the labelled pairs. `sample_weight` (optional, per pair); `cv_rows` (optional, a boolean
        mask): the pairs whose cross-validated predictions give `cv_precision` / `cv_recall` (a person's
        labels, when the other rows are pseudo-labels that stay in every training fold); default all.
        The cross-validated probabilities of those rows are kept in `self.cv_probability`."""
        y = np.asarray(labels).astype(int)
        x = cls.features(compared, partition_size, base)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        held = np.ones(len(y), bool) if cv_rows is None else np.asarray(cv_rows, bool)
        info = {"labels": int(held.sum()), "positives": int(y[held].sum())}
        cv_prob = cross_validated_probability(x, y, w, held, C, cv)
        if cv_prob is not None:
            info.update(precision_recall(cv_prob >= threshold, y[held].astype(bool), prefix="cv_"))
        est = _estimator(C).fit(x, y, sample_weight=w)
        model = cls(est.coef_[0], est.intercept_[0], C, info, base=base)
        model.cv_probability = cv_prob
        return model

    @classmethod
    @_one_blas_thread
    def fit_offset(cls, compared: Compared, labels, partition_size, base: FellegiSunter, *,
                   Cs=OFFSET_CS, cv: int = 5, threshold: float = 0.5) -> LogisticMatcher:
        """EM as the prior, labels to adjust it (dedupe's and Splink's idea with few labels): logistic
        regression whose log odds are the base's (`offset`, coefficient 1) plus a correction — one
        term per comparison level and a rescaling of the base's evidence, ridge-penalized towards 0
        (no correction = EM exactly), the intercept free. C among `Cs` by cross-validated log loss on
        the labels; the decision cut by cross-validation too (`decision_cut`: the cut on the
        out-of-fold probabilities with the fewest errors on the labels, ties nearest 0.5), then the
        intercept is shifted so that `threshold` (the run's) decides at that cut: labels move EM's
        decision where they show it wrong, on EM's probability scale, which the run's threshold was
        set for. `info`: labels, positives, C, cv_threshold, shift_log2, cv_precision/recall/f1 at
        the cut; `cv_probability`: out-of-fold probabilities (shifted like the model)."""
        y = np.asarray(labels).astype(int)
        x = cls.features(compared, partition_size, base, offset=True)
        w = np.ones(len(y))
        held = np.ones(len(y), bool)
        best = None
        for C in Cs:
            prob = cross_validated_probability(x, y, w, held, C, cv, offset=True)
            if prob is None:
                break
            p = np.clip(prob, 1e-9, 1 - 1e-9)
            loss = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
            if best is None or loss < best[0] - 1e-9:
                best = (loss, C, prob)
        info = {"labels": len(y), "positives": int(y.sum()), "offset_base": True}
        C, cv_prob, cut = (Cs[len(Cs) // 2], None, 0.5) if best is None else (best[1], best[2], None)
        if cv_prob is not None:
            cut = decision_cut(cv_prob, y.astype(bool))
        shift = np.log(threshold / (1 - threshold)) - np.log(cut / (1 - cut))
        est = _estimator(C, offset=True).fit(x, y, sample_weight=w)
        info.update({"C": C, "cv_threshold": round(float(cut), 4), "shift_log2": round(float(shift / np.log(2)), 4)})
        if cv_prob is not None:
            info["cv_log_loss"] = round(best[0], 4)
            cv_prob = 1.0 / (1.0 + np.exp(-(np.log(np.clip(cv_prob, 1e-12, 1 - 1e-12))
                                            - np.log(np.clip(1 - cv_prob, 1e-12, 1)) + shift)))
            info.update(precision_recall(cv_prob >= threshold, y.astype(bool), prefix="cv_"))
        model = cls(est.coef_[0], est.intercept_[0] + shift, C, info, base=base, offset=True)
        model.cv_probability = cv_prob
        return model

    def predict(self, compared: Compared, partition_size) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability, match weight in log2 odds, per-comparison contribution in log2 odds)."""
        if self.offset:
            return self._predict_offset(compared, partition_size)
        x = self.features(compared, partition_size, self.base)
        contrib = x * self.coef / np.log(2.0)
        offsets = np.r_[0, np.cumsum(N_LEVELS)]
        per = np.stack([contrib[:, offsets[k]:offsets[k + 1]].sum(axis=1) for k in range(len(NAMES))], axis=1)
        for t, k in enumerate(TF_COLUMNS):
            per[:, k] += contrib[:, offsets[-1] + t]
        if self.base is not None:
            n = np.broadcast_to(np.asarray(partition_size, dtype=np.float64), (len(compared),))
            per += self.base.bayes_factors(compared, n) * (self.coef[-2] / BASE_SCALE / np.log(2.0))
        weight = self.intercept / np.log(2.0) + contrib.sum(axis=1)
        return _sigmoid2(weight), weight, per

    def _predict_offset(self, compared: Compared, partition_size):
        """log2 odds = the base's + per-level corrections + rescaling of the base's + intercept; each
        comparison's contribution = its base Bayes factor (rescaled) + its level's correction."""
        n = np.broadcast_to(np.asarray(partition_size, dtype=np.float64), (len(compared),))
        _, base_w, base_bf = self.base.predict(compared, n)
        scale = 1.0 + self.coef[-1] / BASE_SCALE    # coef[-1]: the rescaling term (the offset has none)
        contrib = _one_hot(compared.levels) * self.coef[:-1] / np.log(2.0)
        offsets = np.r_[0, np.cumsum(N_LEVELS)]
        per = np.stack([contrib[:, offsets[k]:offsets[k + 1]].sum(axis=1) for k in range(len(NAMES))], axis=1)
        per += base_bf * scale
        weight = base_w * scale + contrib.sum(axis=1) + self.intercept / np.log(2.0)
        return _sigmoid2(weight), weight, per

    def to_json(self) -> dict:
        out = {"kind": self.kind, "version": MODEL_VERSION,
               "comparisons": [{"name": name, "levels": levels} for name, levels in COMPARISONS],
               "tf_comparisons": list(TF_COMPARISONS),
               "coef": self.coef.tolist(), "intercept": self.intercept, "C": self.C, "info": self.info}
        if self.base is not None:
            out["base"] = self.base.to_json()
            out["offset"] = self.offset
        return out

    @classmethod
    def from_json(cls, data: dict) -> LogisticMatcher:
        data = _upgraded(data, cls.kind)
        base = FellegiSunter.from_json(data["base"]) if data.get("base") else None
        return cls(data["coef"], data["intercept"], data["C"], data.get("info"), base=base,
                   offset=bool(data.get("offset")))


BASE_SCALE = 10.0   # the base model's Bayes factors are divided by this: their coefficient is ~10× less penalized


class _OffsetLogit:
    """Ridge logistic regression whose last column is an offset (coefficient fixed to 1, not a
    parameter), the intercept unpenalized; L-BFGS (scipy). sklearn-like: fit / predict_proba / coef_."""

    def __init__(self, C: float):
        self.C = float(C)

    def fit(self, x, y, sample_weight=None):
        from scipy.optimize import minimize

        feats, off = x[:, :-1], x[:, -1]
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        sign = np.where(np.asarray(y) > 0, 1.0, -1.0)
        d = feats.shape[1]

        def loss(theta):
            margin = -sign * (feats @ theta[:d] + theta[d] + off)
            g = w * -sign * _sigmoid_e(margin)
            return ((w * np.logaddexp(0.0, margin)).sum() + theta[:d] @ theta[:d] / (2 * self.C),
                    np.r_[feats.T @ g + theta[:d] / self.C, g.sum()])

        theta = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B").x
        self.coef_, self.intercept_ = theta[None, :d], theta[d:]
        return self

    def predict_proba(self, x):
        p = _sigmoid_e(x[:, :-1] @ self.coef_[0] + self.intercept_[0] + x[:, -1])
        return np.column_stack([1 - p, p])


def _sigmoid_e(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))


def decision_cut(prob: np.ndarray, y: np.ndarray) -> float:
    """The cut with the fewest errors on labelled pairs (out-of-fold probabilities), ties nearest 0.5;
    a cut halfway between two consecutive probabilities, within [0.02, 0.98]."""
    cand = np.unique(np.r_[0.5, np.clip((np.sort(prob)[1:] + np.sort(prob)[:-1]) / 2, 0.02, 0.98)])
    errors = np.array([int(((prob >= c) != y).sum()) for c in cand])
    best = np.flatnonzero(errors == errors.min())
    return float(cand[best[np.argmin(np.abs(cand[best] - 0.5))]])


def _estimator(C: float, offset: bool = False):
    from sklearn.linear_model import LogisticRegression

    return _OffsetLogit(C) if offset else LogisticRegression(C=C, max_iter=2000)


def cross_validated_probability(x: np.ndarray, y: np.ndarray, w: np.ndarray, held: np.ndarray, C: float,
                                cv: int = 5, offset: bool = False) -> np.ndarray | None:
    """Out-of-fold probabilities of the rows of `held` (stratified folds, deterministic); the other
    rows are in every training fold. None when a class has fewer than two held rows."""
    from sklearn.model_selection import StratifiedKFold

    rows = np.flatnonzero(held)
    always = np.flatnonzero(~held)
    folds = min(cv, int(np.bincount(y[rows], minlength=2).min())) if len(rows) else 0
    if folds < 2:
        return None
    out = np.empty(len(rows))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(rows, y[rows]):
        fit_rows = np.concatenate([rows[train], always])
        if len(np.unique(y[fit_rows])) < 2:
            out[test] = y[rows[train]].mean()
            continue
        est = _estimator(C, offset).fit(x[fit_rows], y[fit_rows], sample_weight=w[fit_rows])
        out[test] = est.predict_proba(x[rows[test]])[:, 1]
    return out


def precision_recall(pred: np.ndarray, truth: np.ndarray, prefix: str = "") -> dict:
    """{precision, recall, f1} of boolean predictions (precision 1 when nothing is predicted)."""
    tp = int((pred & truth).sum())
    precision = tp / int(pred.sum()) if pred.any() else 1.0
    recall = tp / int(truth.sum()) if truth.any() else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {f"{prefix}precision": round(precision, 4), f"{prefix}recall": round(recall, 4),
            f"{prefix}f1": round(f1, 4)}


# ---------------------------------------------------------------- scorers used by the clustering

MODEL_KINDS = ["rules", FellegiSunter.kind]


class RulesScorer:
    """The hand-set weighted score of data_platform.cluster.scoring; `scoring` = RunParams.scoring."""

    def __init__(self, scoring, workers: int = 1):
        self.params = scoring
        self.workers = workers

    def compare(self, arr, i, j):
        return score_pairs(arr, i, j, self.params, workers=self.workers)

    def score(self, arr, compared):
        return compared  # score_pairs already scored


class ModelScorer:
    """Comparison levels, then a model's probability (FellegiSunter or LogisticMatcher); `scoring` =
    RunParams.scoring (its exact_match_fields and max_distance_m constrain the probability too)."""

    def __init__(self, model, scoring, workers: int = 1):
        self.model = model
        self.params = scoring
        self.workers = workers

    def compare(self, arr, i, j) -> Compared:
        return compare(arr, i, j, workers=self.workers)

    def score(self, arr, compared: Compared) -> Scored:
        prob, weight, bf = self.model.predict(compared, len(arr))
        prob = apply_constraints(arr, compared.i, compared.j, prob, compared.distance_m, self.params)
        lev = compared.levels.astype(np.float64)
        fields = np.where(lev >= 0, 1.0 - lev / (N_LEVELS - 1), np.nan).astype(np.float32)
        return Scored(compared.i, compared.j, prob.astype(np.float32), fields, compared.distance_m,
                      weights=bf, match_weight=weight, weight_names=tuple(NAMES))
