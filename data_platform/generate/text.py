"""String variations the sources introduce: case, accents, abbreviations, typos, phone formats.

Functions work on object arrays; costly ones (accents) are computed once per distinct value.
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
from unidecode import unidecode

# street words and their abbreviations as sources write them (addok-style synonyms)
ABBREVIATIONS = [
    (r"\brue\b", ["r", "R.", "r."]), (r"\bavenue\b", ["av", "Av.", "ave"]), (r"\bboulevard\b", ["bd", "Bd", "bld"]),
    (r"\bplace\b", ["pl", "Pl."]), (r"\bSaint-", ["St-", "St "]), (r"\bSainte-", ["Ste-"]),
    (r"\bchemin\b", ["ch", "che"]), (r"\broute\b", ["rte"]), (r"\bimpasse\b", ["imp"]), (r"\ballée\b", ["all"]),
    (r"\bGénéral\b", ["Gal", "Gén."]), (r"\bMaréchal\b", ["Mal"]), (r"\bDocteur\b", ["Dr"]),
    (r"\bzone industrielle\b", ["ZI"]), (r"\bzone artisanale\b", ["ZA"]), (r"\besplanade\b", ["esp", "espl"]),
    (r"\bquai\b", ["qu"]), (r"\bcours\b", ["crs"]),
]
_ABBREV_RE = [(re.compile(p), subs) for p, subs in ABBREVIATIONS]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", unidecode(text).lower()).strip("-")


# case styles of a record (records.py): indexes into STYLES
UPPER, UPPER_ASCII, AS_IS, ASCII, LOWER = range(5)
STYLES = [str.upper, lambda v: unidecode(v).upper(), str, unidecode, str.lower]


def map_unique(values: np.ndarray, func) -> np.ndarray:
    """func applied once per distinct value."""
    s = pd.Series(values, dtype=object)
    uniq = s.unique()
    table = dict(zip(uniq, (func(u) for u in uniq)))
    return s.map(table).to_numpy(dtype=object)


def restyle(values: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Each value in its record's case style (UPPER, UPPER_ASCII, AS_IS, ASCII, LOWER)."""
    out = np.asarray(values, dtype=object).copy()
    for k, func in enumerate(STYLES):
        if k == AS_IS:
            continue
        idx = np.flatnonzero(style == k)
        if len(idx):
            out[idx] = map_unique(out[idx], func)
    return out


def abbreviate(value: str, choice: int) -> str:
    """Street words abbreviated; `choice` picks among the abbreviations of each word."""
    for rx, subs in _ABBREV_RE:
        value = rx.sub(subs[choice % len(subs)], value)
    return value


def abbreviate_unique(values: np.ndarray, abbrev: np.ndarray) -> np.ndarray:
    """abbrev 0 keeps the value; 1..3 abbreviates it with abbreviation set abbrev-1."""
    out = np.asarray(values, dtype=object).copy()
    for k in range(1, 4):
        idx = np.flatnonzero(abbrev == k)
        if len(idx):
            out[idx] = map_unique(out[idx], lambda v, c=k - 1: abbreviate(v, c))
    return out


@lru_cache(maxsize=4)
def _street_variants(streets: tuple) -> np.ndarray:
    table = np.empty((len(streets) + 1, 4, len(STYLES)), dtype=object)
    table[-1] = ""
    for i, street in enumerate(streets):
        for a in range(4):
            v = street if a == 0 else abbreviate(street, a - 1)
            for k, func in enumerate(STYLES):
                table[i, a, k] = func(v)
    return table


def street_variants(streets: np.ndarray) -> np.ndarray:
    """Table [street, abbreviation set (0 = none), style] of street names; row -1 is '' (no address)."""
    return _street_variants(tuple(streets))


def typo(values: np.ndarray, pos: np.ndarray, swap: np.ndarray) -> np.ndarray:
    """One typing error per value: two adjacent letters swapped, or one letter dropped."""
    out = np.empty(len(values), dtype=object)
    for i, (v, p, s) in enumerate(zip(values, pos, swap)):
        if len(v) < 4:
            out[i] = v
            continue
        k = 1 + int(p * (len(v) - 2))  # never the first letter
        out[i] = (v[:k] + v[k + 1] + v[k] + v[k + 2:] if s else v[:k] + v[k + 1:]).strip()
    return out


PHONE_FORMATS = ["spaced", "compact", "intl_spaced", "intl_no_plus", "dotted", "intl_compact"]


def format_phones(national: np.ndarray, fmt: np.ndarray) -> np.ndarray:
    """Format 10-digit national numbers ("0123456789") in the given styles (indexes of PHONE_FORMATS).

    International styles are used for metropolitan numbers only; overseas numbers stay national.
    """
    national = np.asarray(national, dtype=object)
    out = np.full(len(national), "", dtype=object)
    overseas = np.array([n.startswith(("059", "026")) for n in national], dtype=bool)
    fmt = np.where(overseas & (fmt >= 2), 0, fmt)
    has = national != ""
    for f in range(len(PHONE_FORMATS)):
        idx = np.flatnonzero(has & (fmt == f))
        v = national[idx]
        if f == 0:
            out[idx] = [f"{n[0:2]} {n[2:4]} {n[4:6]} {n[6:8]} {n[8:10]}" for n in v]
        elif f == 1:
            out[idx] = v
        elif f == 2:
            out[idx] = [f"+33 {n[1]} {n[2:4]} {n[4:6]} {n[6:8]} {n[8:10]}" for n in v]
        elif f == 3:
            out[idx] = "33" + np.array([n[1:] for n in v], dtype=object)
        elif f == 4:
            out[idx] = [f"{n[0:2]}.{n[2:4]}.{n[4:6]}.{n[6:8]}.{n[8:10]}" for n in v]
        else:
            out[idx] = "+33" + np.array([n[1:] for n in v], dtype=object)
    return out
