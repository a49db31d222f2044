"""Distances and départements, in Python (SPEC §3.1 step 2).

- `haversine_m`: great-circle distance in metres, vectorized (numpy); `distance_m` is the same formula
  for one pair of (lat, lon) points.
- `departement_from_postal_code(code_postal, ville)`: the département as dbt derives it
  (int_acteur_normalise, macros in dbt_project/macros/normalize.sql), from the same reference data
  (dbt_project/seeds/departements.csv, postal_code_departement_exceptions.csv): the exceptions seed
  matched on postal code and commune first, then the prefix rule (Corsica 2A/2B, overseas on three
  digits) when it gives a département of the seed, else `UNKNOWN_DEPARTEMENT`.
  tests/test_geo.py checks that Python and dbt agree on every postal code of the reference data.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from data_platform.settings import DBT_PROJECT_DIR

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
UNKNOWN_DEPARTEMENT = "inconnu"  # dbt's partition of actors with no usable postal code


# -- distance ------------------------------------------------------------------------------------------

def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Distance in metres between (lat1, lon1) and (lat2, lon2), element-wise; NaN where a coordinate is NaN."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_m(a, b) -> float | None:
    """Distance in metres between two (lat, lon) points; None when a coordinate is missing or not a number."""
    try:
        coords = [float(a[0]), float(a[1]), float(b[0]), float(b[1])]
    except (TypeError, ValueError, IndexError):
        return None
    d = float(haversine_m(*coords))
    return None if np.isnan(d) else d


# -- département ---------------------------------------------------------------------------------------
# Each function below is the Python form of the dbt macro it names (dbt_project/macros/normalize.sql).

_ACCENT_LIGATURES = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"), ("ß", "ss"))
_ACCENT_LETTERS = str.maketrans("øØđĐłŁıħĦŧŦ", "oOdDlLihHtT")
_COMBINING = re.compile("[\u0300-\u036f]")
_NOT_ALNUM = re.compile("[^a-z0-9]+")
_CEDEX_WORD = re.compile(r"\bcedex\b.*\Z", re.DOTALL)
_ARRONDISSEMENT = re.compile(r"\s+[0-9]{1,2}\s*(e|er|eme|em|ieme)?\s*(arrondissement|arr)?\Z")
_SAINT = re.compile(r"\bst(e?)\b")
_ARTICLE = re.compile(r"\A(la|le|les|l) ")
_CP_SUFFIX = re.compile(r"(cedex.*|\.0*\s*)\Z", re.IGNORECASE | re.DOTALL)
_NOT_DIGIT = re.compile("[^0-9]")


def _text(value) -> str:
    return "" if value is None else str(value)


def strip_accents(value) -> str:
    """dbt `strip_accents`."""
    text = _text(value)
    if text.isascii():
        return text
    for letter, ascii_ in _ACCENT_LIGATURES:
        text = text.replace(letter, ascii_)
    return _COMBINING.sub("", unicodedata.normalize("NFD", text.translate(_ACCENT_LETTERS)))


def normalize_text(value) -> str:
    """dbt `normalize_text`: lower case, accents removed, every run of other characters than [a-z0-9] one space."""
    return _NOT_ALNUM.sub(" ", strip_accents(value).lower()).strip(" ")


def normalize_ville(value) -> str:
    """dbt `normalize_ville`: normalize_text, CEDEX and a trailing arrondissement dropped, st/ste → saint/sainte."""
    text = _CEDEX_WORD.sub("", normalize_text(value), count=1)
    text = _ARRONDISSEMENT.sub("", text, count=1)
    return _SAINT.sub(r"saint\1", text).strip(" ")


def commune_key(ville) -> str:
    """The key int_acteur_normalise matches the exceptions seed on: normalize_ville without a leading article."""
    return _ARTICLE.sub("", normalize_ville(ville), count=1)


def normalize_code_postal(value) -> str:
    """dbt `normalize_code_postal`: CEDEX or a spreadsheet '.0' suffix dropped, digits only; 5 digits kept,
    4 digits get their lost leading zero back, anything else ''."""
    digits = _NOT_DIGIT.sub("", _CP_SUFFIX.sub("", _text(value), count=1))
    return digits if len(digits) == 5 else "0" + digits if len(digits) == 4 else ""


def departement_by_prefix(code_postal_norm: str) -> str | None:
    """dbt `departement_from_postal_code`, from a normalized postal code: Corsica 20000–20199 → 2A, 20200+ → 2B;
    97xxx/98xxx → three digits; otherwise the first two digits; None when not 5 digits. Not checked against
    the seed (departement_from_postal_code does that)."""
    cp = code_postal_norm
    if len(cp) != 5 or not cp.isascii() or not cp.isdigit():
        return None
    if cp.startswith("20"):
        return "2A" if cp < "20200" else "2B"
    if cp.startswith(("97", "98")):
        return cp[:3]
    return cp[:2]


def _read_seed(name: str) -> list[dict]:
    with open(SEEDS_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def departement_codes() -> frozenset[str]:
    """Codes of the departements seed ('01' … '95', '2A', '2B', '971' … '976')."""
    return frozenset(r["code"] for r in _read_seed("departements.csv"))


@lru_cache(maxsize=1)
def departement_exceptions() -> dict[tuple[str, str], str]:
    """(normalized postal code, commune key) → real département, from the exceptions seed (the smallest
    département when one key appears twice, as dbt's `distinct on ... order by departement_reel`)."""
    out: dict[tuple[str, str], str] = {}
    for r in _read_seed("postal_code_departement_exceptions.csv"):
        key = (normalize_code_postal(r["code_postal"]), commune_key(r["nom_commune"]))
        out[key] = min(out.get(key, r["departement_reel"]), r["departement_reel"])
    return out


@lru_cache(maxsize=1)
def _exception_postal_codes() -> frozenset[str]:
    return frozenset(cp for cp, _ in departement_exceptions())


def departement_from_postal_code(code_postal, ville="") -> str:
    """Département of an actor from its raw postal code and city (SPEC §3.1 step 2), as dbt derives it:
    '2A', '974', '04' for Claret (05110), `UNKNOWN_DEPARTEMENT` when the postal code gives none."""
    cp = normalize_code_postal(code_postal)
    if cp in _exception_postal_codes():
        exception = departement_exceptions().get((cp, commune_key(ville)))
        if exception is not None:
            return exception
    dep = departement_by_prefix(cp)
    return dep if dep in departement_codes() else UNKNOWN_DEPARTEMENT


def departements_from_postal_codes(code_postal: Iterable, ville: Iterable) -> np.ndarray:
    """`departement_from_postal_code` element-wise (object array); each distinct (postal code, city) once."""
    pairs = list(zip(code_postal, ville, strict=True))
    found = {p: departement_from_postal_code(*p) for p in set(pairs)}
    return np.array([found[p] for p in pairs], dtype=object)
