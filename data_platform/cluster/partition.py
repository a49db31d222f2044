"""Clustering per département partition: planning balanced batches, clustering a batch from
`dbt.cluster_selection` into `public.cluster_membership` / `public.cluster_pair` (bulk COPY, one
transaction, idempotent), and `cluster_frame`, the same thing in memory on a DataFrame.
"""
from __future__ import annotations

import heapq
import logging
import math
import os
import time

import numpy as np
import pandas as pd

from data_platform.cluster.candidates import (
    GRID_SHIFTS,
    BlockingKey,
    candidate_pairs,
    grid_codes,
    phonetic_fr,
    text_ranks,
)
from data_platform.cluster.grouping import cluster_ids, group
from data_platform.cluster.model import FellegiSunter, ModelScorer, RulesScorer, fit_selection
from data_platform.cluster.params import DEFAULT_MODEL, RunParams
from data_platform.cluster.scoring import Arrays, Scored, details_json

SELECTION_COLUMNS = [
    "identifiant_unique", "source", "acteur_type", "est_parent", "nombre_enfants", "nom", "nom_commercial",
    "adresse", "code_postal", "ville", "siret", "telephone", "latitude", "longitude", "nom_norm",
    "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm", "siren_norm",
    "telephone_norm", "departement",
]
MEMBERSHIP_COLUMNS = ["cluster_id", "identifiant_unique", "departement"]
PAIR_COLUMNS = ["cluster_id", "id_a", "id_b", "score", "details"]
# "0": the clustering batches store memberships only, no cluster_pair rows (their rescoring and details
# JSON were ~10 % of a batch's time). Set by dedupe-csv, whose throw-away database is read for the
# memberships alone; parents, changes, suggestions and reports need the pairs.
PAIRS_ENV = "DP_CLUSTER_PAIRS"


def pairs_stored() -> bool:
    return os.environ.get(PAIRS_ENV, "1") != "0"

log = logging.getLogger(__name__)

# candidate generation (tuned with bench/bench_cluster.py)
TOP_K = 10
MIN_COSINE = 0.3
UNKNOWN_DEPARTEMENT = "inconnu"
# a saved model's JSON file that scores every batch instead of the run's scorer (dedupe-csv --model)


# ---------------------------------------------------------------- one partition, in memory

def prepare(df: pd.DataFrame) -> Arrays:
    """Rows sorted by identifiant_unique (deterministic input order), as column arrays."""
    df = df.sort_values("identifiant_unique", kind="stable").reset_index(drop=True)
    return Arrays.from_frame(df)


# Blocking keys (measured on the generator's 500,000 actors, Paris = 38,578 rows, bench/bench_candidates.py):
# word 1-3-grams of name + address find as many true pairs as character trigrams do, at a tenth of
# the cost, because a dense partition shares every common trigram; character trigrams (robust to
# typos in every word) are added where the partition is small enough for them to be cheap.
# Top-k neighbours lose pairs in dense partitions (namesakes crowd a row's k best), so exact keys
# follow, each pairing the rows that share its value (capped: sorted neighbourhood of EXACT_WINDOW
# rows within a value shared by many, e.g. a chain's phone or a mall's grid cell). They replace the
# former name + commercial name + postal code top-5 (a quarter of the TF-IDF time): the phonetic
# name keys within a postal code find those pairs. Seed 42: pairs completeness 0.98377 → 0.99767 at
# 500,000 (3.10 M → 3.93 M candidates), 0.99821 → 0.99972 at 50,000 (265 k → 262 k candidates).
EXACT_WINDOW = 5
GRID_CELL_M = 150.0  # four shifted grids: any two points < 75 m apart on both axes share a cell
BLOCKING_KEYS = [
    BlockingKey("nom_adresse_words", analyzer="word", ngram_range=(1, 3), max_df_rows=1000, k=TOP_K),
    BlockingKey("nom_adresse_chars", analyzer="char_wb", ngram_range=(3, 3), k=TOP_K, max_rows=3000),
    BlockingKey("siret", kind="exact", window=EXACT_WINDOW),
    BlockingKey("telephone", kind="exact", window=EXACT_WINDOW),
    BlockingKey("numero_rue", kind="exact", window=EXACT_WINDOW),
    BlockingKey("nom_phonetique", kind="exact", window=EXACT_WINDOW),
    *[BlockingKey(f"grille_{k}", kind="exact", window=EXACT_WINDOW) for k in range(len(GRID_SHIFTS))],
]


def blocking_texts(arr: Arrays) -> list:
    """Inputs of BLOCKING_KEYS, in order. TF-IDF texts: name + address (words, then chars). Exact
    keys as (values, order): SIRET, phone, house number + street, the phonetic keys of the name and
    of the commercial name within a postal code (either matches either: finds a duplicate whose
    address is missing or written differently), the four coordinate grids; a capped value's rows
    are taken in name order (address order for the name keys)."""
    nom = pd.Series(arr.nom)
    adresse = pd.Series(arr.adresse)
    nom_adresse = (nom + " " + adresse).str.strip().tolist()
    # "12 bis rue x" and "12 rue x" are one number on one street
    street = adresse.str.replace(r"^\s*\d+\s*(?:bis|ter|quater|[a-z](?=\s))?\s*", "", regex=True).str.strip()
    hn = pd.Series(arr.house_number)
    numero_rue = (hn + " " + street).where((hn != "") & (street != ""), "").to_numpy(dtype=object)
    cp = pd.Series(arr.code_postal)
    # the name's and the commercial name's keys, one column each: a name matches either name
    nom_phon = np.column_stack([(phon + "|" + cp).where(phon != "", "").to_numpy(dtype=object)
                                for phon in (pd.Series(phonetic_fr(arr.nom)),
                                             pd.Series(phonetic_fr(arr.nom_commercial)))])
    by_name = text_ranks(arr.nom)  # one sort of the names for every key ordered by name
    grids = [(grid_codes(arr.lat, arr.lon, GRID_CELL_M, shift), by_name) for shift in GRID_SHIFTS]
    return [nom_adresse, nom_adresse, (arr.siret, by_name), (arr.telephone, by_name),
            (numero_rue, by_name), (nom_phon, text_ranks(arr.adresse)), *grids]


def _scorer(params: RunParams, workers: int, scorer) -> RulesScorer | ModelScorer:
    return scorer if scorer is not None else RulesScorer(params.scoring, workers)


def compare_partition(arr: Arrays, params: RunParams, workers: int = 1, timings: dict | None = None,
                      min_cosine: float = MIN_COSINE, scorer=None):
    """Candidate pairs of the partition, compared by the scorer (levels, or rules scores)."""
    scorer = _scorer(params, workers, scorer)
    t0 = time.perf_counter()
    i, j, _ = candidate_pairs(blocking_texts(arr), BLOCKING_KEYS, min_cosine=min_cosine)
    t1 = time.perf_counter()
    compared = scorer.compare(arr, i, j)
    if timings is not None:
        timings["candidates"] = timings.get("candidates", 0.0) + t1 - t0
        timings["scoring"] = timings.get("scoring", 0.0) + time.perf_counter() - t1
        timings["pairs"] = timings.get("pairs", 0) + len(i)
    return compared


def compared_partition(d: str, arr: Arrays, params: RunParams, workers: int = 1, timings: dict | None = None,
                       scorer=None, cache=None):
    """compare_partition for a learned scorer, through the run's ComparedCache when given (training
    and clustering compute the same partition's comparisons once: cluster.compared_cache)."""
    compared = cache.get(d, arr.ids) if cache is not None else None
    if compared is None:
        compared = compare_partition(arr, params, workers, timings, scorer=scorer)
        if cache is not None:
            cache.put(d, arr.ids, compared)
    elif timings is not None:
        timings["pairs"] = timings.get("pairs", 0) + len(compared)
        timings["cached_partitions"] = timings.get("cached_partitions", 0) + 1
    return compared


def score_partition(arr: Arrays, params: RunParams, workers: int = 1, timings: dict | None = None,
                    min_cosine: float = MIN_COSINE, scorer=None) -> Scored:
    """Candidate pairs of the partition and their scores (the rules scorer unless `scorer` is given)."""
    scorer = _scorer(params, workers, scorer)
    return scorer.score(arr, compare_partition(arr, params, workers, timings, min_cosine, scorer))


def link_rows(arr: Arrays, links: tuple | None) -> dict:
    """Reviewer links (cannot, must DataFrames of id_a, id_b; see data_platform.labels.reviewer) as
    row-index pairs of this partition: {"cannot": (a, b), "must": (a, b)}; pairs with an actor
    outside the partition are dropped."""
    if not links:
        return {}
    index = pd.Index(arr.ids)
    out = {}
    for name, df in zip(("cannot", "must"), links):
        if df is None or not len(df):
            continue
        a = index.get_indexer(df["id_a"].to_numpy())
        b = index.get_indexer(df["id_b"].to_numpy())
        keep = (a >= 0) & (b >= 0)
        if keep.any():
            out[name] = (a[keep].astype(np.int64), b[keep].astype(np.int64))
    return out


def group_partition(arr: Arrays, scored: Scored, params: RunParams, *, threshold: float,
                    workers: int = 1, scorer=None, links: tuple | None = None) -> tuple[np.ndarray, tuple]:
    """Cluster label per row (-1 = alone) and every scored pair (candidates ∪ intra-component ∪
    must-links). `links`: reviewer (cannot, must) pairs by identifiant_unique."""
    scorer = _scorer(params, workers, scorer)

    def score_fn(a, b):
        return scorer.score(arr, scorer.compare(arr, a, b)).score

    labels, (ea, eb, es) = group(len(arr), scored.i, scored.j, scored.score, threshold,
                                 source=arr.source, est_parent=arr.est_parent,
                                 allow_same_source=params.allow_same_source, score_fn=score_fn,
                                 **link_rows(arr, links))
    n = len(arr)
    key = np.concatenate([scored.i * n + scored.j, ea * n + eb])
    sc = np.concatenate([scored.score.astype(np.float64), es])
    key, first = np.unique(key, return_index=True)
    return labels, (key // n, key % n, sc[first])


def partition_output(arr: Arrays, departement: str, labels: np.ndarray, pairs: tuple, *, threshold: float,
                     scoring: dict, workers: int = 1, scorer=None, with_pairs: bool = True
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Membership rows and cluster_pair rows: every pair inside a final cluster, whatever its score;
    `scoring`: `RunParams.scoring`, to rescore the kept pairs with their per-field details (with
    `scorer`, a learned model's, their per-comparison weights).

    A cluster can hold a pair below the threshold (average linkage merges on the mean distance); it is
    stored too, so that the cluster's weakest pair (the suggestion's score) is the one a reviewer sees.
    `threshold` is kept for the callers; it no longer filters the pairs. `with_pairs=False`: no pair
    rows (`pairs_stored`)."""
    scorer = scorer if scorer is not None else RulesScorer(scoring, workers)
    cids = cluster_ids(departement, arr.ids, labels)
    members = np.flatnonzero(labels >= 0)
    memberships = pd.DataFrame({"cluster_id": cids[members], "identifiant_unique": arr.ids[members],
                                "departement": departement})
    if not with_pairs:
        return memberships, pd.DataFrame(columns=PAIR_COLUMNS)
    a, b, _ = pairs
    inside = (labels[a] >= 0) & (labels[a] == labels[b]) if len(a) else np.zeros(0, bool)
    a, b = a[inside], b[inside]
    rescored = scorer.score(arr, scorer.compare(arr, a, b))  # per-field details of the kept pairs
    pair_df = pd.DataFrame({"cluster_id": cids[a], "id_a": arr.ids[a], "id_b": arr.ids[b],
                            "score": np.round(rescored.score.astype(np.float64), 6),
                            "details": details_json(rescored, np.arange(len(a)))})
    return memberships, pair_df


def cluster_partition(part: pd.DataFrame, departement: str, params: RunParams, workers: int = 1,
                      timings: dict | None = None, scorer=None,
                      links: tuple | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    arr = prepare(part)
    scored = score_partition(arr, params, workers=workers, timings=timings, scorer=scorer)
    return _group_and_output(arr, departement, scored, params, workers, timings, scorer, links)


def _group_and_output(arr, departement, scored, params: RunParams, workers, timings, scorer, links=None):
    t0 = time.perf_counter()
    labels, pairs = group_partition(arr, scored, params, threshold=params.threshold, workers=workers,
                                    scorer=scorer, links=links)
    out = partition_output(arr, departement, labels, pairs, threshold=params.threshold, scoring=params.scoring,
                           workers=workers, scorer=scorer, with_pairs=pairs_stored())
    if timings is not None:
        timings["grouping"] = timings.get("grouping", 0.0) + time.perf_counter() - t0
    return out


def model_kind(params: RunParams, model=None) -> str:
    """'rules' (the hand-set scorer) or the kind of the learned model that scores the run: `model`
    (an object or a kind), else the run's `model` parameter (when RunParams has one), else 'rules'."""
    if model is None:
        model = getattr(params, "model", DEFAULT_MODEL)
    if isinstance(model, str):
        # the run's parameter: 'latest' / 'em' fit a Fellegi–Sunter model on the frame when no saved
        # one is given (cluster_batch passes the run's), a saved model's id needs the database
        return FellegiSunter.kind if model in ("latest", "em") else model
    return model.kind


def scored_partitions(df: pd.DataFrame, params: RunParams, workers: int = 1, timings: dict | None = None,
                      model=None, fitted: dict | None = None, cache=None):
    """(departement, Arrays, Scored, scorer) per partition, in sorted département order.

    The rules scorer goes partition by partition. A learned scorer takes two passes: candidates and
    comparison levels of every partition, then (unless `model` is a fitted model) one Fellegi–Sunter
    fit on them all, then probabilities per partition. `fitted` (optional dict) receives {"model": JSON}.
    `cache` (a ComparedCache): the comparisons the run's training already computed are read back."""
    kind = model_kind(params, model)
    if isinstance(model, str):
        model = None
    if kind == "rules":
        scorer = RulesScorer(params.scoring, workers)
        for d, part in partitions_of(df):
            arr = prepare(part)
            yield d, arr, score_partition(arr, params, workers=workers, timings=timings, scorer=scorer), scorer
        return
    if model is None and kind != FellegiSunter.kind:
        raise ValueError(f"unknown model {kind!r}" + (" (a saved model: pass it, or cluster through the "
                                                      "pipeline)" if kind.isdigit() else ""))
    compare_only = ModelScorer(None, params.scoring, workers)
    parts = []
    for d, part in partitions_of(df):
        arr = prepare(part)
        parts.append((d, arr, compared_partition(d, arr, params, workers, timings, compare_only, cache)))
    if model is None:
        t0 = time.perf_counter()
        model = fit_selection([(arr, c) for _, arr, c in parts])
        if timings is not None:
            timings["fit"] = timings.get("fit", 0.0) + time.perf_counter() - t0
    if fitted is not None:
        fitted["model"] = model.to_json()
    scorer = ModelScorer(model, params.scoring, workers)
    while parts:
        d, arr, compared = parts.pop(0)
        yield d, arr, scorer.score(arr, compared), scorer


def _sorted_outputs(memberships: list, pairs: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    m = pd.concat(memberships, ignore_index=True) if memberships else pd.DataFrame(columns=MEMBERSHIP_COLUMNS)
    p = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(columns=PAIR_COLUMNS)
    m = m.sort_values(["cluster_id", "identifiant_unique"], kind="stable").reset_index(drop=True)
    p = p.sort_values(["cluster_id", "id_a", "id_b"], kind="stable").reset_index(drop=True)
    return m[MEMBERSHIP_COLUMNS], p[PAIR_COLUMNS]


def partitions_of(df: pd.DataFrame):
    """(departement, rows) per partition, in sorted département order; a missing or empty
    département is the 'inconnu' partition."""
    dept = df["departement"].fillna("").astype(str) if "departement" in df.columns else pd.Series("", index=df.index)
    dept = dept.where(dept != "", UNKNOWN_DEPARTEMENT)
    for d, part in df.groupby(dept.to_numpy(), sort=True):
        yield d, part


def cluster_frame(df: pd.DataFrame, params: RunParams | None = None, workers: int = 1,
                  stats: dict | None = None, model=None,
                  links: tuple | None = None, cache=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cluster every partition of a selection-shaped DataFrame in memory.

    Returns (memberships[cluster_id, identifiant_unique, departement],
             pairs[cluster_id, id_a, id_b, score, details]) sorted by cluster_id then ids.
    `params`: the defaults when None. `model`: a saved FellegiSunter / LogisticMatcher, or a kind
    ("rules", "fellegi_sunter": fitted on this frame); None: the run's `model` parameter if RunParams
    has one, else the rules scorer. `stats` (optional dict) receives stage seconds, per-partition
    seconds and, for a learned scorer, the model's JSON under "model".
    `links` (optional): reviewer (cannot, must) pairs, DataFrames of id_a, id_b
    (data_platform.labels.reviewer_links). `cache`: the run's ComparedCache (scored_partitions).
    """
    params = RunParams() if params is None else params
    memberships, pairs = [], []
    timings: dict = {}
    part_seconds: dict = {}
    fitted: dict = {}
    t0 = start = time.perf_counter()
    n_parts = (int(df["departement"].fillna("").astype(str).replace("", UNKNOWN_DEPARTEMENT).nunique())
               if "departement" in df.columns else 1)
    for k, (d, arr, scored, scorer) in enumerate(scored_partitions(df, params, workers, timings, model, fitted, cache), 1):
        m, p = _group_and_output(arr, d, scored, params, workers, timings, scorer, links)
        part_seconds[d] = round(time.perf_counter() - t0, 4)
        # progress, one line per partition (the Airflow task's log): "partition 37/102 (75), 12,400 actors, 9 s"
        log.info("partition %d/%d (%s), %s actors, %s clusters, %.1f s (%.0f s elapsed)", k, max(n_parts, k), d,
                 f"{len(arr):,}", f"{m['cluster_id'].nunique():,}", part_seconds[d], time.perf_counter() - start)
        t0 = time.perf_counter()
        memberships.append(m)
        pairs.append(p)
    out = _sorted_outputs(memberships, pairs)
    if stats is not None:
        stats.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()})
        stats["partition_seconds"] = part_seconds
        stats.update(fitted)
    return out


def labels_at_thresholds(df: pd.DataFrame, params: RunParams, thresholds, workers: int = 1,
                         model=None) -> dict:
    """{threshold: Series identifiant_unique → cluster key ('' = alone)}: candidates and scores are
    computed once per partition, only the grouping is redone per threshold (evaluate's table)."""
    out = {t: [] for t in thresholds}
    for d, arr, scored, scorer in scored_partitions(df, params, workers, model=model):
        for t in thresholds:
            labels, _ = group_partition(arr, scored, params, threshold=t, workers=workers, scorer=scorer)
            key = np.where(labels >= 0, np.char.add(f"{d}:", labels.astype(str)), "")
            out[t].append(pd.Series(key, index=arr.ids))
    return {t: (pd.concat(v) if v else pd.Series(dtype=object)) for t, v in out.items()}


# ---------------------------------------------------------------- the database side

# dbt.cluster_selection holds the current run's selection only (no run_id column, rebuilt whole by
# each run: dbt_project/README.md), so `run_id` below names the run but filters nothing.

def partition_sizes(conn, run_id: str) -> dict[str, int]:
    """Rows per département of the run's selection (one group-by query)."""
    with conn.cursor() as cur:
        cur.execute("select coalesce(nullif(departement, ''), 'inconnu') as d, count(*) "
                    "from dbt.cluster_selection group by 1 order by 1")
        return {d: int(c) for d, c in cur.fetchall()}


def partition_cost(n: int) -> float:
    """Relative cost of clustering a partition of n actors (top-k search grows like n log n here)."""
    return n * math.log2(n + 2)


def balance(sizes: dict[str, int], n_batches: int) -> list[list[str]]:
    """Greedy largest-first assignment to the least loaded batch; deterministic (ties by code/index)."""
    n_batches = max(1, int(n_batches))
    heap = [(0.0, b) for b in range(n_batches)]
    batches: list[list[str]] = [[] for _ in range(n_batches)]
    for d, n in sorted(sizes.items(), key=lambda kv: (-partition_cost(kv[1]), kv[0])):
        load, b = heapq.heappop(heap)
        batches[b].append(d)
        heapq.heappush(heap, (load + partition_cost(n), b))
    return [sorted(b) for b in batches if b]


def plan_batches(conn, run_id: str, n_batches: int) -> list[list[str]]:
    """Départements of the run's selection grouped into at most n_batches balanced batches."""
    return balance(partition_sizes(conn, run_id), n_batches)


def read_selection(conn, run_id: str, departements: list[str]) -> pd.DataFrame:
    cols = ", ".join(SELECTION_COLUMNS[:-1])
    query = (f"select {cols}, coalesce(nullif(departement, ''), 'inconnu') as departement "
             f"from dbt.cluster_selection where coalesce(nullif(departement, ''), 'inconnu') = any(%s) "
             "order by identifiant_unique")
    from data_platform.db.connection import fetch_df

    return fetch_df(conn, query, [list(departements)])


def write_results(conn, run_id: str, departements: list[str], memberships: pd.DataFrame,
                  pairs: pd.DataFrame) -> None:
    """Replace the run's clusters that hold an actor of these départements (caller's transaction)."""
    from data_platform.db.connection import copy_dataframe

    # the clusters to replace first, then deletes by (run_id, cluster_id): a join of the two tables was planned
    # on the statistics of before the run's first batches were copied in (the run "has no rows") as a nested
    # loop of full scans, and ran for over 10 minutes at 500,000 actors; a first pass has nothing to delete
    with conn.cursor() as cur:
        cur.execute("select array_agg(distinct cluster_id) from cluster_membership "
                    "where run_id = %s and departement = any(%s)", [run_id, list(departements)])
        replaced = cur.fetchone()[0] or []
        if replaced:
            cur.execute("delete from cluster_pair where run_id = %s and cluster_id = any(%s)", [run_id, replaced])
            cur.execute("delete from cluster_membership where run_id = %s and cluster_id = any(%s)",
                        [run_id, replaced])
    if len(memberships):
        copy_dataframe(conn, "cluster_membership", memberships.assign(run_id=run_id)[["run_id"] + MEMBERSHIP_COLUMNS])
    if len(pairs):
        copy_dataframe(conn, "cluster_pair", pairs.assign(run_id=run_id)[["run_id"] + PAIR_COLUMNS])


def cluster_batch(run_id: str, departements: list[str], params: RunParams, workers: int = 1,
                  url: str | None = None) -> dict:
    """Cluster the run's selection for these départements and store memberships and pairs.

    The run's model (`model_store.run_model`: recorded by pipeline.train_model, never fitted here),
    one COPY out and one query for the reviewers' cannot-/must-links of these actors, clustering per
    partition, then one transaction: delete the run's rows of these
    départements, COPY the new ones. Returns counts and seconds (per partition, per stage).
    """
    from data_platform.cluster.compared_cache import ComparedCache
    from data_platform.cluster.model_store import run_model
    from data_platform.db.connection import connect
    from data_platform.labels.reviewer import reviewer_links

    departements = sorted(set(departements))
    t0 = time.perf_counter()
    with connect(url) as conn:
        model = run_model(conn, run_id, params)  # the run's model (pipeline.train_model); never fitted here
        cache = ComparedCache.for_run(conn, run_id)  # the training's comparisons of these partitions
        df = read_selection(conn, run_id, departements)
        # reviewers' memory, one query; labels come from human decisions (thousands, not millions):
        # all are read and kept for the batch's actors here rather than shipping every id to SQL
        ids = df["identifiant_unique"]
        links = tuple(lk[lk["id_a"].isin(ids) & lk["id_b"].isin(ids)] for lk in reviewer_links(conn))
    t_read = time.perf_counter() - t0
    stats: dict = {}
    memberships, pairs = cluster_frame(df, params, workers=workers, stats=stats, model=model, links=links,
                                       cache=cache)
    t1 = time.perf_counter()
    with connect(url) as conn:
        write_results(conn, run_id, departements, memberships, pairs)
    t_write = time.perf_counter() - t1
    part_seconds = stats.pop("partition_seconds", {})
    stats.pop("model", None)  # the model's JSON (saved in match_model by pipeline.train_model)
    return {
        "run_id": run_id,
        "departements": departements,
        "actors": len(df),
        "clusters": int(memberships["cluster_id"].nunique()) if len(memberships) else 0,
        "memberships": len(memberships),
        "pairs": len(pairs),
        "candidate_pairs": int(stats.pop("pairs", 0)),
        "stage_seconds": {"read": round(t_read, 4), **stats, "write": round(t_write, 4)},
        "partition_seconds": part_seconds,
        "partition_sizes": {d: int(c) for d, c in df["departement"].value_counts().sort_index().items()},
    }
