"""The admin's "Étiqueter des paires" page, on the database side (issue 8, item 4): the pool of
candidate pairs it asks about, the stored labels (table `pair_label`), the next pair, recording an
answer and retraining into `match_model`. Plain psycopg2 (the page passes Django's connection,
`connection.connection`), no Django import: the same functions serve a script or a test.

- Pool (`page_pool`): the candidate pairs of whole département partitions, at most POOL_MAX_ACTORS
  actors, chosen in the order of a hash of their code (deterministic, spread over the country, as
  the pipeline samples its training partitions), blocked and compared exactly as the clustering does
  (`labels.active.Pool`). The actors are the latest run's normalized selection (`dbt.cluster_selection`)
  when it exists, else the ACTIF imported actors normalized by `normalize_frame`. Built once per
  process and data state (`pool_signature`), a few seconds for a few thousand actors; every request
  after that costs milliseconds.
- Current model: the newest saved model (`model=latest` of the next run); none saved: EM fitted on
  the pool. The base of the labelled models (EM, "never worse than EM"): the newest Fellegi–Sunter
  model that labels did not make, else EM on the pool.
- Next pair: `ActiveLearner.next_pair` (probability nearest the threshold, spread over départements
  and comparison patterns), the pairs already answered (oui, non, incertain) never asked again.
- An answer stores the comparison vector the person judged (`features`); every RETRAIN_EVERY labels
  (oui/non) `retrain` fits `labels.active.learn` on every stored label (EM, or EM corrected by the labels)
  — bounded: a logistic regression on a few thousand rows, milliseconds — and saves the model in
  match_model (kind, n labels, cross-validated P/R, created by the person): the next run with
  `model=latest` scores with it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import threading

import numpy as np
import pandas as pd

from data_platform.cluster.comparisons import N_LEVELS, NAMES, TF_COMPARISONS, Compared
from data_platform.labels.active import ActiveLearner, Pool, learn

POOL_MAX_ACTORS = 6_000
RETRAIN_EVERY = 10
THRESHOLD = 0.75          # the run's default threshold: pairs are asked where the decision is unsure
TRAINED_ON = "pair_label"  # match_model.trained_on of the models this page makes
LABELS = ("oui", "non", "incertain")
RAW_FIELDS = ["source", "acteur_type", "nom", "nom_commercial", "siret", "adresse", "code_postal", "ville",
              "latitude", "longitude", "telephone"]
NORM_FIELDS = ["nom_norm", "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm",
               "telephone_norm", "departement"]

_lock = threading.Lock()
_pools: dict = {}


# ---------------------------------------------------------------- the pool

def _selection_exists(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('dbt.cluster_selection') is not null")
        return bool(cur.fetchone()[0])


def pool_signature(conn) -> tuple:
    """What the pool depends on: the latest run's selection (its run id) or the imported actors' state."""
    with conn.cursor() as cur:
        if _selection_exists(conn):
            cur.execute("select run_id from cluster_run where status = 'done' order by started_at desc, run_id desc "
                        "limit 1")
            row = cur.fetchone()
            if row is not None:
                return ("selection", row[0])
        cur.execute("select count(*), max(modifie_le) from acteur where statut = 'ACTIF'")
        n, last = cur.fetchone()
        return ("acteur", int(n), str(last))


def _hash_order(code: str) -> str:
    return hashlib.md5(str(code).encode()).hexdigest()


def _sample(sizes: dict, max_actors: int) -> list:
    """Whole partitions in hash order of their code while they fit in max_actors (at least one)."""
    chosen, total = [], 0
    for d in sorted(sizes, key=_hash_order):
        if total and total + sizes[d] > max_actors:
            continue
        chosen.append(d)
        total += sizes[d]
    return sorted(chosen)


def _read_selection(conn, max_actors: int) -> pd.DataFrame:
    from data_platform.cluster import partition as P

    sizes = P.partition_sizes(conn, "")
    return P.read_selection(conn, "", _sample(sizes, max_actors))


# postal-code prefix of a partition: Corsica (2A/2B) shares "20", overseas (971…) share "97", so that
# partitions stay whole when the département is computed after reading
_PREFIX_SQL = "left(lpad(regexp_replace(code_postal, '\\D', '', 'g'), 5, '0'), 2)"


def _read_acteurs(conn, max_actors: int) -> pd.DataFrame:
    from data_platform.cluster.normalize import normalize_frame
    from data_platform.db.connection import fetch_df

    with conn.cursor() as cur:
        cur.execute(f"select {_PREFIX_SQL}, count(*) from acteur where statut = 'ACTIF' group by 1")
        sizes = {p: int(n) for p, n in cur.fetchall()}
    prefixes = _sample(sizes, max_actors) if sizes else []
    cols = ["identifiant_unique", "source", "acteur_type", "nom", "nom_commercial", "siren", "siret", "adresse",
            "code_postal", "ville", "telephone", "latitude", "longitude"]
    df = fetch_df(conn, f"select {', '.join(cols)} from acteur where statut = 'ACTIF' and {_PREFIX_SQL} = any(%s) "
                        "order by identifiant_unique", [prefixes])
    for c in ("latitude", "longitude"):
        df[c] = pd.to_numeric(df[c].replace("", None), errors="coerce")
    df["est_parent"] = False
    return normalize_frame(df)


@dataclasses.dataclass
class PagePool:
    signature: tuple
    pool: Pool                    # its `model`: EM fitted on the pool
    index: dict                   # (left_id, right_id) → pair index

    def features(self, k: int) -> dict:
        c = self.pool.compared
        tf = [None if np.isnan(v) else float(v) for v in c.tf[k].tolist()]
        dist = float(c.distance_m[k])
        return {"comparisons": NAMES, "levels": [int(v) for v in c.levels[k].tolist()], "tf": tf,
                "distance_m": None if np.isnan(dist) else round(dist, 1),
                "partition_size": float(self.pool.partition_size[k])}


def page_pool(conn, max_actors: int = POOL_MAX_ACTORS) -> PagePool:
    """The pool of the current data state (built once per process and state, under a lock)."""
    signature = pool_signature(conn) + (max_actors,)
    with _lock:
        cached = _pools.get("pool")
        if cached is not None and cached.signature == signature:
            return cached
        df = _read_selection(conn, max_actors) if signature[0] == "selection" else _read_acteurs(conn, max_actors)
        pool = Pool.from_frame(df)
        left, right = pool.ids[pool.a].astype(str), pool.ids[pool.b].astype(str)
        index = {(a, b) if a < b else (b, a): k for k, (a, b) in enumerate(zip(left.tolist(), right.tolist()))}
        built = PagePool(signature, pool, index)
        _pools["pool"] = built
        return built


# ---------------------------------------------------------------- models

def current_model(conn, pool: Pool) -> tuple[int | None, object]:
    """(id, model) that `model=latest` would use; (None, EM of the pool) when none is saved."""
    from data_platform.cluster import model_store

    if model_store.latest_id(conn) is None:
        return None, pool.model
    return model_store.load(conn, "latest")


def base_model(conn, pool: Pool):
    """EM, the model labels must never make worse: the newest saved Fellegi–Sunter model not made
    from labels (a run's), else EM fitted on the pool."""
    from data_platform.cluster.model import model_from_json

    with conn.cursor() as cur:
        cur.execute("select parameters from match_model where kind = 'fellegi_sunter' and trained_on not like %s "
                    "and not coalesce((parameters -> 'info' ->> 'seeded_by_labels')::boolean, false) "
                    "order by created_at desc, id desc limit 1", (TRAINED_ON + "%",))
        row = cur.fetchone()
    return model_from_json(row[0]) if row else pool.model


# ---------------------------------------------------------------- labels

def stored_labels(conn) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute("select left_id, right_id, label, features from pair_label order by left_id, right_id")
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["left_id", "right_id", "label", "features"])


def counts(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("select label, count(*) from pair_label group by label")
        found = dict(cur.fetchall())
    return {label: int(found.get(label, 0)) for label in LABELS}


def learner(conn, page: PagePool) -> tuple[ActiveLearner, int | None]:
    """The page's ActiveLearner: the current model's probabilities, the stored answers replayed (never
    asked again, their départements and patterns count for diversity); and the current model's id."""
    model_id, model = current_model(conn, page.pool)
    al = ActiveLearner(page.pool, threshold=THRESHOLD, model=model)
    labels = stored_labels(conn)
    for left, right, label in zip(labels["left_id"], labels["right_id"], labels["label"]):
        k = page.index.get((left, right))
        if k is None:
            continue
        al.mark_asked(k)
        if label == "incertain":
            al.skipped.add(k)
        else:
            al.labels[k] = label == "oui"
    return al, model_id


def record(conn, page: PagePool, left_id: str, right_id: str, label: str, user: str,
           model_id: int | None, probability: float | None) -> None:
    """Store (or replace) the answer about a pair of the pool (ValueError: not a pair of the pool, or
    not oui / non / incertain). Caller's transaction."""
    if label not in LABELS:
        raise ValueError(f"réponse inconnue {label!r} (oui, non ou incertain)")
    key = (left_id, right_id) if left_id < right_id else (right_id, left_id)
    k = page.index.get(key)
    if k is None:
        raise ValueError(f"la paire {key[0]} / {key[1]} n'est pas (ou plus) une paire candidate")
    with conn.cursor() as cur:
        cur.execute(
            "insert into pair_label (left_id, right_id, label, labelled_by, labelled_at, model_id, probability,"
            " departement, features) values (%s, %s, %s, %s, now(), %s, %s, %s, %s)"
            " on conflict (left_id, right_id) do update set label = excluded.label,"
            " labelled_by = excluded.labelled_by, labelled_at = now(), model_id = excluded.model_id,"
            " probability = excluded.probability, departement = excluded.departement, features = excluded.features",
            (key[0], key[1], label, user, model_id, probability, str(page.pool.departement[k]),
             json.dumps(page.features(k))))


def labelled_vectors(labels: pd.DataFrame) -> tuple[Compared, np.ndarray, np.ndarray]:
    """(Compared, y, partition sizes) of the oui / non labels whose stored vector has this version's
    comparisons (a label stored by another version is skipped)."""
    keep = labels[labels["label"].isin(["oui", "non"])]
    feats = [f for f in keep["features"] if f.get("comparisons") == NAMES and len(f.get("levels", [])) == len(NAMES)]
    y = np.array([lab == "oui" for lab, f in zip(keep["label"], keep["features"])
                  if f.get("comparisons") == NAMES and len(f.get("levels", [])) == len(NAMES)], bool)
    n = len(feats)
    levels = np.array([f["levels"] for f in feats], np.int8).reshape(n, len(NAMES))
    levels = np.minimum(levels, (N_LEVELS - 1).astype(np.int8))
    tf = np.array([[np.nan if v is None else v for v in f["tf"]] for f in feats], np.float64).reshape(
        n, len(TF_COMPARISONS))
    dist = np.array([np.nan if f.get("distance_m") is None else f["distance_m"] for f in feats], np.float64)
    sizes = np.array([f.get("partition_size", 2.0) for f in feats], np.float64)
    idx = np.arange(n, dtype=np.int64)
    return Compared(idx, idx, levels, tf, dist), y, sizes


def retrain(conn, page: PagePool, user: str) -> int:
    """Fit on every stored label (`labels.active.learn`: EM, EM seeded by the labels or the logistic
    regression, whichever is best by cross-validation on the labels), save it in match_model and
    return its id. Caller's transaction."""
    from data_platform.cluster import model_store

    compared, y, sizes = labelled_vectors(stored_labels(conn))
    model = learn(base_model(conn, page.pool), compared, y, sizes, threshold=THRESHOLD)
    return model_store.save(conn, model, name=f"étiquettes ({len(y)})",
                            trained_on=f"{TRAINED_ON}: {len(y)} labels", created_by=user)


def needs_retraining(conn) -> bool:
    """A multiple of RETRAIN_EVERY oui/non labels and no model saved from that many labels yet."""
    c = counts(conn)
    n = c["oui"] + c["non"]
    if n == 0 or n % RETRAIN_EVERY:
        return False
    with conn.cursor() as cur:
        cur.execute("select 1 from match_model where trained_on = %s limit 1", (f"{TRAINED_ON}: {n} labels",))
        return cur.fetchone() is None


# ---------------------------------------------------------------- what the page shows

def pair_context(page: PagePool, k: int, probability: float, model) -> dict:
    """A suggestion-shaped `contexte` of the pair (membres with raw and normalized values, one paire with
    its per-comparison agreement and log2 weights) for webapp.suggestions.presentation."""
    pool = page.pool
    frame = pool.frame
    members = []
    for row in (pool.a[k], pool.b[k]):
        r = frame.iloc[int(row)]
        raw = {f: _value(r.get(f)) for f in RAW_FIELDS if f in frame.columns}
        norm = {f: _value(r.get(f)) for f in NORM_FIELDS if f in frame.columns}
        members.append({"identifiant_unique": str(r["identifiant_unique"]), "source": raw.pop("source", ""),
                        "est_parent": False, "raw": raw, "norm": norm})
    one = pool.subset(np.array([k]))
    _, weight, per = model.predict(one, pool.partition_size[[k]])
    levels = one.levels[0]
    fields = {name: round(1.0 - float(lev) / (N_LEVELS[i] - 1), 4) for i, (name, lev) in enumerate(zip(NAMES, levels))
              if lev >= 0}
    weights = {name: round(float(per[0, i]), 2) for i, name in enumerate(NAMES) if levels[i] >= 0}
    dist = float(one.distance_m[0])
    ids = sorted(m["identifiant_unique"] for m in members)
    return {"membres": members,
            "paires": [{"id_a": ids[0], "id_b": ids[1], "score": round(float(probability), 4), "fields": fields,
                        "matched": [n for n, w in weights.items() if w > 0], "weights": weights,
                        "match_weight": round(float(weight[0]), 2),
                        "distance_m": None if np.isnan(dist) else round(dist, 1)}]}


def _value(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return v
