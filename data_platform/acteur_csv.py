"""The acteur columns as they travel in CSV files (SPEC §2.1), shared by the generator and load-csv.

The columns come from the field catalogue (data_platform.schema)."""
from __future__ import annotations

from data_platform.schema import ACTEUR_COLUMNS, STATUTS, TEXT_COLUMNS, derive_identifiant_unique
from data_platform.schema import COORDINATE_COLUMNS as FLOAT_COLUMNS

# ground-truth columns a generated CSV carries (data-platform generate --out); load-csv accepts them
GROUND_TRUTH_COLUMNS = ["entity_id", "kind"]

__all__ = ["ACTEUR_COLUMNS", "FLOAT_COLUMNS", "GROUND_TRUTH_COLUMNS", "STATUTS", "TEXT_COLUMNS",
           "derive_identifiant_unique"]

