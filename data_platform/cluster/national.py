"""The national candidate channel: duplicates whose two actors lie in DIFFERENT partitions.

Every partition is clustered alone (data_platform.cluster.partition), so a postal-code fault (blank,
"n/a", a typo moving the actor to another département; SPEC §4) would hide a duplicate for ever, and
the `inconnu` partition would never meet a located actor. This stage runs after the partition batches,
over the whole selection:

1. Candidates across partitions, from keys that ignore the postal code, each pairing only rows of a
   key value held by two partitions or more (sorted neighbourhood of `WINDOW` rows by name in a value
   held by many, as the partition's exact keys):
   - four shifted coordinate grids of `GRID_CELL_M` (two actors < 75 m apart on both axes share a
     cell of one grid, whatever their postal codes);
   - the exact SIRET and the exact phone (SIREN alone is no key: a chain's shops share it);
   - house number + street + city, and the phonetic name + city (the partitions' keys with the city,
     which the faults leave, for the postal code);
   - MinHash LSH over the character 3-grams of the normalized name + street + city (`minhash_bands`;
     the faults leave the city: with it, "borne textile rue jean jaures" of two towns share no bucket):
     near-duplicates without coordinates (two located actors `LSH_MAX_DISTANCE_M` apart are dropped),
     `LSH_BANDS` bands of `LSH_ROWS` hashes, vectorized (shingles hashed into scikit-learn's
     HashingVectorizer columns, computed in numpy by `shingle_matrix`; one numpy min-reduction per
     hash; shingles of very many texts dropped).
     Measured on 20,000 generated actors with 12% faults (2,244 true pairs split across partitions):
     the keys above without LSH reach 0.9898 of them in 4,492 candidate pairs; LSH adds 0.0008 for
     1,700 more pairs; LSH alone over name + street (no city) needed 60,000 pairs for 0.99.
2. The pairs are compared and scored by the run's scorer: the same comparison levels and model as the
   partitions (except that two postal codes that disagree across partitions carry no information: the
   channel exists because they may be wrong, and the partitions' model never saw two départements), each pair in the context of its "home" partition (`home_partition`: the located side's
   partition, else the larger one; ties by code) — its size gives the prior, its value frequencies the
   term-frequency adjustment — so a cross pair's probability means what a partition pair's means, and
   a pair of one partition rescored here gets exactly its partition score.
3. Regrouping: the actors of the cross pairs at or above the threshold, with every member of the
   clusters they are already in, are grouped again by the same no-chaining grouping (edges = the cross
   pairs and every pair inside those clusters; every pair of a component of ≥ 3 scored, average
   linkage): a cluster may now span partitions. Its id is `<département>_<sha1 of members>`, the
   département being the most frequent real one of its members (ties by code; `inconnu` only when
   every member is). Every pair of a final cluster is stored in cluster_pair (the weakest is the
   suggestion's score); the memberships keep each actor's own partition in `departement`.
4. One transaction replaces the touched clusters' rows (`write_national`).

A national chain's shops (one SIREN, another SIRET, one name, other towns) are candidates through
the phone or the name keys, and are kept apart by the model: distance and address decide.
"""
from __future__ import annotations

import hashlib
import re
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from data_platform.arrays import union, unique
from data_platform.cluster.candidates import (
    GRID_SHIFTS,
    block_pairs,
    grid_codes,
    phonetic_fr,
    text_ranks,
    value_codes,
)
from data_platform.cluster.comparisons import COL, N_LEVELS, NAMES, _address_key, split_address
from data_platform.cluster.grouping import cannot_link, group
from data_platform.cluster.model import ModelScorer, RulesScorer
from data_platform.cluster.params import RunParams
from data_platform.cluster.partition import (
    MEMBERSHIP_COLUMNS,
    PAIR_COLUMNS,
    SELECTION_COLUMNS,
    UNKNOWN_DEPARTEMENT,
    link_rows,
    prepare,
)
from data_platform.cluster.scoring import Arrays, Scored, apply_constraints, details_json
from data_platform.geo import haversine_m

GRID_CELL_M = 150.0
WINDOW = 5
LSH_BANDS = 12
LSH_ROWS = 4            # P(candidate) = 1 - (1 - J^4)^12: 0.54 at Jaccard 0.5, 0.80 at 0.6, 0.99 at 0.8
LSH_SEED = 20_261_202
LSH_MIN_SHINGLES = 4    # shorter texts are too common to key on
LSH_MAX_DF = 0.005      # shingles of more than this share of the texts are dropped (and of LSH_MAX_DF_ROWS)
LSH_MAX_DF_ROWS = 100
LSH_MAX_DISTANCE_M = 1000.0  # an LSH pair of two located actors farther apart is dropped
_HASH_FEATURES = 1 << 22
MINHASH_CHUNK = 50_000  # texts per step of minhash_bands (memory, not results)
_MIX = np.uint64(0x9E3779B97F4A7C15)


# ---------------------------------------------------------------- candidates across partitions

def mixed_codes(codes: np.ndarray, part: np.ndarray) -> np.ndarray:
    """The key codes whose rows lie in two partitions or more; -1 elsewhere (one groupby)."""
    codes = np.asarray(codes, np.int64)
    ok = codes >= 0
    if not ok.any():
        return codes
    g = pd.DataFrame({"c": codes[ok], "p": part[ok]}).groupby("c")["p"]
    span = (g.max() != g.min())
    keep = span.reindex(codes[ok]).to_numpy()
    out = np.full(len(codes), -1, np.int64)
    out[np.flatnonzero(ok)[keep]] = codes[ok][keep]
    return out


def _cross(codes, order, part, window=WINDOW) -> tuple[np.ndarray, np.ndarray]:
    i, j = block_pairs(mixed_codes(codes, part), order, window)
    keep = part[i] != part[j]
    return i[keep], j[keep]


_PRINTABLE_ASCII = re.compile(r"[ -~]*")


def _hashing_vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char_wb", ngram_range=(3, 3), n_features=_HASH_FEATURES,
                             alternate_sign=False, norm=None, binary=True, lowercase=False, dtype=np.float32)


def shingle_matrix(texts) -> sp.csr_matrix:
    """Binary n × _HASH_FEATURES matrix of the texts' character 3-grams within words padded by a space —
    exactly `_hashing_vectorizer().transform(texts)` (char_wb, murmurhash3 column), computed with numpy:
    scikit-learn builds each word's n-grams in Python (7.6 s of the national stage's 28.7 s at 500,000
    actors). Texts that are not printable ASCII (the normalized fields always are) go through scikit-learn."""
    from sklearn.utils import murmurhash3_32

    texts = list(texts)
    n = len(texts)
    if not all(_PRINTABLE_ASCII.fullmatch(t) for t in texts):
        return _hashing_vectorizer().transform(texts).tocsr()
    # each word padded by spaces, words separated by \x00 and texts by \x01 (no 3-gram spans a separator)
    joined = "\x01".join(" " + t.replace(" ", " \x00 ") + " " for t in texts)
    buf = np.frombuffer(joined.encode("ascii"), np.uint8)
    if len(buf) < 3:
        return sp.csr_matrix((n, _HASH_FEATURES), dtype=np.float32)
    sep = buf < 2
    pos = np.flatnonzero(~(sep[:-2] | sep[1:-1] | sep[2:]) & (buf[1:-1] != 32))  # " a " but never "   "
    b = buf.astype(np.int32)
    code = ((b[:-2] << 16) | (b[1:-1] << 8) | b[2:])[pos]
    row = np.cumsum(buf == 1, dtype=np.int32)[pos].astype(np.int64)
    distinct = np.flatnonzero(np.bincount(code, minlength=1 << 24))  # a few thousand 3-grams
    # scikit-learn's column of a feature: |murmurhash3_32(utf-8 bytes, seed 0)| mod n_features
    h = np.array([murmurhash3_32(bytes(((c >> 16) & 255, (c >> 8) & 255, c & 255)), seed=0)
                  for c in distinct.tolist()], dtype=np.int64)
    column = np.zeros(1 << 24, np.int64)
    column[distinct] = np.where(h == -2**31, (2**31 - 1 - (_HASH_FEATURES - 1)) % _HASH_FEATURES,
                                np.abs(h) % _HASH_FEATURES)
    key = unique(row * _HASH_FEATURES + column[code])
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(key // _HASH_FEATURES, minlength=n), out=indptr[1:])
    return sp.csr_matrix((np.ones(len(key), np.float32), (key % _HASH_FEATURES).astype(np.int32), indptr),
                         shape=(n, _HASH_FEATURES))


def minhash_bands(texts, bands: int = LSH_BANDS, rows: int = LSH_ROWS, seed: int = LSH_SEED,
                  min_shingles: int = LSH_MIN_SHINGLES, chunk: int = MINHASH_CHUNK) -> np.ndarray:
    """n × bands int64 LSH band codes of the texts' character 3-grams (-1: too few shingles).

    Shingles are hashed as HashingVectorizer hashes them (`shingle_matrix`: its column = the shingle's
    hash); MinHash value k of a row = min over its shingles of a multiply-shift hash h_k (deterministic
    seed), one vectorized reduction per hash; a band's code combines its `rows` values. Both steps go
    `chunk` texts at a time (their temporaries, ~8 arrays of one int64 per 3-gram, were 1 GB at 478,000
    texts); the codes do not depend on it."""
    texts = list(texts)
    n = len(texts)
    out = np.full((n, bands), -1, np.int64)
    if n == 0:
        return out
    x = sp.vstack([shingle_matrix(texts[k:k + chunk]) for k in range(0, n, chunk)], format="csr")
    # shingles of very many texts ("rue", " de ", "mairie") make unrelated texts collide: dropped
    df = np.bincount(x.indices, minlength=x.shape[1])
    frequent = df > max(LSH_MAX_DF_ROWS, LSH_MAX_DF * n)
    if frequent.any():
        x.data[frequent[x.indices]] = 0
        x.eliminate_zeros()
    counts = np.diff(x.indptr)
    ok = counts >= min_shingles
    if not ok.any():
        return out
    x = x[ok]
    rng = np.random.default_rng(seed)
    # multiply-shift hashing (Dietzfelbinger): the high 32 bits of a·h + b mod 2⁶⁴, a odd; no modulo
    a = rng.integers(0, 1 << 63, bands * rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 1 << 63, bands * rows, dtype=np.uint64)
    shift = np.uint64(32)
    code = np.zeros((x.shape[0], bands), np.uint64)
    with np.errstate(over="ignore"):
        for lo in range(0, x.shape[0], chunk):
            hi = min(lo + chunk, x.shape[0])
            first, last = x.indptr[lo], x.indptr[hi]
            h = x.indices[first:last].astype(np.uint64)
            starts = x.indptr[lo:hi] - first
            for band in range(bands):
                for r in range(rows):
                    k = band * rows + r
                    sig = np.minimum.reduceat((a[k] * h + b[k]) >> shift, starts)
                    code[lo:hi, band] = code[lo:hi, band] * _MIX + sig  # mod 2⁶⁴: a hash of the band's values
    rows_ok = np.flatnonzero(ok)
    for band in range(bands):
        out[rows_ok, band] = pd.factorize(code[:, band])[0]
    return out


def lsh_pairs(texts: list[str], lat: np.ndarray, lon: np.ndarray, by_name: np.ndarray, part: np.ndarray
              ) -> tuple[np.ndarray, dict]:
    """The MinHash LSH candidates across partitions (keys i * n + j, unique) of name + street + city texts,
    two located actors `LSH_MAX_DISTANCE_M` apart or more dropped; and its stats entry."""
    t0 = time.perf_counter()
    n = len(texts)
    band_codes = minhash_bands(texts)
    found = []
    for band in range(band_codes.shape[1]):
        i, j = _cross(band_codes[:, band], by_name, part)
        # two located actors far apart are two places (coordinates are not what the faults touch)
        d = haversine_m(lat[i], lon[i], lat[j], lon[j])
        keep = ~(d >= LSH_MAX_DISTANCE_M)
        found.append(i[keep] * n + j[keep])
    keys = unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    return keys, {"pairs": len(keys), "seconds": round(time.perf_counter() - t0, 3)}


# a selection from this many rows computes its LSH candidates in a worker process while this one computes the
# exact keys' (the two halves of the candidates took about the same time at 500,000 actors); below, inline
LSH_PROCESS_MIN_ROWS = 50_000


def _lsh_in_process(args):
    return lsh_pairs(*args)


def cross_partition_pairs(arr: Arrays, part: np.ndarray, stats: dict | None = None, processes: int = 1
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (i < j, unique, sorted) of rows of different partitions (`part`: int code per
    row): coordinate grids, SIRET, phone, street and phonetic name within a city, MinHash LSH of
    name + street + city. `processes` > 1 and a selection of LSH_PROCESS_MIN_ROWS rows: the LSH part in
    a worker process, at the same time as the other keys (the same pairs)."""
    n = len(arr)
    by_name = text_ranks(arr.nom)
    ville = pd.Series(arr.ville)
    hn, street = split_address(arr.adresse)
    texts = (pd.Series(arr.nom) + " " + pd.Series(street) + " " + ville).str.strip().tolist()
    lsh_args = (texts, arr.lat, arr.lon, by_name, part)
    pending = None
    if processes > 1 and n >= LSH_PROCESS_MIN_ROWS:
        from concurrent.futures import ProcessPoolExecutor

        from data_platform.workers import worker_context

        ctx = worker_context()
        pool = ProcessPoolExecutor(1, mp_context=ctx)
        pending = pool.submit(_lsh_in_process, lsh_args)
    try:
        keys = {f"grille_{k}": (grid_codes(arr.lat, arr.lon, GRID_CELL_M, shift), by_name)
                for k, shift in enumerate(GRID_SHIFTS)}
        keys["siret"] = (value_codes(arr.siret), by_name)
        keys["telephone"] = (value_codes(arr.telephone), by_name)
        # the partitions' street and phonetic-name keys, with the city (which the faults leave) for the
        # postal code: a copy without coordinates meets the located one
        numero_rue = (pd.Series(hn) + " " + pd.Series(street) + "|" + ville).where((hn != "") & (street != "") & (ville != ""), "")
        keys["numero_rue_ville"] = (value_codes(numero_rue.to_numpy(dtype=object)), by_name)
        phon = pd.Series(phonetic_fr(arr.nom))
        keys["nom_phonetique_ville"] = (value_codes((phon + "|" + ville).where((phon != "") & (ville != ""), "")
                                                    .to_numpy(dtype=object)), text_ranks(arr.adresse))
        found = []
        for name, (codes, order) in keys.items():
            t0 = time.perf_counter()
            i, j = _cross(codes, order, part)
            found.append(i * n + j)
            if stats is not None:
                stats[name] = {"pairs": len(i), "seconds": round(time.perf_counter() - t0, 3)}
        lsh, lsh_stats = pending.result() if pending is not None else lsh_pairs(*lsh_args)
    finally:
        if pending is not None:
            pool.shutdown(cancel_futures=True)
    found.append(lsh)
    if stats is not None:
        stats["minhash"] = {**lsh_stats, "in_process": pending is not None}
    key = unique(np.concatenate(found))
    return key // max(n, 1), key % max(n, 1)


# ---------------------------------------------------------------- scoring in the home partition's context

def home_partition(pi: np.ndarray, pj: np.ndarray, size: np.ndarray, unknown: int) -> np.ndarray:
    """The partition whose context scores a pair: its own when both sides share one; the located side's
    when the other is `inconnu`; else the larger one (a lower prior: the cautious side), ties by code."""
    larger = np.where((size[pi] > size[pj]) | ((size[pi] == size[pj]) & (pi < pj)), pi, pj)
    return np.where(pi == pj, pi, np.where(pi == unknown, pj, np.where(pj == unknown, pi, larger)))


class NationalScorer:
    """The run's scorer over a subset of the selection, each pair scored as its home partition would:
    partition size (prior) and the frequency of an agreed name / address in that partition (term
    frequencies). `full`: the whole selection's Arrays; `part_full`: partition code per full row;
    `rows`: the full row of each row of the arrays scored (sorted)."""

    def __init__(self, base, full: Arrays, part_full: np.ndarray, rows: np.ndarray, unknown: int):
        self.base = base
        self.learned = isinstance(base, ModelScorer)
        self.full = full
        self.part_full = part_full
        self.part = part_full[rows]
        self.size = np.bincount(part_full).astype(np.int64)
        self.unknown = unknown
        self._tables: dict = {}

    def home(self, i, j) -> np.ndarray:
        return home_partition(self.part[i], self.part[j], self.size, self.unknown)

    def _counts(self, values: np.ndarray, home: np.ndarray, which: str) -> np.ndarray:
        """Rows of partition `home` holding `values` (a row counts once per distinct value); the
        counts of the whole selection, one groupby per kind computed once (`which`: names, addresses)."""
        table = self._tables.get(which)
        if table is None:
            if which == "names":
                cols = [self.full.nom, np.where(self.full.nom_commercial != self.full.nom, self.full.nom_commercial, "")]
            else:
                cols = [_address_key(*split_address(self.full.adresse))]
            frame = pd.concat([pd.DataFrame({"p": self.part_full, "v": c}) for c in cols], ignore_index=True)
            table = frame[frame["v"] != ""].groupby(["p", "v"]).size()
            self._tables[which] = table
        return table.reindex(pd.MultiIndex.from_arrays([home, values])).fillna(0).to_numpy(np.float64)

    def compare(self, arr: Arrays, i, j):
        compared = self.base.compare(arr, i, j)
        if not self.learned or not len(compared):
            return compared
        from data_platform.cluster.comparisons import derived

        home = self.home(compared.i, compared.j)
        # the postal code is what this channel doubts: across partitions, codes that disagree carry no
        # information (the partitions' model never saw two départements: it would read them as a match)
        levels = compared.levels.copy()
        across = self.part[compared.i] != self.part[compared.j]
        levels[across & (levels[:, COL["code_postal"]] > 0), COL["code_postal"]] = -1
        compared.levels = levels
        tf = compared.tf.copy()
        der = derived(arr)
        exact = ~np.isnan(tf[:, 0])
        if exact.any():
            a, b = compared.i[exact], compared.j[exact]
            nom_a, nc_a = der.names[0][a], der.names[1][a]
            nom_b, nc_b = der.names[0][b], der.names[1][b]
            value = np.where((nom_a != "") & ((nom_a == nom_b) | (nom_a == nc_b)), nom_a, nc_a)
            counts = self._counts(value, home[exact], "names")
            tf[exact, 0] = counts / self.size[home[exact]]
        same = ~np.isnan(tf[:, 1])
        if same.any():
            a = compared.i[same]
            value = _address_key(der.house_number[a], der.street[a])
            counts = self._counts(value, home[same], "addresses")
            tf[same, 1] = counts / self.size[home[same]]
        compared.tf = tf
        return compared

    def score(self, arr: Arrays, compared) -> Scored:
        if not self.learned:
            return self.base.score(arr, compared)
        size = self.size[self.home(compared.i, compared.j)] if len(compared) else np.zeros(0)
        prob, weight, bf = self.base.model.predict(compared, size)
        prob = apply_constraints(arr, compared.i, compared.j, prob, compared.distance_m, self.base.params)
        lev = compared.levels.astype(np.float64)
        fields = np.where(lev >= 0, 1.0 - lev / (N_LEVELS - 1), np.nan).astype(np.float32)
        return Scored(compared.i, compared.j, prob.astype(np.float32), fields, compared.distance_m,
                      weights=bf, match_weight=weight, weight_names=tuple(NAMES))

    def score_pairs(self, arr: Arrays, i, j) -> Scored:
        return self.score(arr, self.compare(arr, i, j))


# ---------------------------------------------------------------- regrouping

def _base_scorer(params: RunParams, model, workers: int):
    """The run's scorer: `model` as model_store.run_model gives it ('rules' or a fitted model); None:
    the rules scorer when the run's parameter says so, else the shipped default model."""
    if isinstance(model, str) or (model is None and params.model == "rules"):
        if model not in (None, "rules"):
            raise ValueError(f"unknown model {model!r}: pass a fitted model or 'rules'")
        return RulesScorer(params.scoring, workers)
    if model is None:
        from data_platform.cluster.model import default_model

        model = default_model()
    return ModelScorer(model, params.scoring, workers)


def cluster_departement(members_part: np.ndarray, labels: np.ndarray, names: np.ndarray, unknown: int) -> dict:
    """Label → département of a cluster: its members' most frequent real partition, ties by code;
    `inconnu` only when every member is."""
    df = pd.DataFrame({"l": labels, "p": members_part})
    df["real"] = df["p"] != unknown
    counts = df.groupby(["l", "real", "p"]).size().rename("n").reset_index()
    counts = counts.sort_values(["l", "real", "n", "p"], ascending=[True, False, False, True], kind="stable")
    first = counts.drop_duplicates("l")
    return dict(zip(first["l"].tolist(), names[first["p"].to_numpy()].tolist()))


def _all_pairs_within(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of nodes sharing a label ≥ 0 (clusters are small)."""
    nodes = np.flatnonzero(labels >= 0)
    if not len(nodes):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    df = pd.DataFrame({"l": labels[nodes], "n": nodes})
    m = df.merge(df, on="l")
    m = m[m["n_x"] < m["n_y"]]
    return m["n_x"].to_numpy(np.int64), m["n_y"].to_numpy(np.int64)


def national_frame(df: pd.DataFrame, memberships: pd.DataFrame, params: RunParams, model=None, *,
                   workers: int = 1, links: tuple | None = None, stats: dict | None = None, processes: int = 1):
    """The national stage in memory. `df`: the whole selection (selection columns); `memberships`:
    the partition clusters (cluster_id, identifiant_unique). Returns (memberships, pairs, replaced)
    where memberships/pairs are the new rows (MEMBERSHIP_COLUMNS / PAIR_COLUMNS, sorted) and
    `replaced` = {"clusters": ids of the partition clusters they replace, "actors": ids regrouped}."""
    stats = stats if stats is not None else {}
    empty = (pd.DataFrame(columns=MEMBERSHIP_COLUMNS), pd.DataFrame(columns=PAIR_COLUMNS),
             {"clusters": [], "actors": []})
    t0 = time.perf_counter()
    full = prepare(df)
    dept = pd.Series(full.frame["departement"].fillna("").astype(str)).replace("", UNKNOWN_DEPARTEMENT)
    part_full, part_names = pd.factorize(dept, sort=True)
    part_names = np.asarray(part_names, dtype=object)
    unknown = int(np.flatnonzero(part_names == UNKNOWN_DEPARTEMENT)[0]) if UNKNOWN_DEPARTEMENT in part_names else -1
    keys: dict = {}
    ci, cj = cross_partition_pairs(full, part_full, keys, processes=processes) if len(part_names) > 1 \
        else (np.empty(0, np.int64),) * 2
    # reviewers' must-links across partitions are candidates (and edges) too
    must_full = link_rows(full, links).get("must")
    must_keys = np.empty(0, np.int64)
    if must_full is not None:
        ma, mb = np.minimum(*must_full), np.maximum(*must_full)
        across = part_full[ma] != part_full[mb]
        must_keys = unique(ma[across] * len(full) + mb[across])
        key = union(ci * len(full) + cj, must_keys)
        ci, cj = key // len(full), key % len(full)
    stats.update({"cross_candidates": len(ci), "keys": keys,
                  "candidates_seconds": round(time.perf_counter() - t0, 3)})
    if not len(ci):
        return empty

    # the rows involved: the candidates and the members of their current clusters
    t1 = time.perf_counter()
    cluster_of = pd.Series(memberships["cluster_id"].to_numpy(), index=memberships["identifiant_unique"].to_numpy()) \
        if len(memberships) else pd.Series(dtype=object)
    ends = unique(np.concatenate([ci, cj]))
    their = set(cluster_of.reindex(full.ids[ends]).dropna().tolist())
    in_their = memberships.loc[memberships["cluster_id"].isin(their), "identifiant_unique"].to_numpy() \
        if len(memberships) else np.empty(0, object)
    rows = union(ends, np.searchsorted(full.ids, in_their))
    sub = Arrays.from_frame(full.frame.iloc[rows])
    a, b = np.searchsorted(rows, ci), np.searchsorted(rows, cj)
    scorer = NationalScorer(_base_scorer(params, model, workers), full, part_full, rows, unknown)
    scored = scorer.score_pairs(sub, a, b)
    lk = link_rows(sub, links)
    cannot_keys = set()
    if "cannot" in lk:
        ca, cb = lk["cannot"]
        cannot_keys = set((np.minimum(ca, cb) * len(sub) + np.maximum(ca, cb)).tolist())
    edge = (scored.score >= params.threshold) & ~cannot_link(sub.source, sub.est_parent, a, b,
                                                             params.allow_same_source)
    edge |= np.isin(ci * len(full) + cj, must_keys)
    if cannot_keys:
        edge &= ~np.isin(a * len(sub) + b, np.fromiter(cannot_keys, np.int64))
    stats.update({"cross_edges": int(edge.sum()), "scoring_seconds": round(time.perf_counter() - t1, 3)})
    if not edge.any():
        return empty

    # U: the ends of the edges and every member of their clusters
    t2 = time.perf_counter()
    touched_ends = unique(np.concatenate([a[edge], b[edge]]))
    sub_cluster = cluster_of.reindex(sub.ids).to_numpy(dtype=object)
    touched = sorted(set(pd.Series(sub_cluster[touched_ends]).dropna().tolist()))
    in_u = np.zeros(len(sub), bool)
    in_u[touched_ends] = True
    in_u |= pd.Series(sub_cluster).isin(touched).to_numpy()
    # edges: the cross pairs inside U and every pair inside each touched cluster (scored again, in
    # their own partition's context: the partition's scores)
    old = np.full(len(sub), -1, np.int64)
    if touched:
        codes = pd.Series(sub_cluster).where(pd.Series(sub_cluster).isin(touched))
        old = np.where(codes.notna(), pd.factorize(codes)[0], -1).astype(np.int64)
    ia, ib = _all_pairs_within(old)
    intra = scorer.score_pairs(sub, ia, ib)
    keep = in_u[a] & in_u[b]
    n = len(sub)
    key = np.concatenate([a[keep] * n + b[keep], ia * n + ib])
    sc = np.concatenate([scored.score[keep].astype(np.float64), intra.score.astype(np.float64)])
    key, first = np.unique(key, return_index=True)
    pi, pj, ps = key // n, key % n, sc[first]

    def score_fn(x, y):
        return scorer.score_pairs(sub, x, y).score

    def only_u(pairs):
        if pairs is None:
            return None
        x, y = pairs
        k = in_u[x] & in_u[y]
        return x[k], y[k]

    labels, (ea, eb, _) = group(n, pi, pj, ps, params.threshold, source=sub.source, est_parent=sub.est_parent,
                                 allow_same_source=params.allow_same_source, score_fn=score_fn,
                                 cannot=only_u(lk.get("cannot")), must=only_u(lk.get("must")))
    labels[~in_u] = -1

    # output: memberships (each actor's own partition), every pair inside a final cluster
    members = np.flatnonzero(labels >= 0)
    part_sub = scorer.part
    dep_of = cluster_departement(part_sub[members], labels[members], part_names, unknown)
    m = pd.DataFrame({"l": labels[members], "id": sub.ids[members]}).sort_values(["l", "id"], kind="stable")
    digest = m.groupby("l", sort=False)["id"].agg(
        lambda s: hashlib.sha1("|".join(s.tolist()).encode()).hexdigest()[:16])
    cid_of = {lab: f"{dep_of[lab]}_{h}" for lab, h in digest.items()}
    cids = np.full(n, "", dtype=object)
    cids[members] = [cid_of[lab] for lab in labels[members].tolist()]
    new_members = pd.DataFrame({"cluster_id": cids[members], "identifiant_unique": sub.ids[members],
                                "departement": part_names[part_sub[members]]})
    allk = unique(np.concatenate([pi * n + pj, np.minimum(ea, eb) * n + np.maximum(ea, eb)]))
    xa, xb = allk // n, allk % n
    inside = (labels[xa] >= 0) & (labels[xa] == labels[xb])
    xa, xb = xa[inside], xb[inside]
    rescored = scorer.score_pairs(sub, xa, xb)
    new_pairs = pd.DataFrame({"cluster_id": cids[xa], "id_a": sub.ids[xa], "id_b": sub.ids[xb],
                              "score": np.round(rescored.score.astype(np.float64), 6),
                              "details": details_json(rescored, np.arange(len(xa)))})
    new_members = new_members.sort_values(["cluster_id", "identifiant_unique"], kind="stable").reset_index(drop=True)
    new_pairs = new_pairs.sort_values(["cluster_id", "id_a", "id_b"], kind="stable").reset_index(drop=True)
    across = part_sub[xa] != part_sub[xb]
    spans = new_members.groupby("cluster_id")["departement"].nunique()
    stats.update({
        "touched_clusters": len(touched), "regrouped_actors": int(in_u.sum()),
        "clusters": int(new_members["cluster_id"].nunique()), "clusters_across": int((spans > 1).sum()),
        "pairs_across": int(across.sum()),
        "pairs_with_inconnu": int((across & ((part_sub[xa] == unknown) | (part_sub[xb] == unknown))).sum()),
        "grouping_seconds": round(time.perf_counter() - t2, 3)})
    return (new_members[MEMBERSHIP_COLUMNS], new_pairs[PAIR_COLUMNS],
            {"clusters": touched, "actors": sorted(sub.ids[in_u].tolist())})


# ---------------------------------------------------------------- the database side

def read_all_selection(conn) -> pd.DataFrame:
    from data_platform.db.connection import fetch_df

    cols = ", ".join(SELECTION_COLUMNS[:-1])
    return fetch_df(conn, f"select {cols}, coalesce(nullif(departement, ''), 'inconnu') as departement "
                          "from dbt.cluster_selection order by identifiant_unique")


def write_national(conn, run_id: str, memberships: pd.DataFrame, pairs: pd.DataFrame, replaced: dict) -> None:
    """Replace the touched clusters (and any membership of the regrouped actors) by the new rows
    (caller's transaction)."""
    from data_platform.db.connection import copy_dataframe

    clusters = sorted(set(replaced["clusters"]) | set(memberships["cluster_id"].tolist()))
    with conn.cursor() as cur:
        cur.execute("create temporary table national_ids (cluster_id text, identifiant_unique text) on commit drop")
        cur.execute("insert into national_ids (cluster_id) select unnest(%s::text[])", [clusters])
        cur.execute("insert into national_ids (identifiant_unique) select unnest(%s::text[])", [replaced["actors"]])
        cur.execute("analyze national_ids")  # a temp table has no statistics: the deletes' joins need its size
        cur.execute("delete from cluster_membership m using national_ids n where m.run_id = %s "
                    "and m.identifiant_unique = n.identifiant_unique returning m.cluster_id", [run_id])
        extra = sorted({r[0] for r in cur.fetchall()} - set(clusters))
        cur.execute("insert into national_ids (cluster_id) select unnest(%s::text[])", [extra])
        cur.execute("delete from cluster_pair p using national_ids n where p.run_id = %s "
                    "and p.cluster_id = n.cluster_id", [run_id])
        cur.execute("delete from cluster_membership m using national_ids n where m.run_id = %s "
                    "and m.cluster_id = n.cluster_id", [run_id])
    if len(memberships):
        copy_dataframe(conn, "cluster_membership", memberships.assign(run_id=run_id)[["run_id"] + MEMBERSHIP_COLUMNS])
    if len(pairs):
        copy_dataframe(conn, "cluster_pair", pairs.assign(run_id=run_id)[["run_id"] + PAIR_COLUMNS])


def cluster_national(run_id: str, params: RunParams, workers: int = 1, url: str | None = None,
                     processes: int = 1) -> dict:
    """The national stage of a run, after its partition batches: read the whole selection, the run's
    memberships and model, regroup across partitions, store (one transaction). Returns counts and seconds."""
    from data_platform.cluster.model_store import run_model
    from data_platform.db.connection import connect, fetch_df
    from data_platform.labels.reviewer import reviewer_links

    t0 = time.perf_counter()
    with connect(url) as conn:
        model = run_model(conn, run_id, params)
        df = read_all_selection(conn)
        memberships = fetch_df(conn, "select cluster_id, identifiant_unique from cluster_membership "
                                     "where run_id = %s order by identifiant_unique", [run_id])
        links = reviewer_links(conn)
    stats: dict = {"read_seconds": round(time.perf_counter() - t0, 3)}
    m, p, replaced = national_frame(df, memberships, params, model, workers=workers, links=links, stats=stats,
                                    processes=processes)
    t1 = time.perf_counter()
    if len(m) or replaced["clusters"]:
        with connect(url) as conn:
            write_national(conn, run_id, m, p, replaced)
    stats["write_seconds"] = round(time.perf_counter() - t1, 3)
    stats["actors"] = len(df)
    return stats
