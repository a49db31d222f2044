"""Entities: the physical places behind the records, with their true name, address and identifiers.

Everything is drawn with numpy from one Generator, so a seed gives the same entities every time.
Hard negatives are built on purpose (SPEC §7): the same chain twice in one town, several businesses
at one mall address, generic names in many towns, a déchèterie and a ressourcerie sharing a site
and a phone number.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_platform.generate import vocabulary as voc
from data_platform.generate.geography import Geography
from data_platform.generate.siret import random_sirens, sirets_for
from data_platform.generate.text import map_unique, slugify
from data_platform.ingest.cleaning import invalid_values

# kind of place -> share of entities
KIND_SHARES = {
    "chain": 0.20, "independant": 0.24, "ess": 0.10, "decheterie": 0.03, "pharmacie": 0.10,
    "collectivite": 0.04, "pav": 0.14, "digital": 0.004, "inertes": 0.01, "ponctuel": 0.01,
    "generic": 0.05, "mall": 0.05, "shared_site": 0.016,
}
# records per entity (sizes 1, 2, 3...), before capping by the number of sources of the profile
SIZE_P = {
    "default": [0.47, 0.28, 0.14, 0.06, 0.03, 0.02],
    "pav": [0.85, 0.13, 0.02],
    "digital": [0.7, 0.3],
    "decheterie": [0.30, 0.30, 0.20, 0.11, 0.06, 0.03],
}
MALL_GROUP = 4          # businesses per mall address
CHAIN_SIBLING_P = 0.3   # share of chain stores placed in the town of the previous store of the same brand


def _pick(rng, options: list, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    out[:] = [options[i] for i in rng.integers(0, len(options), size=n)] if n else []
    return out


def _fill(patterns: np.ndarray, **values: np.ndarray) -> np.ndarray:
    """str.format of each pattern with the row's values (only the keys it names are used)."""
    keys = list(values)
    cols = [values[k] for k in keys]
    return np.array([p.format(**dict(zip(keys, row))) for p, *row in zip(patterns, *cols)], dtype=object)


def _sizes(rng, kind: np.ndarray) -> np.ndarray:
    sizes = np.empty(len(kind), dtype=np.int64)
    for key, p in SIZE_P.items():
        mask = (kind == key) if key != "default" else ~np.isin(kind, [k for k in SIZE_P if k != "default"])
        p = np.asarray(p) / np.sum(p)
        sizes[mask] = rng.choice(np.arange(1, len(p) + 1), size=int(mask.sum()), p=p)
    return sizes


def build_entities(n_actors: int, rng: np.random.Generator, geo: Geography, seed: int) -> pd.DataFrame:
    """Entities whose record counts (`size`) add up to exactly `n_actors`."""
    kinds = np.array(list(KIND_SHARES), dtype=object)
    shares = np.array(list(KIND_SHARES.values()))
    est = int(n_actors / 1.8) + 64
    kind = kinds[rng.choice(len(kinds), size=est, p=shares / shares.sum())]
    size = _sizes(rng, kind)
    # profile (which sources publish it) and acteur_type, per kind
    profile = np.empty(est, dtype=object)
    atype = np.empty(est, dtype=object)
    nom = np.empty(est, dtype=object)
    nom_commercial = np.full(est, "", dtype=object)
    legal = np.full(est, "", dtype=object)
    commune = rng.choice(len(geo.communes), size=est, p=geo.weights)
    ville = geo.communes["nom"].to_numpy(dtype=object)[commune]
    quartier = _pick(rng, voc.QUARTIERS, est)
    surname = _pick(rng, voc.SURNAMES, est)
    form = _pick(rng, voc.LEGAL_FORMS, est)
    siren = random_sirens(rng, est)
    commune_siren = random_sirens(rng, len(geo.communes))[commune]
    url = np.full(est, "", dtype=object)
    email_kind = rng.random(est)

    # chains: brand, with some stores in the town of the previous store of the same brand
    m = np.flatnonzero(kind == "chain")
    brand_idx = rng.integers(0, len(voc.CHAINS), size=len(m))
    brand_siren = random_sirens(rng, len(voc.CHAINS))
    for b in range(len(voc.CHAINS)):
        members = m[brand_idx == b]
        sibling = rng.random(len(members)) < CHAIN_SIBLING_P
        sibling[0:1] = False
        # each sibling takes the town of the store right before it (a chain of copies keeps one town)
        src = np.maximum.accumulate(np.where(sibling, -1, np.arange(len(members))))
        commune[members] = commune[members[src]]
    chains = voc.CHAINS
    nom[m] = [chains[b][0] for b in brand_idx]
    nom_commercial[m] = nom[m]
    atype[m] = [chains[b][1] for b in brand_idx]
    profile[m] = [chains[b][2] for b in brand_idx]
    legal[m] = [chains[b][3] for b in brand_idx]
    siren[m] = brand_siren[brand_idx]
    url[m] = ["https://www." + slugify(chains[b][0]).replace("-", "") + ".fr" for b in brand_idx]
    ville = geo.communes["nom"].to_numpy(dtype=object)[commune]

    # independent businesses (also used by malls)
    trade_idx = rng.integers(0, len(voc.TRADES), size=est)
    trade_nom = np.array([voc.TRADES[t][0] for t in trade_idx], dtype=object) + " " + surname
    trade_type = np.array([voc.TRADES[t][1] for t in trade_idx], dtype=object)
    for k in ("independant", "mall"):
        m = np.flatnonzero(kind == k)
        nom[m], atype[m], profile[m] = trade_nom[m], trade_type[m], "independant"
        legal[m] = form[m] + " " + np.array([s.upper() for s in surname[m]], dtype=object)

    def patterned(k, patterns, typ, prof):
        m = np.flatnonzero(kind == k)
        nom[m] = _fill(_pick(rng, patterns, len(m)), ville=ville[m], quartier=quartier[m], nom=surname[m],
                       nom2=surname[::-1][m])
        atype[m], profile[m] = typ, prof
        return m

    m = patterned("ess", voc.ESS_PATTERNS, "ess", "ess")
    legal[m] = "Association " + nom[m]
    m = patterned("decheterie", voc.DECHETERIE_PATTERNS, "decheterie", "decheterie")
    siren[m] = commune_siren[m]
    m = patterned("pharmacie", voc.PHARMACY_PATTERNS, "ets_sante", "pharmacie")
    legal[m] = "SELARL " + np.array([s.upper() for s in surname[m]], dtype=object)
    m = patterned("collectivite", voc.COLLECTIVITE_PATTERNS, "collectivite", "collectivite")
    siren[m] = commune_siren[m]
    m = patterned("inertes", voc.INERTES_PATTERNS, "plateforme_inertes", "inertes")
    m = patterned("ponctuel", voc.PONCTUEL_PATTERNS, "pav_ponctuel", "ponctuel")
    m = np.flatnonzero(kind == "pav")
    nom[m] = _pick(rng, voc.PAV_NAMES, len(m))
    atype[m] = np.where(rng.random(len(m)) < 0.7, "pav_prive", "pav_public")
    profile[m] = "pav"
    m = np.flatnonzero(kind == "generic")
    g = rng.integers(0, len(voc.GENERIC), size=len(m))
    nom[m] = [voc.GENERIC[i][0] for i in g]
    atype[m] = [voc.GENERIC[i][1] for i in g]
    profile[m] = [voc.GENERIC[i][2] for i in g]
    # digital actors: no address; names unique among them
    m = np.flatnonzero(kind == "digital")
    combos = len(voc.DIGITAL_A) * len(voc.DIGITAL_B)
    pick = rng.permutation(combos)[np.arange(len(m)) % combos]
    nom[m] = [voc.DIGITAL_A[i // len(voc.DIGITAL_B)] + voc.DIGITAL_B[i % len(voc.DIGITAL_B)]
              + ("" if j < combos else f" {j // combos + 1}") for j, i in enumerate(pick)]
    atype[m], profile[m] = "acteur_digital", "digital"
    url[m] = ["https://www." + slugify(x).replace("-", "") + ".fr" for x in nom[m]]
    # shared sites: pairs déchèterie + ressourcerie
    m = np.flatnonzero(kind == "shared_site")
    first, second = m[0::2], m[1::2]
    nom[first] = "Déchèterie de " + ville[first]
    atype[first], profile[first] = "decheterie", "decheterie"
    siren[first] = commune_siren[first]
    nom[second] = "Ressourcerie " + quartier[second]
    atype[second], profile[second] = "ess", "ess"

    # records per entity capped by the number of sources publishing that profile
    n_sources = np.array([len(voc.PROFILES[p]) for p in profile])
    size = np.minimum(size, n_sources)
    # keep exactly n_actors records
    total = np.cumsum(size)
    n_ent = int(np.searchsorted(total, n_actors) + 1)
    if total[-1] < n_actors:  # cannot happen with the estimate above, but fail loudly if it does
        raise RuntimeError("entity estimate too small")
    size = size[:n_ent].copy()
    size[-1] -= total[n_ent - 1] - n_actors

    # addresses and coordinates
    street = rng.integers(0, len(geo.streets), size=est)
    num = np.where(rng.random(est) < 0.85, rng.integers(1, 60, size=est), rng.integers(60, 400, size=est))
    complement = np.full(est, "", dtype=object)
    lat0 = geo.communes["latitude"].to_numpy()[commune]
    lon0 = geo.communes["longitude"].to_numpy()[commune]
    spread = 0.004 + 0.0008 * np.sqrt(geo.communes["population"].to_numpy(dtype=float)[commune])
    lat = lat0 + rng.normal(0, 1, est) * spread
    lon = lon0 + rng.normal(0, 1, est) * spread / np.cos(np.radians(lat0))
    phone_body = rng.integers(0, 10**8, size=est)
    prefix = geo.phone_prefix[commune]
    mobile = rng.random(est) < 0.15
    prefix = np.where(mobile & (np.char.str_len(prefix.astype(str)) == 2),
                      np.where(rng.random(est) < 0.5, "06", "07"), prefix)
    telephone = np.array([p + f"{b:08d}"[len(p) - 2:] for p, b in zip(prefix, phone_body)], dtype=object)
    # a number in a range no operator has (ingestion's cleaning throws it away, nationally or in the 33… form
    # that records of metropolitan numbers may use: text.format_phones) becomes a metropolitan mobile one
    metropolitan = np.array([not t.startswith(("059", "026")) for t in telephone], dtype=bool)
    unallocated = np.flatnonzero(invalid_values("telephone", telephone)
                                 | (metropolitan & invalid_values("telephone", ["33" + t[1:] for t in telephone])))
    telephone[unallocated] = ["061" + t[-7:] for t in telephone[unallocated]]

    # malls: groups of MALL_GROUP businesses at the leader's address
    m = np.flatnonzero(kind == "mall")
    leader = m[(np.arange(len(m)) // MALL_GROUP) * MALL_GROUP]
    for arr in (commune, street, num, lat0, lon0):
        arr[m] = arr[leader]
    lat[m] = lat[leader] + rng.normal(0, 0.00015, len(m))
    lon[m] = lon[leader] + rng.normal(0, 0.0002, len(m))
    complement[m] = _fill(_pick(rng, voc.MALLS, len(m))[np.searchsorted(m, leader)],
                          ville=geo.communes["nom"].to_numpy(dtype=object)[commune[m]])
    # shared sites: the ressourcerie is at the déchèterie, with its phone
    for arr in (commune, street, num, telephone):
        arr[second] = arr[first[: len(second)]]
    lat[second] = lat[first[: len(second)]] + rng.normal(0, 0.0002, len(second))
    lon[second] = lon[first[: len(second)]] + rng.normal(0, 0.0003, len(second))
    ville = geo.communes["nom"].to_numpy(dtype=object)[commune]

    # identifiers and contact points
    has_siret = ~np.isin(kind, ["pav", "ponctuel"]) & (rng.random(est) < 0.9)
    siret = np.where(has_siret, sirets_for(rng, siren), "")
    telephone = np.where(np.isin(kind, ["pav", "digital"]) | (rng.random(est) < 0.1), "", telephone)
    digital = kind == "digital"
    street[digital] = -1  # no address
    lat[digital] = np.nan
    lon[digital] = np.nan
    wants_url = (url == "") & np.isin(kind, ["ess", "independant"]) & (rng.random(est) < 0.3)
    wants_email = (email_kind < 0.4) & ~np.isin(kind, ["pav", "chain"])
    need = np.flatnonzero(wants_url | wants_email)
    town_slug = np.full(est, "", dtype=object)
    town_slug[need] = map_unique(nom[need], _email_slug) + map_unique(ville[need], _email_slug)
    email = np.where(wants_email, np.where(email_kind < 0.25, "contact@" + town_slug + ".fr",
                                           town_slug + "@orange.fr"), "")
    url = np.where(wants_url, "https://www." + town_slug + ".fr", url)

    c = geo.communes
    df = pd.DataFrame({
        "entity_id": [f"e{seed}_{i:07d}" for i in range(n_ent)],
        "kind": kind[:n_ent], "profile": profile[:n_ent], "acteur_type": atype[:n_ent],
        "nom": nom[:n_ent], "nom_commercial": nom_commercial[:n_ent], "legal": legal[:n_ent],
        "commune": commune[:n_ent], "street": street[:n_ent], "num": num[:n_ent], "adresse_complement": complement[:n_ent],
        "code_postal": c["code_postal"].to_numpy(dtype=object)[commune[:n_ent]],
        "ville": ville[:n_ent], "arrondissement": c["arrondissement"].to_numpy()[commune[:n_ent]],
        "departement": c["departement"].to_numpy(dtype=object)[commune[:n_ent]],
        "latitude": lat[:n_ent], "longitude": lon[:n_ent], "siret": siret[:n_ent],
        "telephone": telephone[:n_ent], "email": email[:n_ent], "url": url[:n_ent], "size": size,
    })
    df.loc[df["kind"] == "digital", ["code_postal", "ville", "departement"]] = ""
    df.loc[df["kind"] == "digital", "arrondissement"] = 0
    streets = np.append(geo.streets, "")  # index -1: no address
    df.insert(df.columns.get_loc("street"), "adresse",
              np.where(df["street"] >= 0, df["num"].astype(str).to_numpy(dtype=object) + " ", "")
              + streets[df["street"].to_numpy()])
    return df


def _email_slug(name: str) -> str:
    return slugify(name).replace("-", "")[:30]
