"""A vectorized Python version of the dbt normalization, for data that did not go through dbt
(the benchmark on a generated CSV, in-memory experiments). The pipeline itself uses dbt's
`cluster_selection`; this only fills the `*_norm` and `departement` columns when they are absent.
"""
from __future__ import annotations

import pandas as pd
from unidecode import unidecode

ABBREVIATIONS = {
    "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard", "blvd": "boulevard",
    "esp": "esplanade", "espl": "esplanade", "st": "saint", "ste": "sainte", "r": "rue", "pl": "place",
    "rte": "route", "chem": "chemin", "ch": "chemin", "imp": "impasse", "all": "allee", "fbg": "faubourg",
    "za": "zone artisanale", "zi": "zone industrielle", "zac": "zone activite", "ctre": "centre",
    "cial": "commercial", "ccial": "centre commercial", "qu": "quai", "sq": "square", "crs": "cours",
}
LEGAL_FORMS = {"sarl", "sas", "sasu", "eurl", "sa", "scop", "sci", "snc", "earl", "selarl", "sca", "scic", "ei"}
STOP_WORDS = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au", "aux", "en"}


def _base(s: pd.Series) -> pd.Series:
    s = s.fillna("").astype(str).map(unidecode).str.lower()
    return s.str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()


def _words(s: pd.Series, drop: set[str], expand: bool) -> pd.Series:
    def one(text: str) -> str:
        out = []
        for w in text.split():
            if expand:
                w = ABBREVIATIONS.get(w, w)
            if w not in drop:
                out.append(w)
        return " ".join(out)

    uniq = pd.unique(s)  # each distinct value once
    mapping = dict(zip(uniq, (one(u) for u in uniq)))
    return s.map(mapping)


def departement_of(code_postal: pd.Series) -> pd.Series:
    cp = code_postal.str.zfill(5).where(code_postal.str.len() > 0, "")
    num = pd.to_numeric(cp, errors="coerce")
    dept = cp.str[:2]
    dept = dept.where(~cp.str.startswith("97"), cp.str[:3])
    dept = dept.where(~((num >= 20000) & (num < 20200)), "2A")
    dept = dept.where(~((num >= 20200) & (num < 21000)), "2B")
    bad = num.isna() | (num < 1000) | cp.str.startswith("98") | cp.str.startswith("00")
    return dept.where(~bad, "inconnu")


def normalize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Add the selection's normalized columns (when missing) to a frame with the raw acteur columns."""
    df = df.copy()
    for col in ["nom", "nom_commercial", "adresse", "ville", "code_postal", "siret", "siren", "telephone"]:
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str)
    if "nom_norm" not in df.columns:
        df["nom_norm"] = _words(_base(df["nom"]), LEGAL_FORMS | STOP_WORDS, True)
    if "nom_commercial_norm" not in df.columns:
        df["nom_commercial_norm"] = _words(_base(df["nom_commercial"]), LEGAL_FORMS | STOP_WORDS, True)
    if "adresse_norm" not in df.columns:
        df["adresse_norm"] = _words(_base(df["adresse"]), STOP_WORDS, True)
    if "ville_norm" not in df.columns:
        df["ville_norm"] = _words(_base(df["ville"].str.replace(r"(?i)\bcedex\b.*$", "", regex=True)),
                                  set(), True)
    if "code_postal_norm" not in df.columns:
        digits = df["code_postal"].str.replace(r"\D", "", regex=True).str[:5]
        df["code_postal_norm"] = digits.where(digits.str.len() >= 4, "").str.zfill(5).where(
            digits.str.len() >= 4, "")
    if "siret_norm" not in df.columns:
        d = df["siret"].str.replace(r"\D", "", regex=True)
        df["siret_norm"] = d.where(d.str.len() == 14, "")
    if "siren_norm" not in df.columns:
        d = df["siren"].str.replace(r"\D", "", regex=True)
        df["siren_norm"] = d.where(d.str.len() == 9, df["siret_norm"].str[:9])
    if "telephone_norm" not in df.columns:
        d = df["telephone"].str.replace(r"\D", "", regex=True)
        d = d.where(~(d.str.startswith("33") & (d.str.len() == 11)), "0" + d.str[2:])
        df["telephone_norm"] = d.where(d.str.len() == 10, "")
    if "departement" not in df.columns:
        df["departement"] = departement_of(df["code_postal_norm"])
    return df
