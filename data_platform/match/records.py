"""The records to look up: JSON objects (the command line, stdin, the API's body) or a CSV of new actors, checked
field by field (errors name the record or line, the field and why), as a frame of raw acteur fields.

Fields: the acteur columns of a CSV (data_platform.acteur_csv.ACTEUR_COLUMNS) that describe a place — name,
commercial name, SIREN/SIRET, address, postal code, city, coordinates, phone, e-mail, site — plus the optional
`identifiant_unique` (echoed back; a known actor's own id never matches itself) and `source`. Other CSV columns
are ignored (a generated file's ground truth, the statut); other JSON keys are refused (a typo would otherwise
silently match on less).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data_platform.acteur_csv import ACTEUR_COLUMNS, FLOAT_COLUMNS

FIELDS = ["identifiant_unique", "source", "acteur_type", "nom", "nom_commercial", "siren", "siret", "adresse",
          "adresse_complement", "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url"]
# a record must carry at least one of these to be compared with anything
MATCHABLE = ["nom", "nom_commercial", "siret", "adresse", "telephone", "latitude"]
MAX_TEXT = 1000
# what a JSON record may also carry (echoed or ignored): the other acteur columns
IGNORED = [c for c in ACTEUR_COLUMNS if c not in FIELDS]


@dataclass
class RecordError:
    record: int | str          # index in the request (JSON) or line (CSV)
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"record": self.record, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        where = f"line {self.record}" if isinstance(self.record, str) else f"record {self.record}"
        return f"{where}: {self.field or '(record)'}: {self.reason}"


def _coordinate(value, field: str):
    """(float or NaN, error reason or None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan, None
    if isinstance(value, bool):
        return math.nan, "a number is expected, not a boolean"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan, f"not a number: {value!r}"
    limit = 90.0 if field == "latitude" else 180.0
    if not math.isfinite(x) or abs(x) > limit:
        return math.nan, f"{x} is outside [-{limit:g}, {limit:g}]"
    return x, None


def from_json(payload) -> tuple[pd.DataFrame, list[RecordError]]:
    """One JSON object or a list of them (or {"records": [...]}) → (frame of FIELDS, errors)."""
    if isinstance(payload, dict) and "records" in payload and len(payload) == 1:
        payload = payload["records"]
    records = payload if isinstance(payload, list) else [payload]
    errors: list[RecordError] = []
    if not records:
        errors.append(RecordError(0, "records", "no record given"))
    rows, labels = [], []
    for n, rec in enumerate(records):
        if not isinstance(rec, dict):
            errors.append(RecordError(n, "", f"a JSON object is expected, not {type(rec).__name__}"))
            continue
        row = {}
        for key, value in rec.items():
            if key in IGNORED:
                continue
            if key not in FIELDS:
                errors.append(RecordError(n, str(key)[:100], "unknown field; expected " + ", ".join(FIELDS)))
                continue
            if key in FLOAT_COLUMNS:
                row[key], why = _coordinate(value, key)
            elif value is None:
                row[key], why = "", None
            elif isinstance(value, (str, int)) and not isinstance(value, bool):
                row[key] = str(value)
                why = f"longer than {MAX_TEXT} characters" if len(row[key]) > MAX_TEXT else (
                    "contains a NUL character" if "\x00" in row[key] else None)
            else:
                row[key], why = "", f"a string is expected, not {type(value).__name__}"
            if why:
                errors.append(RecordError(n, key, why))
        rows.append(row)
        labels.append(n)
    frame = _frame(rows)
    errors += _nothing_to_match(frame, labels)
    return frame, sorted(errors, key=lambda e: e.record)


def from_csv(path: str | Path) -> tuple[pd.DataFrame, list[RecordError]]:
    """A CSV with a header of acteur columns (read as data-platform load-csv reads them: UTF-8, ',' separated,
    every value a string; other columns ignored) → (frame of FIELDS, errors by line)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8")
    except UnicodeDecodeError as exc:
        return _frame([]), [RecordError("1", "", f"not valid UTF-8 ({exc.reason})")]
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return _frame([]), [RecordError("1", "", f"unreadable CSV: {exc}")]
    lines = [str(i + 2) for i in range(len(raw))]
    errors: list[RecordError] = []
    if len(raw.columns) == 1 and ";" in raw.columns[0]:
        return _frame([]), [RecordError("1", "", "columns must be separated by ',' (this header uses ';')")]
    if not set(raw.columns) & set(FIELDS):
        return _frame([]), [RecordError("1", "", "no acteur column in the header; expected some of "
                                        + ", ".join(FIELDS))]
    frame = _frame([{}] * len(raw))
    for c in FIELDS:
        if c not in raw.columns:
            continue
        if c in FLOAT_COLUMNS:
            parsed = [_coordinate(v, c) for v in raw[c].tolist()]
            frame[c] = [x for x, _ in parsed]
            errors += [RecordError(line, c, why) for line, (_, why) in zip(lines, parsed) if why]
        else:
            frame[c] = raw[c].to_numpy(dtype=object)
            bad = raw[c].str.contains("\x00", regex=False).to_numpy()
            errors += [RecordError(lines[i], c, "contains a NUL character") for i in np.flatnonzero(bad)]
    errors += _nothing_to_match(frame, lines)
    return frame, sorted(errors, key=lambda e: (int(e.record), FIELDS.index(e.field) if e.field in FIELDS else -1))


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=FIELDS)
    for c in FIELDS:
        if c in FLOAT_COLUMNS:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
        else:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), "").astype(str)
    return frame


def _nothing_to_match(frame: pd.DataFrame, labels: list) -> list[RecordError]:
    text = [c for c in MATCHABLE if c not in FLOAT_COLUMNS]
    empty = (frame[text].apply(lambda s: s.str.strip() == "").all(axis=1)) & frame["latitude"].isna()
    return [RecordError(labels[i], "", "nothing to match on: give at least one of " + ", ".join(MATCHABLE))
            for i in np.flatnonzero(empty.to_numpy())]
