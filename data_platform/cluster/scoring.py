"""Per-field similarity of candidate pairs, vectorized (rapidfuzz `process.cpdist`, numpy), and one
combined match score in [0, 1]: the hand-set "rules" scorer (params `model: rules`). The learned
scorers (comparison levels + Fellegi–Sunter or logistic regression) are in
data_platform.cluster.comparisons and data_platform.cluster.model; `Scored` and `details_json` serve both.

Rules (SPEC §3.1 step 3, §5, §7):
- an empty field is "no information" for the pair, never a match ('' never equals '');
- the score is the weighted mean of the fields that carry information for that pair (weights of the
  run's `fuzzy_fields`, re-normalised per pair);
- a shared phone, address, SIRET establishment or site raises the score but cannot decide alone:
  the score is capped by the name similarity (`NAME_MARGIN` above it; `NO_NAME_CAP` without names);
- a name alone cannot decide either (chains, generic names in a dense city): without an address,
  coordinates, SIRET or phone on both sides the score is capped (`NAME_ONLY_CAP`), and two located
  actors FAR_M or more apart are capped too (`FAR_CAP`);
- one street, another house number: the address similarity is 0;
- `exact_match_fields`: non-empty and equal, else the pair does not match (score 0);
- `max_distance_m` (> 0): both located and farther apart → score 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from data_platform.geo import haversine_m  # the one formula (geo.py); importable from here too

FIELDS = ["nom", "adresse", "ville", "code_postal", "siret", "telephone", "distance"]
TEXT_COLUMNS = ["identifiant_unique", "source", "nom_norm", "nom_commercial_norm", "adresse_norm",
                "ville_norm", "code_postal_norm", "siret_norm", "siren_norm", "telephone_norm", "departement"]

# name similarity: a weak name caps the score (a shared phone or address cannot decide alone)
NAME_MARGIN = 0.25
NO_NAME_CAP = 0.5
NAME_ONLY_CAP = 0.7      # nothing but name, city, postal code to compare
FAR_CAP = 0.7            # both located, FAR_M or more apart
# string similarities of unrelated values hover around 0.3-0.5: rescale so that they count as 0
NOM_FLOOR = 0.35
ADRESSE_FLOOR = 0.45
VILLE_FLOOR = 0.5
# distance: 1 up to NEAR_M metres, linearly down to 0 at FAR_M
NEAR_M = 100.0
FAR_M = 1000.0
SIREN_ONLY_SCORE = 0.5   # same company, another establishment
CP_SAME_DEPT_SCORE = 0.3
MATCHED_AT = 0.8         # a field counts as "matched" in the details from this similarity


@dataclass
class Arrays:
    """Column arrays of one partition (rows sorted by identifiant_unique)."""
    ids: np.ndarray
    source: np.ndarray
    est_parent: np.ndarray
    nom: np.ndarray
    nom_commercial: np.ndarray
    adresse: np.ndarray
    ville: np.ndarray
    code_postal: np.ndarray
    siret: np.ndarray
    siren: np.ndarray
    telephone: np.ndarray
    cp_prefix: np.ndarray
    house_number: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Arrays:
        df = df.reset_index(drop=True)

        def text(col):
            if col not in df.columns:
                return np.full(len(df), "", dtype=object)
            # one pass in Python (what pandas' .str does too, without its per-call overhead, which
            # dominated for the many small partitions)
            return np.array([v.strip() if isinstance(v, str) else ("" if pd.isna(v) else str(v).strip())
                             for v in df[col].to_numpy(dtype=object)], dtype=object)

        def num(col):
            if col not in df.columns:
                return np.full(len(df), np.nan)
            return pd.to_numeric(df[col].replace("", np.nan), errors="coerce").to_numpy(dtype=np.float64, copy=True)

        siret = text("siret_norm")
        siren = text("siren_norm")
        siret9 = pd.Series(siret).str[:9]
        siren = np.where(siren == "", np.where(siret9.str.len() == 9, siret9, "").astype(object), siren)
        est_parent = (df["est_parent"].astype(str).str.lower().isin(["t", "true", "1"]).to_numpy()
                      if "est_parent" in df.columns else np.zeros(len(df), bool))
        code_postal = text("code_postal_norm")
        lat, lon = num("latitude"), num("longitude")
        bad = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 90) | (np.abs(lon) > 180) \
            | ((lat == 0) & (lon == 0))
        lat[bad] = np.nan
        lon[bad] = np.nan
        return cls(ids=text("identifiant_unique"), source=text("source"), est_parent=est_parent,
                   nom=text("nom_norm"), nom_commercial=text("nom_commercial_norm"), adresse=text("adresse_norm"),
                   ville=text("ville_norm"), code_postal=code_postal,
                   cp_prefix=pd.Series(code_postal).str[:2].to_numpy(dtype=object),
                   house_number=pd.Series(text("adresse_norm")).str.extract(r"^\s*(\d+)", expand=False)
                   .fillna("").to_numpy(dtype=object), siret=siret, siren=siren,
                   telephone=text("telephone_norm"), lat=lat, lon=lon, frame=df)


@dataclass
class Scored:
    """Scores of pairs (i, j): `fields` is P × len(FIELDS), NaN where the field carries no information."""
    i: np.ndarray
    j: np.ndarray
    score: np.ndarray
    fields: np.ndarray
    distance_m: np.ndarray
    # learned scorers: `fields` and `weights` (log2 Bayes factors) are P × len(weight_names), one
    # column per comparison (comparisons.NAMES); match_weight = prior + sum, in log2 odds
    weights: np.ndarray | None = None
    match_weight: np.ndarray | None = None
    weight_names: tuple[str, ...] = ()

    @classmethod
    def empty(cls) -> Scored:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32),
                   np.empty((0, len(FIELDS)), np.float32), np.empty(0, np.float64))


def _rescale(sim: np.ndarray, floor: float) -> np.ndarray:
    return np.clip((sim - floor) / (1.0 - floor), 0.0, 1.0)


def text_similarity(a: np.ndarray, b: np.ndarray, workers: int = 1, glued: bool = False) -> np.ndarray:
    """Mean of token_set_ratio and token_sort_ratio in [0, 1]; NaN where either side is empty.
    glued: also the plain ratio of the strings without spaces ('merceriecolin' = 'mercerie colin'),
    whichever is higher."""
    out = np.full(len(a), np.nan, dtype=np.float32)
    both = (a != "") & (b != "")
    same = both & (a == b)
    out[same] = 1.0  # identical strings (frequent between sources) need no fuzzy matching
    both &= ~same
    if both.any():
        qa, qb = a[both].tolist(), b[both].tolist()
        s1 = process.cpdist(qa, qb, scorer=fuzz.token_set_ratio, workers=workers, dtype=np.float32)
        s2 = process.cpdist(qa, qb, scorer=fuzz.token_sort_ratio, workers=workers, dtype=np.float32)
        sim = (s1 + s2) / 200.0
        if glued:
            ga = [x.replace(" ", "") for x in qa]
            gb = [x.replace(" ", "") for x in qb]
            sim = np.maximum(sim, process.cpdist(ga, gb, scorer=fuzz.ratio, workers=workers, dtype=np.float32) / 100.0)
        out[both] = sim
    return out


def _fmax(*arrays):
    stacked = np.vstack(arrays)
    all_nan = np.isnan(stacked).all(axis=0)
    out = np.where(all_nan, np.nan, np.nanmax(np.where(np.isnan(stacked), -1, stacked), axis=0))
    return out.astype(np.float32)


def _equal_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(len(a), np.nan, dtype=np.float32)
    both = (a != "") & (b != "")
    out[both] = (a[both] == b[both]).astype(np.float32)
    return out


def score_pairs(arr: Arrays, i: np.ndarray, j: np.ndarray, params: dict, workers: int = 1) -> Scored:
    """Per-field similarities and the combined score of pairs (i, j) of one partition."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    p = len(i)
    if p == 0:
        return Scored.empty()
    fields = np.full((p, len(FIELDS)), np.nan, dtype=np.float32)

    # nom, also against nom_commercial (either way round)
    na, nb, ca, cb = arr.nom[i], arr.nom[j], arr.nom_commercial[i], arr.nom_commercial[j]
    combos = [text_similarity(na, nb, workers)]
    if (arr.nom_commercial != "").any():
        combos += [text_similarity(ca, cb, workers), text_similarity(na, cb, workers),
                   text_similarity(ca, nb, workers)]
    nom = _fmax(*combos)
    fields[:, 0] = _rescale(nom, NOM_FLOOR)
    adresse = _rescale(text_similarity(arr.adresse[i], arr.adresse[j], workers), ADRESSE_FLOOR)
    # "36 rue gabriel peri" vs "1 rue gabriel peri": one street, two places
    hna, hnb = arr.house_number[i], arr.house_number[j]
    adresse[(hna != "") & (hnb != "") & (hna != hnb)] = 0.0
    fields[:, 1] = adresse
    fields[:, 2] = _rescale(text_similarity(arr.ville[i], arr.ville[j], workers), VILLE_FLOOR)

    cpa, cpb = arr.code_postal[i], arr.code_postal[j]
    cp = _equal_score(cpa, cpb)
    same_dept = (cpa != "") & (cpb != "") & (arr.cp_prefix[i] == arr.cp_prefix[j])
    cp[(cp == 0) & same_dept] = CP_SAME_DEPT_SCORE
    fields[:, 3] = cp

    siret = _equal_score(arr.siret[i], arr.siret[j])
    siren = _equal_score(arr.siren[i], arr.siren[j])
    sir = np.where(siret == 1, 1.0, np.where(siren == 1, SIREN_ONLY_SCORE,
                                               np.where(np.isnan(siret) & np.isnan(siren), np.nan, 0.0)))
    fields[:, 4] = sir
    fields[:, 5] = _equal_score(arr.telephone[i], arr.telephone[j])

    dist = haversine_m(arr.lat[i], arr.lon[i], arr.lat[j], arr.lon[j])  # NaN when either is unknown
    fields[:, 6] = np.clip(1.0 - (dist - NEAR_M) / (FAR_M - NEAR_M), 0.0, 1.0)

    score = apply_constraints(arr, i, j, combine(fields, params), dist, params)
    return Scored(i, j, score.astype(np.float32), fields, dist)


def apply_constraints(arr: Arrays, i: np.ndarray, j: np.ndarray, score: np.ndarray, dist: np.ndarray,
                      params: dict) -> np.ndarray:
    """The run's hard constraints, whatever the scorer: `exact_match_fields` non-empty and equal,
    `max_distance_m` (> 0) not exceeded by two located actors; else score 0."""
    score = np.array(score, dtype=np.float64)
    for field in params.get("exact_match_fields") or []:
        col = _exact_column(arr, field)
        a, b = col[i], col[j]
        score[~((a != "") & (a == b))] = 0.0
    max_d = float(params.get("max_distance_m") or 0)
    if max_d > 0:
        score[np.nan_to_num(dist, nan=0.0) > max_d] = 0.0
    return score


def combine(fields: np.ndarray, params: dict) -> np.ndarray:
    weights = params.get("fuzzy_fields") or {}
    w = np.array([float(weights.get(f, 0.0)) for f in FIELDS], dtype=np.float64)
    info = ~np.isnan(fields)
    wsum = (info * w).sum(axis=1)
    total = (np.nan_to_num(fields, nan=0.0) * w).sum(axis=1)
    score = np.divide(total, wsum, out=np.zeros(len(fields)), where=wsum > 0)
    nom = fields[:, 0]
    cap = np.where(np.isnan(nom), NO_NAME_CAP, np.minimum(1.0, nom + NAME_MARGIN))
    # a name (+ city) alone is weak evidence in a dense partition (chains, generic names, PAV):
    # without any address, coordinates, SIRET or phone to compare, the score is capped
    located = ~np.isnan(fields[:, [1, 4, 5, 6]]).all(axis=1)
    cap = np.where(located, cap, np.minimum(cap, NAME_ONLY_CAP))
    # both located and far apart: another place unless everything else says otherwise
    far = fields[:, 6] == 0.0
    cap = np.where(far, np.minimum(cap, FAR_CAP), cap)
    return np.clip(np.minimum(score, cap), 0.0, 1.0)


_EXACT_MAP = {"nom_norm": "nom", "adresse_norm": "adresse", "ville_norm": "ville",
              "code_postal_norm": "code_postal", "siret_norm": "siret", "siren_norm": "siren",
              "telephone_norm": "telephone"}


def _exact_column(arr: Arrays, field: str) -> np.ndarray:
    if field in _EXACT_MAP:
        return getattr(arr, _EXACT_MAP[field])
    if field in arr.frame.columns:
        return arr.frame[field].fillna("").astype(str).to_numpy(dtype=object)
    raise ValueError(f"unknown exact-match field {field!r}")


def details_json(scored: Scored, rows: np.ndarray) -> list[str]:
    """The `cluster_pair.details` JSON of the given scored rows (contract in docs/CONTRACTS.md)."""
    if scored.weights is not None:
        return _model_details_json(scored, rows)
    f = scored.fields[rows]
    d = scored.distance_m[rows]
    out = []
    for vals, dist in zip(f.tolist(), d.tolist()):
        parts = [f'"{name}": {round(v, 4)}' for name, v in zip(FIELDS, vals) if v == v]
        matched = [f'"{name}"' for name, v in zip(FIELDS, vals) if v == v and v >= MATCHED_AT]
        dist_txt = "null" if dist != dist else str(round(dist, 1))
        out.append('{"fields": {' + ", ".join(parts) + '}, "matched": [' + ", ".join(matched)
                   + '], "distance_m": ' + dist_txt + "}")
    return out


def _model_details_json(scored: Scored, rows: np.ndarray) -> list[str]:
    """Details of a learned scorer: `fields` = each comparison's agreement in [0, 1] (1 = strongest
    level), `matched` = comparisons that raise the probability, `weights` = their log2 Bayes factors
    (Splink's waterfall; 0 = no information), `match_weight` = prior + sum, in log2 odds."""
    import json
    import math

    names = scored.weight_names
    out = []
    w = scored.weights[rows]
    f = scored.fields[rows]
    mw = scored.match_weight[rows]
    d = scored.distance_m[rows]
    for wrow, frow, total, dist in zip(w.tolist(), f.tolist(), mw.tolist(), d.tolist()):
        known = [not math.isnan(v) for v in frow]
        out.append(json.dumps({
            "fields": {name: round(v, 4) for name, v, k in zip(names, frow, known) if k},
            "matched": [name for name, x in zip(names, wrow) if x > 0],
            "distance_m": None if math.isnan(dist) else round(dist, 1),
            "weights": {name: round(x, 3) for name, x, k in zip(names, wrow, known) if k},
            "match_weight": round(total, 3),
        }))
    return out
