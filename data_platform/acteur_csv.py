"""The acteur columns as they travel in CSV files (SPEC §2.1), shared by the generator and load-csv.

The columns come from the field catalogue (data_platform.schema)."""
from __future__ import annotations

from data_platform.schema import ACTEUR_COLUMNS, STATUTS, TEXT_COLUMNS, derive_identifiant_unique
from data_platform.schema import COORDINATE_COLUMNS as FLOAT_COLUMNS

# ground-truth columns a generated CSV carries (data-platform generate --out); load-csv accepts them
GROUND_TRUTH_COLUMNS = ["entity_id", "kind"]

# columns a load-csv file must have (identifiant_unique is derived from source + identifiant_externe)
REQUIRED_COLUMNS = ["source", "identifiant_externe", "acteur_type", "nom"]

__all__ = [
    "ACTEUR_COLUMNS",
    "FLOAT_COLUMNS",
    "GROUND_TRUTH_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATUTS",
    "TEXT_COLUMNS",
    "columns_help",
    "derive_identifiant_unique",
]


def columns_help(command: str) -> str:
    """The columns paragraph of `load-csv --help` / `dedupe-csv --help`."""
    optional = [c for c in ACTEUR_COLUMNS if c not in REQUIRED_COLUMNS]
    common = ("The file: a header line naming the columns, in any order; encoding UTF-8 (with or without BOM) or "
              "Windows-1252, detected; separator ',' ';' tab or '|', detected on the header (or --sep). "
              "Errors name the line, the field and why; a file that cannot be used exits with status 2, "
              "invalid rows with status 1.\n\n")
    if command == "dedupe-csv":
        return common + ("Columns: identifiant_externe (or identifiant_unique: the file's own ids, given back in the "
                         "output), acteur_type and nom are required (an empty nom is allowed); source is optional "
                         "(default: one source, 'csv'); optional: " + ", ".join(c for c in optional if c != "source")
                         + ". Other columns are ignored (listed on stderr).")
    return common + ("Required columns: " + ", ".join(REQUIRED_COLUMNS) + ". Optional: " + ", ".join(optional)
                     + "; ground truth: " + ", ".join(GROUND_TRUTH_COLUMNS) + ". Any other column is an error.")

