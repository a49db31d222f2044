"""Look records up in the match index: candidates of a whole batch in ONE query, scored by the match model.

Candidates (`CANDIDATES_SQL`): for each record, a lateral union of the index's keys, each capped at PER_KEY rows —
same SIRET, same phone, same coarse phonetic name in the département, the nearest located actors within
BOX_M metres (GiST), the same house number + street in the département, and, for a record with neither address
nor coordinates, the most similar names of the département (pg_trgm `%` at TRGM_SIMILARITY, GIN; measured on
50,000 generated actors: for every record it costs 2.5× the other keys together for 0.3 % more true
candidates, all of them found for records with an address or coordinates by the other keys). The records reach
SQL as bound arrays (`unnest`), or, beyond BULK_RECORDS, COPYed into a temp table that the same statement joins.

Scoring: the clustering's comparison levels (`cluster.comparisons.compare`) on (record, candidate) pairs, the
candidates' derived inputs read from the index (not recomputed), term frequencies and partition size taken
from the candidate's département as if the record were one more actor of it (what the next clustering run
would see), then the model's probability (`predict`: a saved Fellegi–Sunter or logistic model, by default the
newest saved one, else the shipped default model) and the run's hard constraints (`apply_constraints`).
Answer per record: the top-k known actors or parents at or above the threshold, best first (ties by id), each
with its probability, match weight (log2 odds) and per-comparison weights (log2 Bayes factors) and levels.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from psycopg2 import sql

from data_platform.cluster.comparisons import COMPARISONS, N_LEVELS, NAMES, Derived, compare
from data_platform.cluster.params import RunParams
from data_platform.cluster.scoring import Arrays, Scored, apply_constraints
from data_platform.db.connection import copy_dataframe, fetch_df
from data_platform.match import index as ix

DEFAULT_THRESHOLD = RunParams().threshold   # the clustering run's default (params.py's spec table)
DEFAULT_TOP_K = 5
PER_KEY = 20             # candidates per blocking key and record
TRGM_K = 10              # most similar names per record
TRGM_SIMILARITY = 0.5    # pg_trgm similarity of the names searched (one typo in a name of 8+ letters passes)
BOX_M = 300.0            # nearest located actors within this many metres (the "lt_300m" place level)
BULK_RECORDS = 1000      # beyond: the records are COPYed into a temp table
M_PER_DEGREE = 111_195.0
QUERY_COLUMNS = ["qid", "identifiant_unique", "nom_norm", "nom_key", "departement", "siret_norm", "telephone_norm",
                 "address_key", "latitude", "longitude", "dlat", "dlon"]
_TYPES = ["int", "text", "text", "text", "text", "text", "text", "text", "float8", "float8", "float8", "float8"]

CANDIDATES_SQL = """
select q.qid, {cols}
from {records} as q
cross join lateral (
    (select x.identifiant_unique from {index} x
     where q.siret_norm <> '' and x.siret_norm <> '' and x.siret_norm = q.siret_norm limit {k})
    union
    (select x.identifiant_unique from {index} x
     where q.telephone_norm <> '' and x.telephone_norm <> '' and x.telephone_norm = q.telephone_norm limit {k})
    union
    (select x.identifiant_unique from {index} x
     where q.nom_key <> '' and x.nom_key <> '' and x.nom_key = q.nom_key and x.departement = q.departement limit {k})
    union
    (select x.identifiant_unique from {index} x
     where q.latitude is not null and x.latitude is not null and x.longitude is not null
       and point(x.longitude, x.latitude) <@ box(point(q.longitude - q.dlon, q.latitude - q.dlat),
                                                 point(q.longitude + q.dlon, q.latitude + q.dlat))
     order by point(x.longitude, x.latitude) <-> point(q.longitude, q.latitude) limit {k})
    union
    (select x.identifiant_unique from {index} x
     where q.address_key <> '' and x.address_key <> '' and x.address_key = q.address_key
       and x.departement = q.departement limit {k})
    union
    (select x.identifiant_unique from {index} x
     where q.address_key = '' and q.latitude is null and q.nom_norm <> '' and x.nom_norm <> ''
       and x.departement = q.departement and x.nom_norm operator(public.%%) q.nom_norm
     order by public.similarity(x.nom_norm, q.nom_norm) desc, x.identifiant_unique limit {trgm_k})
) as c
join {index} as i on i.identifiant_unique = c.identifiant_unique
where i.identifiant_unique <> q.identifiant_unique
order by q.qid, i.identifiant_unique
"""


class IndexMissing(LookupError):
    """The match index was never built."""


def load_model(conn, ref="latest"):
    """(id or None, model): a saved model (an id, or 'latest' = the newest; none saved: the shipped default
    Fellegi–Sunter model, id None). The rules scorer has no probability and is refused."""
    from data_platform.cluster import model_store
    from data_platform.cluster.model import default_model

    if ref is None or ref == "latest":
        found = model_store.latest_id(conn)
        return (None, default_model()) if found is None else model_store.load(conn, found)
    if ref == "default":
        return None, default_model()
    if ref == "rules":
        raise ValueError("model 'rules' gives no match probability: use a saved model's id, 'latest' or 'default'")
    return model_store.load(conn, ref)


@dataclass
class Pairs:
    """Scored (record, candidate) pairs: `candidates` = index rows (one per pair) with `qid`; `scored` = the
    pairs' probability, weights and levels (Scored with i = record row, j = candidate row + n records)."""
    records: pd.DataFrame
    candidates: pd.DataFrame
    scored: Scored
    levels: np.ndarray
    seconds: dict


def _query_frame(records: pd.DataFrame) -> pd.DataFrame:
    q = ix.index_frame(records.assign(est_parent=False))
    lat = q["latitude"].to_numpy(dtype=np.float64)
    dlat = BOX_M / M_PER_DEGREE
    q = q.assign(qid=np.arange(len(q)), dlat=np.where(np.isnan(lat), np.nan, dlat),
                 dlon=dlat / np.maximum(np.cos(np.radians(np.nan_to_num(lat))), 0.1))
    return q


def fetch_candidates(conn, q: pd.DataFrame) -> pd.DataFrame:
    """Index rows of every record's candidates, one row per (record, candidate), in one statement."""
    cols = sql.SQL(", ").join(sql.SQL("i.{}").format(sql.Identifier(c)) for c in ix.COLUMNS)
    params: list = []  # bound even when empty: the statement's %% is then one %
    if len(q) > BULK_RECORDS:
        with conn.cursor() as cur:
            cur.execute("create temp table if not exists _match_records (" + ", ".join(
                f"{c} {t}" for c, t in zip(QUERY_COLUMNS, _TYPES)) + ") on commit drop")
            cur.execute("truncate _match_records")
        copy_dataframe(conn, "_match_records", q[QUERY_COLUMNS], float_format="%.7f")
        with conn.cursor() as cur:
            cur.execute("analyze _match_records")
        records = sql.SQL("_match_records")
    else:
        records = sql.SQL("(select * from unnest(" + ", ".join(f"%s::{t}[]" for t in _TYPES) + ") as r("
                          + ", ".join(QUERY_COLUMNS) + "))")
        params = [[None if isinstance(v, float) and np.isnan(v) else v for v in q[c].tolist()] for c in QUERY_COLUMNS]
    query = sql.SQL(CANDIDATES_SQL).format(cols=cols, records=records, index=ix.INDEX, k=sql.Literal(PER_KEY),
                                           trgm_k=sql.Literal(TRGM_K))
    with conn.cursor() as cur:
        cur.execute("select set_config('pg_trgm.similarity_threshold', %s, true)", (str(TRGM_SIMILARITY),))
    df = fetch_df(conn, query, params)
    df["qid"] = df["qid"].astype(np.int64)
    for c in ("latitude", "longitude"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    for c in ix.FREQ_COLUMNS:
        df[c] = pd.to_numeric(df[c]).astype(np.int64)
    df["est_parent"] = df["est_parent"].isin(["t", "true", "True", "1"])
    return df


_LEADING_NUMBER = re.compile(r"^\s*(\d+)")


def _arrays(cols: dict, frame: pd.DataFrame) -> Arrays:
    """scoring.Arrays of index-shaped rows given as column arrays (already normalized, coordinates already
    checked by index_frame), without Arrays.from_frame's per-column cleaning; `frame` serves the fields an
    exact-match constraint may name."""
    cp = cols["code_postal_norm"]
    adresse = cols["adresse_norm"]
    return Arrays(ids=cols["identifiant_unique"], source=cols["source"], est_parent=cols["est_parent"].astype(bool),
                  nom=cols["nom_norm"], nom_commercial=cols["nom_commercial_norm"], adresse=adresse,
                  ville=cols["ville_norm"], code_postal=cp, siret=cols["siret_norm"], siren=cols["siren_norm"],
                  telephone=cols["telephone_norm"], cp_prefix=np.array([c[:2] for c in cp.tolist()], dtype=object),
                  house_number=np.array([(m.group(1) if (m := _LEADING_NUMBER.match(a)) else "")
                                         for a in adresse.tolist()], dtype=object),
                  lat=cols["latitude"].astype(np.float64), lon=cols["longitude"].astype(np.float64), frame=frame)


def _sizes(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("select departement, actors from {}").format(ix.SIZES_TABLE))
        return dict(cur.fetchall())


def score(conn, records: pd.DataFrame, model, params: RunParams | None = None) -> Pairs:
    """Candidates of the records (a frame of records.FIELDS) and their scores."""
    params = params or RunParams()
    if not ix.exists(conn):
        raise IndexMissing("the match index does not exist: run `data-platform match-index rebuild`")
    t0 = time.perf_counter()
    q = _query_frame(records)
    cand = fetch_candidates(conn, q)
    t1 = time.perf_counter()
    nq, p = len(q), len(cand)
    # the records then their candidates, as column arrays (no frame concatenation: a single record's look-up
    # is mostly per-call overhead)
    cols = {c: np.concatenate([q[c].to_numpy(dtype=object), cand[c].to_numpy(dtype=object)]) for c in ix.COLUMNS}
    arr = _arrays(cols, pd.DataFrame(index=pd.RangeIndex(nq + p)) if not params.exact_match_fields
                  else pd.concat([q[ix.COLUMNS], cand[ix.COLUMNS]], ignore_index=True))
    arr._derived = ix.derived_from(cols)
    i = cand["qid"].to_numpy(dtype=np.int64)
    j = nq + np.arange(p, dtype=np.int64)
    compared = compare(arr, i, j)
    sizes = _sizes(conn)
    n = cand["departement"].map(sizes).fillna(0).to_numpy(dtype=np.float64) + 1.0
    if p:
        _frequencies_from_index(compared, arr._derived, i, j, cand, n)
    prob, weight, bf = model.predict(compared, np.maximum(n, 2.0)) if p else (np.empty(0), np.empty(0),
                                                                              np.empty((0, len(NAMES))))
    prob = apply_constraints(arr, i, j, prob, compared.distance_m, params.scoring)
    lev = compared.levels.astype(np.float64)
    fields = np.where(lev >= 0, 1.0 - lev / (N_LEVELS - 1), np.nan).astype(np.float32)
    scored = Scored(i, j, prob.astype(np.float64), fields, compared.distance_m, weights=bf, match_weight=weight,
                    weight_names=tuple(NAMES))
    return Pairs(records=q, candidates=cand, scored=scored, levels=compared.levels,
                 seconds={"candidates": round(t1 - t0, 4), "scoring": round(time.perf_counter() - t1, 4)})


def _frequencies_from_index(compared, der: Derived, i, j, cand: pd.DataFrame, n: np.ndarray) -> None:
    """The exact levels' term frequencies from the index: the agreed name's (the candidate's name or commercial
    name, as compare picks it: nom/nom_commercial either way round, in that order) and the address's holders in
    the candidate's département, the record counted as one more holder of an n-actor partition."""
    names = der.names
    which = np.full(len(i), -1, dtype=np.int8)
    for ka in (0, 1):
        for kb in (0, 1):
            a, b = names[ka][i], names[kb][j]
            hit = (which < 0) & (a != "") & (a == b)
            which[hit] = kb
    held = np.where(which == 0, cand["nom_freq"].to_numpy(), cand["nom_commercial_freq"].to_numpy())
    tf = compared.tf
    tf[:, 0] = np.where(which >= 0, (held + 1.0) / n, np.nan)
    same_address = ~np.isnan(tf[:, 1])
    tf[:, 1] = np.where(same_address, (cand["adresse_freq"].to_numpy() + 1.0) / n, np.nan)


LEVEL_LABELS = [levels for _, levels in COMPARISONS]


def answers(pairs: Pairs, *, threshold: float = DEFAULT_THRESHOLD, top_k: int = DEFAULT_TOP_K,
            exclude_same_source: bool = False) -> list[dict]:
    """Per record (in input order): its top-k matches at or above the threshold, best first (ties by id)."""
    q, cand, s = pairs.records, pairs.candidates, pairs.scored
    keep = s.score >= threshold
    if exclude_same_source and len(cand):
        qs = q["source"].to_numpy(dtype=object)[s.i]
        keep &= ~((qs != "") & (qs == cand["source"].to_numpy(dtype=object)))
    rows = np.flatnonzero(keep)
    ids = cand["identifiant_unique"].to_numpy(dtype=object)
    rows = rows[np.lexsort((ids[rows], -s.score[rows], s.i[rows]))]
    if len(rows):  # the first top_k rows of each record
        first = np.flatnonzero(np.r_[True, s.i[rows][1:] != s.i[rows][:-1]])
        rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
        rows = rows[rank < top_k]
    out = [{"record": int(k), "identifiant_unique": v or None, "matches": []}
           for k, v in enumerate(q["identifiant_unique"].tolist())]
    for r, match in zip(rows.tolist(), explain(cand, s, pairs.levels, rows)):
        out[int(s.i[r])]["matches"].append(match)
    return out


def explain(cand: pd.DataFrame, s: Scored, levels: np.ndarray, rows: np.ndarray) -> list[dict]:
    """The matches of these pair rows: who, how likely, and why (each comparison's level and log2 Bayes
    factor, for the comparisons that carry information)."""
    shown = ["identifiant_unique", "est_parent", "source", "nom", "adresse", "code_postal", "ville"]
    values = {c: cand[c].to_numpy()[rows].tolist() for c in shown}
    lv, w = levels[rows].tolist(), np.round(s.weights[rows], 3).tolist()
    prob, mw = np.round(s.score[rows], 6).tolist(), np.round(s.match_weight[rows], 3).tolist()
    dist = s.distance_m[rows]
    dist = np.where(np.isnan(dist), -1.0, np.round(dist, 1)).tolist()
    out = []
    for n in range(len(rows)):
        match = {c: values[c][n] for c in shown}
        match["est_parent"] = bool(match["est_parent"])
        match.update(probability=prob[n], match_weight=mw[n],
                     weights={name: w[n][k] for k, name in enumerate(NAMES) if lv[n][k] >= 0},
                     levels={name: LEVEL_LABELS[k][lv[n][k]] for k, name in enumerate(NAMES) if lv[n][k] >= 0},
                     distance_m=None if dist[n] < 0 else dist[n])
        out.append(match)
    return out


def match_records(conn, records: pd.DataFrame, *, model_ref="latest", threshold: float = DEFAULT_THRESHOLD,
                  top_k: int = DEFAULT_TOP_K, model=None) -> dict:
    """The JSON answer of `data-platform match` and `POST /api/match` for already checked records."""
    if model is None:
        model_id, model = load_model(conn, model_ref)
    else:
        model_id = None
    pairs = score(conn, records, model)
    return {"model": {"id": model_id, "kind": model.kind,
                      "trained_on": (model.info or {}).get("trained_on", "") if model_id is None else None},
            "threshold": threshold, "top_k": top_k,
            "results": answers(pairs, threshold=threshold, top_k=top_k),
            "candidates": len(pairs.candidates), "seconds": pairs.seconds}
