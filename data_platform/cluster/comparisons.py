"""Comparison levels of candidate pairs: each pair (i, j) of a partition becomes one small integer per
comparison (0 = strongest agreement, the last level = disagreement), -1 = no information (either side
empty: never a mismatch). Vectorized: rapidfuzz `process.cpdist` over the pairs, numpy elsewhere; the
only Python loops run once per distinct value of a partition (phonetic keys, city stripping), never
per pair.

The levels carry no weights: a Fellegi–Sunter model (data_platform.cluster.model) learns how much
each level is worth from the data. How each comparison behaves on data we did not write:
- name: best of nom/nom_commercial either way round, and of the names with the city's words stripped
  ("norauto lorient" in Lorient vs "norauto"): exact, ≥ 0.92, same French phonetic key (phonetic-fr,
  per word: "farmacie" = "pharmacie"), ≥ 0.80, ≥ 0.65, else. The exact level carries the value's
  frequency in the partition (term-frequency adjustment: a chain's name is weaker evidence).
- place: address (house number + street) and coordinates in ONE comparison, strongest evidence first:
  same address (term-frequency adjusted: an address shared by a mall's shops is weak evidence),
  < 30 m, the address with one typo, < 100 m, same street with a number missing, < 300 m, same street with
  another number, < 1 km, < 5 km, other. One comparison, not four, because these facts are not
  independent: coordinates are usually geocoded from the address, and businesses sharing a site
  agree on all of them at once (measured: as separate comparisons their Bayes factors added up to
  ~20 bits and put a déchèterie with the ressourcerie at its address). House number = the leading
  token with a digit ("12", "12o", "2n5"); one typo = optimal string alignment distance 1 (one edit,
  a swapped, doubled or dropped digit, a glued letter), numbers of one character excluded ("1" vs
  "2" is another number); street = the rest, compared fuzzily (≥ 0.9).
- postal code: exact, same département, other. City: exact, ≥ 0.85, else.
- SIRET: same SIRET; same SIREN with one side's establishment unknown (a SIREN, or a SIRET against a
  bare SIREN); same SIREN but two different SIRETs (two establishments of one company, by INSEE's
  definition: a chain's shops, a commune's sites); different. The two SIREN levels are apart because
  they mean opposite things: a copy without its establishment number is the same company, possibly
  the same place; two establishment numbers say two places unless a feed gave the head office's.
  Phone: same, different.
- email/url domain (only when the frame has `email`/`url` columns): same, different.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import OSA

from data_platform.cluster.scoring import Arrays
from data_platform.cluster.scoring import text_similarity as similarity
from data_platform.geo import haversine_m

# (name, level labels strongest first; the last one is "disagrees")
COMPARISONS: list[tuple[str, list[str]]] = [
    ("nom", ["exact", "fuzzy_0.92", "phonetic", "fuzzy_0.80", "fuzzy_0.65", "other"]),
    ("place", ["same_address", "lt_30m", "address_typo", "lt_100m", "street_no_number", "lt_300m",
               "street_other_number", "lt_1km", "lt_5km", "other"]),
    ("code_postal", ["exact", "same_departement", "other"]),
    ("ville", ["exact", "fuzzy_0.85", "other"]),
    ("siret", ["siret", "siren", "other_establishment", "other"]),
    ("telephone", ["exact", "other"]),
    ("domain", ["exact", "other"]),
]
NAMES = [name for name, _ in COMPARISONS]
N_LEVELS = np.array([len(levels) for _, levels in COMPARISONS], dtype=np.int64)
COL = {name: k for k, name in enumerate(NAMES)}
# comparisons whose exact level (level 0) is term-frequency adjusted
TF_COMPARISONS = ["nom", "place"]
_TRAILING_PLACE = re.compile(r"(?:\s+(?:\d{1,2}(?:e|er|eme)?|arrondissement|cedex))+$")
_POSTCODE_TAIL = re.compile(r"\s*\b\d{5}\b.*$")
_HOUSE_NUMBER = re.compile(r"^\s*(\d[0-9a-z]*)\b\s*(?:(?:bis|ter|quater|[a-d])\b\s*)?")
_DOMAIN = re.compile(r"^(?:[a-z]+://)?(?:[^@/]*@)?(?:www\.)?([^/:?#\s]+)")


@dataclass
class Compared:
    """Comparison levels of pairs (i, j): `levels` P × len(COMPARISONS) int8 (-1 = no information);
    `tf` P × len(TF_COMPARISONS): frequency in the partition of the agreed value where the level is
    exact, NaN elsewhere; `distance_m` NaN where a side has no coordinates."""
    i: np.ndarray
    j: np.ndarray
    levels: np.ndarray
    tf: np.ndarray
    distance_m: np.ndarray

    def __len__(self) -> int:
        return len(self.i)

    @classmethod
    def empty(cls) -> Compared:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, len(COMPARISONS)), np.int8),
                   np.empty((0, len(TF_COMPARISONS)), np.float64), np.empty(0, np.float64))

    @classmethod
    def concat(cls, parts: list[Compared]) -> Compared:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("i", "j", "levels", "tf", "distance_m")))


# ---------------------------------------------------------------- per-record derived values (cached on Arrays)

@lru_cache(maxsize=200_000)
def _phonetic_word(word: str) -> str:
    from phonetic_fr import phonetic

    return phonetic(word) or word


def phonetic_key(text: str) -> str:
    """French phonetic key of a normalized name, word by word ('' for '')."""
    return " ".join(_phonetic_word(w) for w in text.split())


def _map_unique(values: np.ndarray, fn) -> np.ndarray:
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    return np.array([fn(u) for u in uniq.tolist()], dtype=object)[inv.reshape(-1)] if len(uniq) else values


def strip_city(names: np.ndarray, villes: np.ndarray) -> np.ndarray:
    """The name without the words of its own city and a trailing arrondissement ('norauto lorient' in
    Lorient → 'norauto', 'leroy merlin paris 2e arrondissement' → 'leroy merlin'); unchanged when
    nothing would be left."""
    def one(pair: str) -> str:
        name, _, ville = pair.partition("\x1f")
        drop = set(ville.split()) - {"saint", "sainte", "sur", "sous"}
        kept = _TRAILING_PLACE.sub("", " ".join(w for w in name.split() if w not in drop)).strip()
        return kept or name
    both = names != ""
    out = names.copy()
    if both.any():
        joined = pd.Series(names[both], dtype=object) + "\x1f" + pd.Series(villes[both], dtype=object)
        out[both] = _map_unique(joined.to_numpy(dtype=object), one)
    return out


def split_address(adresse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(house number token, street) of normalized addresses: '12 bis rue x 69003 lyon' → ('12', 'rue x')
    (a postal code and what follows it are dropped from the street)."""
    # once per distinct address (a place's address repeats across its sources: ~7 rows per distinct
    # address in a generated selection), then spread back to the rows
    codes, distinct = pd.factorize(pd.Series(adresse, dtype=object).fillna("").astype(str))
    s = pd.Series(np.asarray(distinct, dtype=object), dtype=object).str.replace(_POSTCODE_TAIL, "", regex=True)
    number = s.str.extract(_HOUSE_NUMBER, expand=False).fillna("").to_numpy(dtype=object)
    street = s.str.replace(_HOUSE_NUMBER, "", regex=True).str.strip().to_numpy(dtype=object)
    return number.take(codes), street.take(codes)


def _address_key(house_number: np.ndarray, street: np.ndarray) -> np.ndarray:
    """'<number> <street>' where both are known, else ''."""
    key = np.char.add(np.char.add(house_number.astype(str), " "), street.astype(str)).astype(object)
    return np.where((house_number != "") & (street != ""), key, "").astype(object)


def _domain(values: np.ndarray) -> np.ndarray:
    s = pd.Series(values, dtype=object).fillna("").astype(str).str.strip().str.lower()
    return s.str.extract(_DOMAIN, expand=False).fillna("").to_numpy(dtype=object)


def _frequency(first: np.ndarray, second: np.ndarray | None = None) -> dict:
    """Frequency in the partition of each non-empty value (a row counts once per distinct value)."""
    values = [pd.Series(first, dtype=object)]
    if second is not None:
        values.append(pd.Series(np.where(second != first, second, ""), dtype=object))
    s = pd.concat(values, ignore_index=True)
    counts = s[s != ""].value_counts()
    return (counts / max(len(first), 1)).to_dict()


@dataclass
class Derived:
    names: list[np.ndarray]          # nom, nom_commercial, and both with the city stripped
    phonetic: list[np.ndarray]
    house_number: np.ndarray
    street: np.ndarray
    domain: np.ndarray
    name_tf: dict
    address_tf: dict
    ville: np.ndarray                # without a trailing arrondissement ('paris 11e arrondissement' → 'paris')


def derived(arr: Arrays) -> Derived:
    cached = getattr(arr, "_derived", None)
    if cached is not None:
        return cached
    names = [arr.nom, arr.nom_commercial]
    names += [strip_city(arr.nom, arr.ville), strip_city(arr.nom_commercial, arr.ville)]
    phon = [col if not (col != "").any() else _map_unique(col, phonetic_key) for col in names]
    house_number, street = split_address(arr.adresse)
    frame = arr.frame
    domains = [_domain(frame[c].to_numpy(dtype=object)) for c in ("email", "url") if c in frame.columns]
    domain = np.full(len(arr), "", dtype=object)
    for d in domains:  # email's domain first, the site's when there is no email
        domain = np.where(domain == "", d, domain)
    out = Derived(names=names, phonetic=phon, house_number=house_number, street=street, domain=domain,
                  name_tf=_frequency(arr.nom, arr.nom_commercial),
                  address_tf=_frequency(_address_key(house_number, street)),
                  ville=_map_unique(arr.ville, lambda v: _TRAILING_PLACE.sub("", v).strip() or v) if len(arr) else arr.ville)
    arr._derived = out
    return out


# ---------------------------------------------------------------- pair comparisons

def _bands(values: np.ndarray, known: np.ndarray, cuts: list[tuple[np.ndarray, int]], n_levels: int) -> np.ndarray:
    """Level per pair: the first (condition, level) that holds, else the last level; -1 where unknown."""
    out = np.full(len(values), n_levels - 1, dtype=np.int8)
    done = np.zeros(len(values), bool)
    for cond, level in cuts:
        hit = cond & ~done
        out[hit] = level
        done |= hit
    out[~known] = -1
    return out


def _equal_level(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = (a != "") & (b != "")
    return np.where(both, np.where(a == b, 0, 1), -1).astype(np.int8)


def house_number_level(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """0 exact, 1 one typo apart (optimal string alignment distance 1, longer side ≥ 2 characters),
    2 different, -1 missing."""
    both = (a != "") & (b != "")
    out = np.full(len(a), -1, dtype=np.int8)
    same = both & (a == b)
    out[both] = 2
    out[same] = 0
    rest = both & ~same
    if rest.any():
        qa, qb = a[rest].tolist(), b[rest].tolist()
        d = process.cpdist(qa, qb, scorer=OSA.distance, dtype=np.int32)
        longest = np.maximum(pd.Series(qa).str.len().to_numpy(), pd.Series(qb).str.len().to_numpy())
        out[np.flatnonzero(rest)[(d == 1) & (longest >= 2)]] = 1
    return out


def compare(arr: Arrays, i, j, workers: int = 1) -> Compared:
    """Comparison levels of pairs (i, j) of one partition."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    p = len(i)
    if p == 0:
        return Compared.empty()
    der = derived(arr)
    levels = np.full((p, len(COMPARISONS)), -1, dtype=np.int8)
    tf = np.full((p, len(TF_COMPARISONS)), np.nan, dtype=np.float64)

    # name: best of nom/nom_commercial either way round (exact, fuzzy, phonetic), and of the names with
    # the city's words stripped where that changed one side (an exact match there is fuzzy_0.92)
    present = [k for k in (0, 1) if (der.names[k] != "").any()]
    exact = np.zeros(p, bool)
    exact_value = np.full(p, "", dtype=object)
    phon = np.zeros(p, bool)
    sims = []
    for ka in present:
        for kb in present:
            a, b = der.names[ka][i], der.names[kb][j]
            eq = (a != "") & (a == b)
            exact_value = np.where(eq & ~exact, a, exact_value)
            exact |= eq
            sims.append(np.minimum(similarity(a, b, workers, glued=True), np.float32(0.99)))
            sa_, sb_ = der.names[ka + 2][i], der.names[kb + 2][j]
            changed = (sa_ != a) | (sb_ != b)
            if changed.any():
                sim = np.full(p, np.nan, dtype=np.float32)
                sim[changed] = np.minimum(similarity(sa_[changed], sb_[changed], workers), np.float32(0.99))
                sims.append(sim)
            pa, pb = der.phonetic[ka + 2][i], der.phonetic[kb + 2][j]
            phon |= (pa != "") & (pa == pb)
    stacked = np.vstack(sims) if sims else np.full((1, p), np.nan, dtype=np.float32)
    known = ~np.isnan(stacked).all(axis=0)
    sim = np.nanmax(np.where(np.isnan(stacked), -1.0, stacked), axis=0)
    levels[:, COL["nom"]] = _bands(sim, known | exact, [(exact, 0), (sim >= 0.92, 1), (phon, 2), (sim >= 0.80, 3),
                                                        (sim >= 0.65, 4)], 6)
    if exact.any():
        tf[exact, 0] = np.array([der.name_tf.get(v, 0.0) for v in exact_value[exact].tolist()])

    dist = haversine_m(arr.lat[i], arr.lon[i], arr.lat[j], arr.lon[j])
    hn = house_number_level(der.house_number[i], der.house_number[j])
    sa, sb = der.street[i], der.street[j]
    ssim = similarity(sa, sb, workers)
    ssim0 = np.nan_to_num(ssim, nan=0.0)
    street = ssim0 >= 0.9
    same_address = (hn == 0) & (sa == sb)
    typo = ((hn == 0) & (ssim0 >= 0.75)) | ((hn == 1) & street)
    levels[:, COL["place"]] = _bands(dist, ~np.isnan(dist) | ~np.isnan(ssim), [
        (same_address, 0), (dist < 30, 1), (typo, 2), (dist < 100, 3),
        (street & (hn == -1), 4), (dist < 300, 5), (street, 6), (dist < 1000, 7), (dist < 5000, 8)], 10)
    if same_address.any():
        key = _address_key(der.house_number[i][same_address], sa[same_address])
        tf[same_address, 1] = np.array([der.address_tf.get(v, 0.0) for v in key.tolist()])

    cpa, cpb = arr.code_postal[i], arr.code_postal[j]
    cpk = (cpa != "") & (cpb != "")
    levels[:, COL["code_postal"]] = _bands(np.zeros(p), cpk, [(cpa == cpb, 0), (arr.cp_prefix[i] == arr.cp_prefix[j], 1)], 3)
    vsim = similarity(der.ville[i], der.ville[j], workers)
    levels[:, COL["ville"]] = _bands(vsim, ~np.isnan(vsim), [(vsim >= 1.0, 0), (vsim >= 0.85, 1)], 3)

    sta, stb, sra, srb = arr.siret[i], arr.siret[j], arr.siren[i], arr.siren[j]
    sk = ((sta != "") & (stb != "")) | ((sra != "") & (srb != ""))
    both_siret = (sta != "") & (stb != "")
    same_siren = (sra != "") & (sra == srb)
    levels[:, COL["siret"]] = _bands(np.zeros(p), sk, [(both_siret & (sta == stb), 0), (same_siren & ~both_siret, 1),
                                                       (same_siren, 2)], 4)
    levels[:, COL["telephone"]] = _equal_level(arr.telephone[i], arr.telephone[j])
    levels[:, COL["domain"]] = _equal_level(der.domain[i], der.domain[j])

    return Compared(i, j, levels, tf, dist)


def random_pairs(n: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` uniformly random pairs i < j of n rows (with replacement; fewer when n is small)."""
    if n < 2 or count <= 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    total = n * (n - 1) // 2
    if total <= count:
        a, b = np.triu_indices(n, 1)
        return a.astype(np.int64), b.astype(np.int64)
    a = rng.integers(0, n, size=count)
    b = rng.integers(0, n - 1, size=count)
    b = np.where(b >= a, b + 1, b)
    return np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
