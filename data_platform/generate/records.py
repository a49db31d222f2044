"""Records: how each source publishes the entities it knows, with that source's habits.

Each entity of size k is published by k different sources drawn (weighted, without replacement) from
the sources of its profile. Each source then deforms the true values in its own way (HABITS).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_platform.acteur_csv import ACTEUR_COLUMNS, derive_identifiant_unique
from data_platform.generate import text
from data_platform.generate import vocabulary as voc
from data_platform.generate.geography import load_geography

# probability that a record of the source shows each habit
_DEFAULT = {"upper": 0.2, "ascii": 0.2, "abbrev": 0.3, "zero_lost": 0.05, "cedex": 0.02, "siret": 0.5,
            "siren": 0.2, "phone": 0.6, "no_coords": 0.06, "email": 0.3, "url": 0.3, "typo": 0.03, "legal":
            0.05, "brand_city": 0.4, "ban": 0.0, "lower": 0.0, "decimals": 6, "phone_formats": (3, 3, 1, 1, 1,
            1)}
HABITS = {
    "sinoe": {"upper": 1.0, "ascii": 1.0, "abbrev": 0.4, "zero_lost": 0.0, "cedex": 0.0, "siret": 0.0,
              "siren": 0.0, "phone": 0.6, "no_coords": 0.08, "email": 0.1, "url": 0.0, "typo": 0.02, "legal":
              0.0, "brand_city": 0.0, "decimals": 4, "phone_formats": (0, 5, 0, 0, 3, 0)},
    "refashion": {"upper": 0.1, "zero_lost": 0.25, "brand_city": 0.5, "phone": 0.5, "url": 0.4},
    "ecosystem": {"upper": 0.3, "ascii": 0.1, "cedex": 0.04, "siret": 0.7, "siren": 0.3, "phone": 0.7,
                  "email": 0.5, "legal": 0.2, "brand_city": 0.6, "ban": 0.15, "phone_formats": (2, 1, 4, 0, 0,
                  1)},
    "ecomaison": {"abbrev": 0.5, "zero_lost": 0.3, "siret": 0.6, "legal": 0.1, "brand_city": 0.3, "ban": 0.1},
    "corepile": {"upper": 0.6, "ascii": 0.5, "abbrev": 0.5, "zero_lost": 0.1, "siret": 0.4, "phone": 0.4,
                 "no_coords": 0.1, "email": 0.1, "url": 0.1, "legal": 0.1, "brand_city": 0.8, "phone_formats":
                 (1, 1, 0, 5, 0, 0)},
    "batribox": {"upper": 0.6, "ascii": 0.4, "abbrev": 0.5, "siret": 0.4, "phone": 0.5, "brand_city": 0.8,
                 "phone_formats": (1, 0, 5, 0, 0, 2)},
    "aliapur": {"upper": 0.8, "ascii": 0.6, "abbrev": 0.5, "zero_lost": 0.15, "cedex": 0.05, "siret": 0.7,
                "legal": 0.3, "brand_city": 0.5, "phone_formats": (0, 4, 0, 2, 0, 0)},
    "cma": {"upper": 0.3, "ascii": 0.1, "abbrev": 0.2, "zero_lost": 0.0, "cedex": 0.0, "siret": 0.95, "siren":
            0.5, "phone": 0.8, "no_coords": 0.4, "email": 0.5, "url": 0.2, "legal": 0.9, "brand_city": 0.0},
    "communaute": {"upper": 0.05, "lower": 0.3, "abbrev": 0.3, "siret": 0.1, "siren": 0.05, "phone": 0.4,
                   "no_coords": 0.3, "typo": 0.12, "legal": 0.0, "brand_city": 0.2, "phone_formats": (2, 2, 1,
                   0, 1, 1)},
    "cyclevia": {"upper": 0.7, "ascii": 0.5, "cedex": 0.05, "siret": 0.8, "legal": 0.3, "brand_city": 0.6},
    "ecodds": {"upper": 0.4, "abbrev": 0.4, "zero_lost": 0.1, "siret": 0.5, "brand_city": 0.4},
    "cyclamed": {"upper": 0.8, "ascii": 0.8, "siret": 0.9, "phone": 0.9, "legal": 0.3, "email": 0.2, "url":
                 0.05},
}
SOURCE_CODES = list(HABITS)
# external id formats (n = per-source counter, fixed width so that identifiant_unique stays unique)
ID_FORMATS = {
    "sinoe": "{seed}{n:07d}", "refashion": "RF-{seed}-{n:07d}", "ecosystem": "ESY{seed}_{n:07d}",
    "ecomaison": "EM/{seed}/{n:07d}", "corepile": "CP {seed} {n:07d}", "batribox": "BBX-{seed}-{n:07d}",
    "aliapur": "ALIA{seed}A{n:07d}", "cma": "CMA {seed}/{n:07d}", "communaute": "comm-{seed}-{n:07d}",
    "cyclevia": "CYV{seed}-{n:07d}", "ecodds": "DDS/{seed}/{n:07d}", "cyclamed": "CYC {seed}-{n:07d}",
}
ARRONDISSEMENT_STYLES = ["{v}", "{v} {a}{e}", "{V} {a}", "{v} {a}{e} Arrondissement", "{v} {a:02d}"]
STATUT_P = {"ACTIF": 0.955, "INACTIF": 0.03, "SUPPRIME": 0.015}
METRES_PER_DEGREE = 111_320.0


def geo_streets() -> np.ndarray:
    return load_geography().streets


def _habit(name: str) -> np.ndarray:
    return np.array([HABITS[s].get(name, _DEFAULT[name]) for s in SOURCE_CODES])


def _assign_sources(rng, ent: pd.DataFrame, rec_ent: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Source code index of each record: k distinct sources per entity, weighted by the profile."""
    code_of = {s: i for i, s in enumerate(SOURCE_CODES)}
    profiles = ent["profile"].to_numpy(dtype=object)
    out = np.full(len(rec_ent), -1, dtype=np.int64)
    ent_pos = np.zeros(len(ent), dtype=np.int64)
    rec_profile = profiles[rec_ent]
    for prof, weights in voc.PROFILES.items():
        e_idx = np.flatnonzero(profiles == prof)
        if len(e_idx) == 0:
            continue
        codes = np.array([code_of[s] for s in weights])
        w = np.array(list(weights.values()), dtype=float)
        keys = np.log(rng.random((len(e_idx), len(codes)))) / w  # Efraimidis-Spirakis weighted sampling
        order = np.argsort(-keys, axis=1, kind="stable")
        ent_pos[e_idx] = np.arange(len(e_idx))
        r = np.flatnonzero(rec_profile == prof)
        out[r] = codes[order[ent_pos[rec_ent[r]], rank[r]]]
    return out


def _external_ids(rng, src: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-source counters in a random order: (identifiant_externe, identifiant_unique, row order)."""
    shuffle = rng.permutation(len(src))
    order = np.lexsort((shuffle, src))
    counter = np.empty(len(src), dtype=np.int64)
    starts = np.searchsorted(src[order], np.arange(len(SOURCE_CODES)))
    counter[order] = np.arange(len(src)) - starts[src[order]] + 1
    # every format is "<prefix>{n:07d}": ids are built as prefix + counter
    prefixes = pd.Series([ID_FORMATS[s].split("{n")[0].format(seed=seed) for s in SOURCE_CODES])
    ext_prefix = prefixes.to_numpy(dtype=object)
    uid_prefix = derive_identifiant_unique(pd.Series(SOURCE_CODES), prefixes).to_numpy(dtype=object)
    digits = np.char.zfill(counter.astype(str), 7).astype(object)
    return ext_prefix[src] + digits, uid_prefix[src] + digits, order


def build_records(ent: pd.DataFrame, rng: np.random.Generator, seed: int) -> pd.DataFrame:
    """One row per record, acteur columns + entity_id and kind, sorted by source then counter."""
    size = ent["size"].to_numpy()
    rec_ent = np.repeat(np.arange(len(ent)), size)
    n = len(rec_ent)
    rank = np.arange(n) - np.repeat(np.cumsum(size) - size, size)
    src = _assign_sources(rng, ent, rec_ent, rank)
    draw = {h: rng.random(n) < _habit(h)[src] for h in _DEFAULT if h not in ("decimals", "phone_formats")}

    def col(name):
        return ent[name].to_numpy(dtype=object)[rec_ent]

    kind = col("kind")
    ville_true, cp_true = col("ville"), col("code_postal")
    arr = ent["arrondissement"].to_numpy()[rec_ent]

    # ville: arrondissement styles for Paris/Lyon/Marseille, abbreviations (Saint- -> St-), CEDEX below
    ville = ville_true.copy()
    a = np.flatnonzero(arr > 0)
    styles = np.array(ARRONDISSEMENT_STYLES, dtype=object)[rng.integers(0, len(ARRONDISSEMENT_STYLES), len(a))]
    ville[a] = [s.format(v=v, V=v.upper(), a=x, e="er" if x == 1 else "e")
                for s, v, x in zip(styles, ville[a], arr[a])]

    # nom: brand + town for chains, legal name, typos
    nom = col("nom")
    brand_city = np.flatnonzero(draw["brand_city"] & (kind == "chain"))
    nom[brand_city] = nom[brand_city] + " " + ville[brand_city]
    legal = col("legal")
    use_legal = np.flatnonzero(draw["legal"] & (legal != ""))
    nom_commercial = np.where(kind == "chain", np.where(rng.random(n) < 0.6, col("nom_commercial"), ""), "")
    nom_commercial[use_legal] = nom[use_legal]
    nom[use_legal] = legal[use_legal]
    t = np.flatnonzero(draw["typo"])
    nom[t] = text.typo(nom[t], rng.random(len(t)), rng.random(len(t)) < 0.5)

    # case and accents: one style per record, the same on every text field
    style = np.where(draw["upper"], np.where(draw["ascii"], text.UPPER_ASCII, text.UPPER),
                     np.where(draw["ascii"], text.ASCII, np.where(draw["lower"], text.LOWER, text.AS_IS)))
    ab = np.flatnonzero(draw["abbrev"])
    abbrev = np.zeros(n, dtype=np.int64)  # 0 = full words, 1..3 = one of the abbreviation sets
    abbrev[ab] = rng.integers(1, 4, len(ab))
    ville = text.abbreviate_unique(ville, abbrev)
    ville_styled = text.restyle(ville, style)

    # adresse: number + street from a table of (street, abbreviations, style) variants; "BAN" format
    # with postal code and town; complement merged with " - "; a few addresses lost
    street = ent["street"].to_numpy()[rec_ent]
    num = ent["num"].to_numpy()[rec_ent]
    variants = text.street_variants(geo_streets())  # (streets + 1, 4, styles); last street = no address
    # house numbers: a few sources drop them or add "bis"
    num_text = num.astype(str).astype(object)
    noise = rng.random(n)
    num_text = np.where(noise < 0.03, "", np.where(noise < 0.045, num_text + " bis", num_text))
    adresse = np.where((street >= 0) & (num_text != ""), num_text + " ", "") + variants[street, abbrev, style]
    complement = text.restyle(col("adresse_complement"), style)
    ban = np.flatnonzero(draw["ban"] & (street >= 0))
    adresse[ban] = adresse[ban] + " " + cp_true[ban] + " " + text.restyle(ville_true[ban], style[ban])
    merge = np.flatnonzero((complement != "") & (rng.random(n) < 0.3))
    adresse[merge] = adresse[merge] + " - " + complement[merge]
    complement[merge] = ""
    adresse[rng.random(n) < 0.02] = ""
    nom = text.restyle(nom, style)
    nom_commercial = text.restyle(nom_commercial, style)

    # code postal: leading zero lost by spreadsheets, CEDEX on the code or the town
    cp = cp_true.copy()
    z = np.flatnonzero(draw["zero_lost"] & (ent["code_postal"].str.startswith("0").to_numpy()[rec_ent]))
    cp[z] = text.map_unique(cp[z], lambda c: c[1:])
    cx = np.flatnonzero(draw["cedex"] & (cp != "") & ~np.isin(kind, ["pav", "ponctuel"]))
    on_code = rng.random(len(cx)) < 0.5
    cp[cx[on_code]] = cp[cx[on_code]] + " CEDEX"
    ville = ville_styled
    ville[cx[~on_code]] = ville[cx[~on_code]] + np.where(style[cx[~on_code]] <= text.UPPER_ASCII, " CEDEX", " Cedex")

    # coordinates: a few metres to ~100 m from the true place, some missing, rounded per source
    lat0 = ent["latitude"].to_numpy()[rec_ent]
    lon0 = ent["longitude"].to_numpy()[rec_ent]
    dist = np.exp(rng.uniform(np.log(3.0), np.log(100.0), n))
    angle = rng.uniform(0, 2 * np.pi, n)
    lat = lat0 + dist * np.cos(angle) / METRES_PER_DEGREE
    lon = lon0 + dist * np.sin(angle) / (METRES_PER_DEGREE * np.cos(np.radians(lat0)))
    decimals = np.array([HABITS[s].get("decimals", 6) for s in SOURCE_CODES])[src]
    lat = np.where(decimals == 4, np.round(lat, 4), np.round(lat, 6))
    lon = np.where(decimals == 4, np.round(lon, 4), np.round(lon, 6))
    lat[draw["no_coords"]] = np.nan
    lon[draw["no_coords"]] = np.nan

    # identifiers and contacts
    siret_true = col("siret")
    siret = np.where(draw["siret"], siret_true, "")
    siren = np.where(draw["siren"], ent["siret"].str[:9].to_numpy(dtype=object)[rec_ent], "")
    fmt_p = np.array([HABITS[s].get("phone_formats", _DEFAULT["phone_formats"]) for s in SOURCE_CODES], float)
    fmt_p /= fmt_p.sum(axis=1, keepdims=True)
    fmt = (rng.random(n)[:, None] > np.cumsum(fmt_p, axis=1)[src]).sum(axis=1)
    telephone = text.format_phones(np.where(draw["phone"], col("telephone"), ""), fmt)
    email = np.where(draw["email"], col("email"), "")
    url = np.where(draw["url"], col("url"), "")
    statut = np.array(list(STATUT_P), dtype=object)[
        rng.choice(len(STATUT_P), size=n, p=np.array(list(STATUT_P.values())))]

    ext, uid, order = _external_ids(rng, src, seed)
    source = np.array(SOURCE_CODES, dtype=object)[src]
    df = pd.DataFrame({
        "identifiant_unique": uid, "identifiant_externe": ext, "source": source, "acteur_type": col("acteur_type"), "statut": statut,
        "nom": nom, "nom_commercial": nom_commercial, "siren": siren, "siret": siret, "adresse": adresse,
        "adresse_complement": complement, "code_postal": cp, "ville": ville, "latitude": lat, "longitude": lon,
        "telephone": telephone, "email": email, "url": url, "entity_id": col("entity_id"), "kind": kind,
    }).iloc[order].reset_index(drop=True)
    return df[ACTEUR_COLUMNS + ["entity_id", "kind"]]
