"""Real communes and street names shipped with the generator (data/communes.csv, data/streets.txt)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from data_platform.geo import departements_from_postal_codes

DATA_DIR = Path(__file__).resolve().parent / "data"
ARRONDISSEMENT_CITIES = {"Paris", "Lyon", "Marseille"}
# first digits of a landline by département (01 Île-de-France ... 05 south-west; overseas have their own)
_OVERSEAS_PREFIX = {"971": "0590", "972": "0596", "973": "0594", "974": "0262", "976": "0269"}
_ZONE_01 = {"75", "77", "78", "91", "92", "93", "94", "95"}
_ZONE_02 = {"14", "18", "22", "27", "28", "29", "35", "36", "37", "41", "44", "45", "49", "50", "53", "56",
            "61", "72", "76", "85", "86", "79"}
_ZONE_03 = {"02", "08", "10", "21", "25", "39", "51", "52", "54", "55", "57", "58", "59", "60", "62", "67",
            "68", "70", "71", "80", "88", "89", "90"}
_ZONE_04 = {"01", "03", "04", "05", "06", "07", "11", "13", "15", "26", "2A", "2B", "30", "34", "38", "42",
            "43", "48", "63", "66", "69", "73", "74", "83", "84"}


@dataclass(frozen=True)
class Geography:
    communes: pd.DataFrame      # nom, code_postal, departement, latitude, longitude, population, arrondissement
    weights: np.ndarray         # sampling probability of each commune
    phone_prefix: np.ndarray    # "01".."05", or "0590"... overseas
    streets: np.ndarray         # object array of street names


def _phone_prefix(dep: str) -> str:
    if dep in _OVERSEAS_PREFIX:
        return _OVERSEAS_PREFIX[dep]
    for prefix, zone in (("01", _ZONE_01), ("02", _ZONE_02), ("03", _ZONE_03), ("04", _ZONE_04)):
        if dep in zone:
            return prefix
    return "05"


@lru_cache(maxsize=1)
def load_geography() -> Geography:
    communes = pd.read_csv(DATA_DIR / "communes.csv", dtype={"code_postal": str}, keep_default_na=False)
    bad = communes[~communes["code_postal"].str.fullmatch(r"\d{5}")]
    if len(bad):
        raise ValueError(f"communes.csv: invalid postal code on line(s) {list(bad.index + 2)}")
    # as dbt derives it (Monaco's 98000 is in no département: geo.UNKNOWN_DEPARTEMENT)
    communes.insert(2, "departement", departements_from_postal_codes(communes["code_postal"], communes["nom"]))
    arr = np.where(communes["nom"].isin(ARRONDISSEMENT_CITIES),
                   communes["code_postal"].str[-2:].astype(int), 0)
    communes["arrondissement"] = arr
    weights = np.sqrt(communes["population"].to_numpy(dtype=float).clip(1, None))
    streets = np.array([s.strip() for s in (DATA_DIR / "streets.txt").read_text(encoding="utf-8").splitlines()
                        if s.strip()], dtype=object)
    prefix = np.array([_phone_prefix(d) for d in communes["departement"]], dtype=object)
    return Geography(communes=communes, weights=weights / weights.sum(), phone_prefix=prefix, streets=streets)
