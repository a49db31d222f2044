"""The acteur columns as they travel in CSV files (SPEC §2.1), shared by the generator and load-csv."""
from __future__ import annotations

import pandas as pd

# order of the columns in the CSV files the platform writes
ACTEUR_COLUMNS = [
    "identifiant_unique", "identifiant_externe", "source", "acteur_type", "statut", "nom", "nom_commercial",
    "siren", "siret", "adresse", "adresse_complement", "code_postal", "ville", "latitude", "longitude",
    "telephone", "email", "url",
]
TEXT_COLUMNS = [c for c in ACTEUR_COLUMNS if c not in ("latitude", "longitude")]
FLOAT_COLUMNS = ["latitude", "longitude"]
# ground-truth columns a generated CSV carries (data-platform generate --out); load-csv accepts them
GROUND_TRUTH_COLUMNS = ["entity_id", "kind"]
STATUTS = ("ACTIF", "INACTIF", "SUPPRIME")


def derive_identifiant_unique(source: pd.Series, identifiant_externe: pd.Series) -> pd.Series:
    """`<source>_<identifiant_externe without spaces, / replaced by ->` (SPEC §2.1), vectorized."""
    ext = identifiant_externe.astype(str).str.replace(r"\s+", "", regex=True).str.replace("/", "-", regex=False)
    return source.astype(str) + "_" + ext
