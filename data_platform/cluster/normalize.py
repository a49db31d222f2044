"""dbt's normalization (int_acteur_normalise), in Python, for data that did not go through dbt: the match
index and the records looked up, an in-memory benchmark on a generated CSV, the terminal labeller. The
pipeline itself uses dbt's `cluster_selection`; this only fills the `*_norm` and `departement` columns
when they are absent, with the same rules and the same word lists (the seeds abbreviations, legal_forms,
stop_words), so that a verbatim copy of a known actor normalizes as dbt normalized it
(tests/dbt/test_selection.py checks the two agree). The text, city, postal-code and département rules
are geo.py's, which tests/test_geo.py checks against dbt on the reference data.

Each field has one rule on one value (the functions below); `normalize_frame` applies each rule once per
distinct value of a column. Plain Python on values costs the same as pandas' string methods on a large
frame (object columns loop in Python too) and a hundred times less on the one-row frame of a real-time
look-up, where pandas' per-call overhead was most of the answer time.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from data_platform.geo import (
    _NOT_DIGIT,
    _read_seed,
    departement_from_postal_code,
    normalize_code_postal,
    normalize_text,
    normalize_ville,
)

_EMPTY_LOOKING = {"", "null", "none", "nan", "n/a", "n.a.", "-", "--", ".", "?"}


def clean_text(value) -> str:
    """dbt `clean_text` (staging): empty-looking strings ("null", "n/a", "-", ...) and None become ''."""
    text = "" if value is None else str(value).strip()
    return "" if len(text.encode()) <= 8 and text.lower() in _EMPTY_LOOKING else text


@lru_cache(maxsize=1)
def word_dictionary() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """dbt's int_word_dictionary: (expansion in names, expansion in addresses, words names drop)."""
    abbreviations = _read_seed("abbreviations.csv")
    in_names = {r["abbreviation"]: r["expansion"] for r in abbreviations if r["scope"] == "all"}
    in_addresses = {r["abbreviation"]: r["expansion"] for r in abbreviations}
    drop = {r["legal_form"] for r in _read_seed("legal_forms.csv")} | {r["word"] for r in _read_seed("stop_words.csv")}
    # a word is dropped from names when it, or its expansion in names, is a legal form or a stop word
    dropped = frozenset(w for w in drop | set(in_names) if w in drop or in_names.get(w) in drop)
    return in_names, in_addresses, dropped


def nom_norm(value) -> str:
    """Name and commercial name: normalize_text, abbreviations expanded, legal forms and stop words dropped."""
    in_names, _, dropped = word_dictionary()
    return " ".join(in_names.get(w, w) for w in normalize_text(clean_text(value)).split() if w not in dropped)


def adresse_norm(value) -> str:
    """Address: normalize_text, abbreviations expanded; numbers and stop words kept."""
    _, in_addresses, _ = word_dictionary()
    return " ".join(in_addresses.get(w, w) for w in normalize_text(clean_text(value)).split())


def ville_norm(value) -> str:
    return normalize_ville(clean_text(value))


def code_postal_norm(value) -> str:
    return normalize_code_postal(clean_text(value))


def _digits_exact(value, n: int) -> str:
    """dbt `digits_exact`: exactly n digits and not all zeros, or ''."""
    digits = _NOT_DIGIT.sub("", clean_text(value))
    return digits if len(digits) == n and digits.strip("0") else ""


def siret_norm(value) -> str:
    return _digits_exact(value, 14)


def siren_norm(value, siret_normalized: str) -> str:
    """Nine digits, else the normalized SIRET's first nine, else ''."""
    return _digits_exact(value, 9) or siret_normalized[:9]


_PHONE_PREFIXES = ("262", "269", "508", "590", "594", "596")  # overseas country codes


def telephone_norm(value) -> str:
    """dbt `telephone_from_digits`: 10 digits starting with 0 (second digit not 0), or ''; the +33/0033/33
    prefixes (with or without the "(0)") and the overseas country codes become the leading 0; a 9-digit
    number that lost its leading zero gets it back."""
    d = _NOT_DIGIT.sub("", clean_text(value))
    n = len(d)
    if n == 10 and d[0] == "0" and d[1] != "0":
        return d
    if n == 9 and d[0] != "0":
        return "0" + d
    if n == 11 and d.startswith("33") and d[2] != "0":
        return "0" + d[2:]
    if n == 12 and d.startswith("330") and d[3] != "0":
        return d[2:]
    if n == 13 and d.startswith("0033") and d[4] != "0":
        return "0" + d[4:]
    if n == 14 and d.startswith("00330") and d[5] != "0":
        return d[4:]
    if n == 12 and d[:3] in _PHONE_PREFIXES and d[3] != "0":
        return "0" + d[3:]
    if n == 14 and d.startswith("00") and d[2:5] in _PHONE_PREFIXES and d[5] != "0":
        return "0" + d[5:]
    return ""


def _each(values, rule) -> list:
    """rule(value) for each value, computed once per distinct value."""
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    done = {v: rule(v) for v in dict.fromkeys(values)}
    return [done[v] for v in values]


_RAW = ["nom", "nom_commercial", "adresse", "ville", "code_postal", "siret", "siren", "telephone"]
_RULES = [("nom_norm", "nom", nom_norm), ("nom_commercial_norm", "nom_commercial", nom_norm),
          ("adresse_norm", "adresse", adresse_norm), ("ville_norm", "ville", ville_norm),
          ("code_postal_norm", "code_postal", code_postal_norm), ("siret_norm", "siret", siret_norm)]


def normalize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Add the selection's normalized columns (when missing) to a frame with the raw acteur columns."""
    raw = {c: df[c].fillna("").astype(str).tolist() if c in df.columns else [""] * len(df) for c in _RAW}
    new = dict(raw)
    for col, source, rule in _RULES:
        if col not in df.columns:
            new[col] = _each(raw[source], rule)
    if "siren_norm" not in df.columns:  # the SIREN falls back on the SIRET's first nine digits
        siret = new["siret_norm"] if "siret_norm" in new else df["siret_norm"].tolist()
        new["siren_norm"] = [siren_norm(v, s) for v, s in zip(raw["siren"], siret)]
    if "telephone_norm" not in df.columns:
        new["telephone_norm"] = _each(raw["telephone"], telephone_norm)
    if "departement" not in df.columns:  # the exceptions seed needs the city: a few codes cross a line
        new["departement"] = _each(list(zip(raw["code_postal"], raw["ville"])),
                                   lambda cv: departement_from_postal_code(clean_text(cv[0]), clean_text(cv[1])))
    out = df.copy()
    for col, values in new.items():
        out[col] = pd.Series(values, index=df.index, dtype=object)
    return out

