"""A small crafted population for the learned matching tests: duplicates (1–3 records per place from
different sources, with name typos, house-number typos, a missing address or phone, coordinates a few
metres apart), chains (one name, one SIREN, several shops kilometres apart) and sites shared by two
businesses (one address, one phone). Deterministic for a seed; `entity` is the ground truth."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from data_platform.cluster.partition import SELECTION_COLUMNS

STREETS = ["rue victor hugo", "avenue jean jaures", "rue de la republique", "boulevard gambetta", "rue pasteur",
           "place de la mairie", "rue des ecoles", "chemin des vignes", "rue nationale", "avenue foch",
           "rue du moulin", "impasse des lilas", "route de lyon", "rue voltaire", "quai des chartrons"]
WORDS = ["fabrique", "ruche", "trocante", "colibri", "renaissance", "etoile", "avenir", "ressource", "atelier",
         "boutique", "cordonnerie", "garage", "couture", "librairie", "friperie", "brocante", "horlogerie"]
SURNAMES = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
            "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier"]
CHAINS = ["carrefour", "leclerc", "darty", "boulanger", "kiabi"]
SOURCES = ["sinoe", "refashion", "ecosystem", "ecomaison", "corepile", "cma"]
CITY = ("lyon", "69003", 45.76, 4.85)


def _typo(rng, word: str) -> str:
    if len(word) < 4:
        return word
    k = int(rng.integers(1, len(word) - 2))
    return word[:k] + word[k + 1] + word[k] + word[k + 2:]


def _number_typo(rng, number: str) -> str:
    kind = int(rng.integers(0, 3))
    if kind == 0 and len(number) >= 2:
        return number[1] + number[0] + number[2:]
    if kind == 1:
        return number + number[-1]
    return number + "o"


def _offset(lat, lon, metres, rng):
    angle = rng.uniform(0, 2 * math.pi)
    return (lat + metres * math.cos(angle) / 111_320,
            lon + metres * math.sin(angle) / (111_320 * math.cos(math.radians(lat))))


def crafted_population(seed: int = 0, places: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ville, cp, lat0, lon0 = CITY
    rows = []

    def place():
        return _offset(lat0, lon0, rng.uniform(0, 6000), rng)

    def record(entity, k, nom, adresse, lat, lon, siret="", telephone=""):
        rows.append({"identifiant_unique": f"{entity}_{k}", "entity": entity, "source": SOURCES[k % len(SOURCES)],
                     "nom_norm": nom, "adresse_norm": adresse, "ville_norm": ville, "code_postal_norm": cp,
                     "siret_norm": siret, "siren_norm": siret[:9], "telephone_norm": telephone,
                     "latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}", "departement": "69"})

    for e in range(places):  # independent places, 1-3 records each
        nom = f"{WORDS[e % len(WORDS)]} {SURNAMES[(e * 7) % len(SURNAMES)]} {e}"
        number = str(int(rng.integers(1, 200)))
        street = STREETS[int(rng.integers(0, len(STREETS)))]
        lat, lon = place()
        siret = f"{int(rng.integers(10**13, 10**14 - 1))}" if rng.random() < 0.6 else ""
        phone = f"04{int(rng.integers(10**7, 10**8 - 1))}" if rng.random() < 0.7 else ""
        n_rec = int(rng.choice([1, 2, 2, 3]))
        for k in range(n_rec):
            n, a, s, t = nom, f"{number} {street}", siret, phone
            if k > 0:
                if rng.random() < 0.3:
                    n = " ".join(_typo(rng, w) for w in nom.split())
                if rng.random() < 0.2:
                    a = f"{_number_typo(rng, number)} {street}"
                if rng.random() < 0.15:
                    a = ""
                if rng.random() < 0.3:
                    s = ""
                if rng.random() < 0.3:
                    t = ""
            la, lo = _offset(lat, lon, rng.uniform(0, 40), rng)
            record(f"p{e}", k, n, a, la, lo, s, t)
    for c, chain in enumerate(CHAINS):  # one company, several shops kilometres apart
        siren = f"{int(rng.integers(10**8, 10**9 - 1))}"
        for shop in range(4):
            lat, lon = place()
            number, street = str(int(rng.integers(1, 200))), STREETS[(c + shop * 3) % len(STREETS)]
            for k in range(2):
                la, lo = _offset(lat, lon, rng.uniform(0, 30), rng)
                record(f"c{c}_{shop}", k, chain, f"{number} {street}", la, lo, f"{siren}{shop:05d}")
    for s_ in range(10):  # two businesses on one site: one address, one phone
        lat, lon = place()
        address = f"{int(rng.integers(1, 200))} {STREETS[s_ % len(STREETS)]}"
        phone = f"04{int(rng.integers(10**7, 10**8 - 1))}"
        for b, nom in enumerate([f"decheterie {SURNAMES[s_]}", f"ressourcerie {WORDS[s_]}"]):
            for k in range(2):
                la, lo = _offset(lat, lon, rng.uniform(0, 20), rng)
                record(f"s{s_}_{b}", k + 2 * b, nom, address, la, lo, telephone=phone)
    df = pd.DataFrame(rows)
    for c in SELECTION_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df["est_parent"] = "f"
    return df[SELECTION_COLUMNS + ["entity"]]
