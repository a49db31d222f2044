"""`data-platform load-csv FILE [--skip-invalid] [--update-existing]`: load actors from a CSV with the acteur columns.

Python API (also used by `dedupe-csv`):
- `read_acteur_csv(path, sources=None, acteur_types=None, conn=None, sep=None) -> (DataFrame, list[RowError])`:
  reads (data_platform.csv_input: encoding and separator detected, editor line numbers, a bad file is a
  fatal RowError) and validates the file; `acteur_frame(table, ...)` validates a table already read.
  The DataFrame holds the *valid* rows only, indexed by their CSV line number (header = line 1), with
  every column of ACTEUR_COLUMNS (absent optional columns are '', `identifiant_unique` derived from source + identifiant_externe, `statut` ACTIF when empty, latitude/longitude as floats, NaN when empty) plus the ground-truth columns `entity_id`,
  `kind` when the file has them. Known codes come from `sources`/`acteur_types`, else from the
  database tables `source`/`acteur_type` (through `conn`, or a new connection).
- `identity_errors(conn, df, update_existing=False) -> list[RowError]`: the rows whose id the database
  already holds and that the file may not write (see Identity below), in one query.
- `load_acteurs(conn, df, update_existing=False) -> int`: upserts those rows into `acteur` (COPY into a
  temporary table, then one INSERT ... ON CONFLICT DO UPDATE; into an empty `acteur`, as dedupe-csv's
  scratch database, one COPY straight in) in the caller's transaction; returns the
  number of rows inserted or changed. `upsert_acteurs` returns the detail (inserted / updated /
  unchanged). Both refuse (ValueError) a frame that `identity_errors` finds fault with.

Identity (SPEC §2.1): `identifiant_externe` is required and `identifiant_unique` is always the id derived
from source + identifiant_externe (schema.identifiant_unique); an `identifiant_unique` column may be
given, but a value that differs from the derived one is an error. A file never writes a parent (a
revision_acteur row with no acteur) nor an actor of another source, and updates an existing actor only
with `update_existing` (`--update-existing`): without it such a row is an error like any other.

Exit status of the command: 2 for an input that cannot be used (missing or unreadable file, bad header, --sep),
1 for invalid rows (nothing loaded unless --skip-invalid).

Rules: the header is required; columns are matched by name, in any order; a column that is neither an
acteur column nor a ground-truth column is an error (a misspelt column would otherwise lose its data
silently). Values are stripped of surrounding spaces. Every error names the line, the field and why.
Postal code, SIRET, SIREN and phone follow ingestion's rules (data_platform.ingest.cleaning: a postal code
of a département or an overseas code, Luhn checksums with La Poste's exception, a valid phone number); a
value is stored as given, a value ingestion's cleaning would throw away is an error.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2.errors
from psycopg2 import sql

from data_platform.acteur_csv import (
    ACTEUR_COLUMNS,
    FLOAT_COLUMNS,
    GROUND_TRUTH_COLUMNS,
    REQUIRED_COLUMNS,
    STATUTS,
    derive_identifiant_unique,
)
from data_platform.csv_input import SEPARATORS, CsvTable, InputError, RowError, parse_sep, read_table
from data_platform.db.connection import copy_dataframe
from data_platform.ingest.cleaning import VALIDATED_FIELDS, invalid_values
from data_platform.memory import without_gc

REQUIRED = REQUIRED_COLUMNS
MAX_LENGTH = {"identifiant_unique": 255, "entity_id": 64, "kind": 32}
SHOWN_ERRORS = 50
KNOWN_COLUMNS = ACTEUR_COLUMNS + GROUND_TRUTH_COLUMNS  # the separator is the one that splits the header into these


def known_codes(conn=None) -> tuple[set[str], set[str]]:
    """Source and acteur_type codes from the database."""
    from data_platform.db.connection import connect

    def fetch(c):
        with c.cursor() as cur:
            cur.execute("select code from source")
            sources = {r[0] for r in cur.fetchall()}
            cur.execute("select code from acteur_type")
            return sources, {r[0] for r in cur.fetchall()}

    if conn is not None:
        return fetch(conn)
    with connect() as c:
        return fetch(c)


def _empty() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype=object) for c in ACTEUR_COLUMNS})
    df[FLOAT_COLUMNS] = df[FLOAT_COLUMNS].astype(float)
    df.index.name = "line"
    return df


def _check_header(header: list[str], line: int = 1, separator: str = ",") -> list[RowError]:
    if len(header) == 1:
        return [RowError(line, "", f"the header is a single column with separator {SEPARATORS.get(separator, separator)}: "
                         "columns are separated by ',' ';' tab or '|' (detected, or --sep); required columns: "
                         + ", ".join(REQUIRED), header[0], fatal=True)]
    errors = []
    allowed = set(ACTEUR_COLUMNS) | set(GROUND_TRUTH_COLUMNS)
    seen = set()
    for name in header:
        if name in seen:
            errors.append(RowError(line, name, "column appears twice in the header", fatal=True))
        seen.add(name)
        if name not in allowed:
            errors.append(RowError(line, name, "unknown column; expected acteur columns: " + ", ".join(ACTEUR_COLUMNS)
                                   + " (and optionally " + ", ".join(GROUND_TRUTH_COLUMNS) + ")", fatal=True))
    for name in REQUIRED:
        if name not in seen:
            errors.append(RowError(line, name, "required column missing from the header (required: "
                                   + ", ".join(REQUIRED) + ")"
                                   + (f" ({_DERIVED_ID})" if name == "identifiant_externe" else ""), fatal=True))
    return errors


_DERIVED_ID = "identifiant_unique is derived from source + identifiant_externe, SPEC §2.1"


def _errors_where(df: pd.DataFrame, mask, field: str, reason: str) -> list[RowError]:
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    return [RowError(int(line), field, reason, str(v)) for line, v in zip(df.index[mask], df[field].to_numpy()[mask])]


def validate(df: pd.DataFrame, sources: set[str], acteur_types: set[str],
             may_be_empty: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[RowError]]:
    """Vectorized checks of every row; returns the completed frame (all rows) and the row errors.
    `may_be_empty`: required columns whose empty value is missing information, not an error
    (dedupe-csv: an empty `nom`)."""
    errors: list[RowError] = []
    for name in REQUIRED:
        if name in may_be_empty:
            continue
        errors += _errors_where(df, df[name] == "", name, "required, but empty"
                                + (f" ({_DERIVED_ID})" if name == "identifiant_externe" else ""))
    no_id = df["identifiant_externe"] == ""
    errors += _errors_where(df, (df["source"] != "") & ~df["source"].isin(sources), "source",
                            "unknown source code; known: " + ", ".join(sorted(sources)))
    errors += _errors_where(df, (df["acteur_type"] != "") & ~df["acteur_type"].isin(acteur_types), "acteur_type",
                            "unknown acteur_type code; known: " + ", ".join(sorted(acteur_types)))
    df.loc[df["statut"] == "", "statut"] = "ACTIF"
    errors += _errors_where(df, ~df["statut"].isin(STATUTS), "statut", "must be one of " + ", ".join(STATUTS))
    for name, digits in (("siret", 14), ("siren", 9)):
        given = df[name] != ""
        wrong = given & ~df[name].str.fullmatch(f"[0-9]{{{digits}}}").astype(bool)
        errors += _errors_where(df, wrong, name, f"must be {digits} digits")
        errors += _errors_where(df, given & ~wrong & invalid_values(name, df[name]), name, VALIDATED_FIELDS[name])
    for name in ("code_postal", "telephone"):
        errors += _errors_where(df, invalid_values(name, df[name]), name, VALIDATED_FIELDS[name])
    coords = {}
    for name, limit in (("latitude", 90), ("longitude", 180)):
        given = df[name] != ""
        value = pd.to_numeric(df[name].where(given, None), errors="coerce")
        bad = given & value.isna()
        errors += _errors_where(df, bad, name, "not a number (decimal point '.', e.g. 45.75)")
        errors += _errors_where(df, given & ~bad & ~value.between(-limit, limit), name,
                                f"out of range [-{limit}, {limit}]")
        coords[name] = (given, value)
    for name, other in (("latitude", "longitude"), ("longitude", "latitude")):
        errors += _errors_where(df, coords[other][0] & ~coords[name][0], name, f"empty while {other} is given")

    derived = derive_identifiant_unique(df["source"], df["identifiant_externe"]).where(~no_id, "")
    other = ((df["identifiant_unique"] != "") & ~no_id & (df["identifiant_unique"] != derived)).to_numpy()
    errors += [RowError(int(line), "identifiant_unique", f"must be {want!r}, the id derived from source + "
                        "identifiant_externe (SPEC §2.1)", got)
               for line, got, want in zip(df.index[other], df["identifiant_unique"].to_numpy()[other],
                                          derived.to_numpy()[other])]
    df["identifiant_unique"] = derived
    for name, limit in MAX_LENGTH.items():
        if name in df:
            errors += _errors_where(df, df[name].str.len() > limit, name, f"longer than {limit} characters")
    dup = df["identifiant_unique"].duplicated(keep="first") & ~no_id
    if dup.any():
        first = pd.Series(df.index, index=df.index).groupby(df["identifiant_unique"]).transform("min")
        errors += [RowError(int(line), "identifiant_unique", f"duplicate of line {int(first[line])}", uid)
                   for line, uid in zip(df.index[dup], df.loc[dup, "identifiant_unique"])]
    for name in FLOAT_COLUMNS:
        df[name] = coords[name][1].astype(float)
    return df, errors


def read_acteur_csv(path: str | Path, sources: set[str] | None = None, acteur_types: set[str] | None = None,
                    conn=None, may_be_empty: tuple[str, ...] = (), sep: str | None = None
                    ) -> tuple[pd.DataFrame, list[RowError]]:
    """Read and validate an acteur CSV: (valid rows indexed by line number, errors sorted by line).
    `may_be_empty`: see `validate`; `sep`: the separator (None: detected, see data_platform.csv_input)."""
    return acteur_frame(read_table(path, sep, KNOWN_COLUMNS), sources, acteur_types, conn, may_be_empty)


@without_gc
def acteur_frame(table: CsvTable, sources: set[str] | None = None, acteur_types: set[str] | None = None,
                 conn=None, may_be_empty: tuple[str, ...] = (), df: pd.DataFrame | None = None
                 ) -> tuple[pd.DataFrame, list[RowError]]:
    """`read_acteur_csv` on a table already read; `df`: its frame as the caller reshaped it (dedupe-csv)."""
    if table.fatal:
        return _empty(), sorted(table.errors, key=lambda e: e.line)
    df = table.frame() if df is None else df
    errors = _check_header(list(df.columns), table.header_line, table.separator) + table.errors
    if any(e.fatal for e in errors):
        return _empty(), sorted(errors, key=lambda e: e.line)
    if sources is None or acteur_types is None:
        known = known_codes(conn)
        sources = known[0] if sources is None else sources
        acteur_types = known[1] if acteur_types is None else acteur_types
    header = list(df.columns)
    for name in ACTEUR_COLUMNS:
        if name not in df:
            df[name] = ""
    df, row_errors = validate(df, sources, acteur_types, may_be_empty)
    if table.nul:
        row_errors += _nul_errors(df)
    errors = sorted(errors + row_errors, key=lambda e: (e.line, _field_order(e.field)))
    bad_lines = {e.line for e in errors}
    extra = [c for c in GROUND_TRUTH_COLUMNS if c in header]
    valid = df.loc[~df.index.isin(bad_lines), ACTEUR_COLUMNS + extra]
    return valid, errors


def _nul_errors(df: pd.DataFrame) -> list[RowError]:
    """A NUL byte (\\x00) in a value: no text column of PostgreSQL can hold one (COPY would fail)."""
    errors = []
    for name in df.columns:
        if df[name].dtype == object:
            errors += _errors_where(df, df[name].str.contains("\x00", regex=False), name,
                                    "contains a NUL byte (\\x00), which no text field can hold")
    return errors


def _field_order(field: str) -> int:
    cols = ACTEUR_COLUMNS + GROUND_TRUTH_COLUMNS
    return cols.index(field) if field in cols else -1


def identity_errors(conn, df: pd.DataFrame, update_existing: bool = False) -> list[RowError]:
    """Rows of a validated frame whose identifiant_unique the database already holds and that the file may
    not write: a parent's (a revision_acteur row with no acteur), an actor of another source, an existing
    actor of the same source unless `update_existing`. One query for the whole frame."""
    if df.empty:
        return []
    with conn.cursor() as cur:
        cur.execute("""
            SELECT f.line, f.identifiant_unique, a.source, a.identifiant_unique IS NOT NULL
            FROM unnest(%s::int[], %s::text[], %s::text[]) AS f(line, identifiant_unique, source)
            LEFT JOIN acteur a ON a.identifiant_unique = f.identifiant_unique
            LEFT JOIN revision_acteur r ON r.identifiant_unique = f.identifiant_unique
            WHERE (a.identifiant_unique IS NOT NULL AND (a.source IS DISTINCT FROM f.source OR NOT %s))
               OR (a.identifiant_unique IS NULL AND r.identifiant_unique IS NOT NULL)
            ORDER BY f.line""",
            ([int(v) for v in df.index], df["identifiant_unique"].tolist(), df["source"].tolist(),
             bool(update_existing)))
        found = cur.fetchall()
    errors = []
    for line, uid, source, is_acteur in found:
        if not is_acteur:
            reason = "is the id of a parent (a revision_acteur row with no acteur): a file cannot write a parent"
        elif source != df.at[line, "source"]:
            reason = f"belongs to an actor of source {source!r}"
        else:
            reason = "is an existing actor: pass --update-existing to update it"
        errors.append(RowError(int(line), "identifiant_unique", reason, uid))
    return errors


def upsert_acteurs(conn, df: pd.DataFrame, update_existing: bool = False) -> dict:
    """Upsert validated rows into acteur (and ground_truth when the frame has entity_id), in the caller's
    transaction. A row whose values did not change is left alone (modifie_le kept). Refuses (ValueError) a
    frame that writes a parent, another source's actor, or an existing actor without `update_existing`."""
    with conn.cursor() as cur:
        # a first load (dedupe-csv's scratch database, a new install): nothing to compare with, the rows
        # go in by one COPY (500,000 rows: 5 s instead of 13); the lock (taken only then, and the table
        # looked at again under it) keeps the table empty meanwhile
        cur.execute("SELECT NOT EXISTS (SELECT 1 FROM acteur)")
        empty, no_parents = cur.fetchone()[0], False
        if empty:
            cur.execute("LOCK TABLE acteur IN SHARE ROW EXCLUSIVE MODE")
            cur.execute("SELECT NOT EXISTS (SELECT 1 FROM acteur), NOT EXISTS (SELECT 1 FROM revision_acteur)")
            empty, no_parents = cur.fetchone()
    # an empty database holds no id a row could collide with (the check: 2.7 s at 500,000 rows)
    refused = [] if empty and no_parents else identity_errors(conn, df, update_existing)
    if refused:
        raise ValueError(f"{len(refused)} row(s) may not be written:\n" + format_errors(refused))
    if empty:
        with _foreign_keys_checked_once(conn, "acteur"), _indexes_built_after(conn, "acteur"):
            copy_dataframe(conn, "acteur", df[ACTEUR_COLUMNS].reset_index(drop=True))
        counts = {"inserted": len(df), "updated": 0, "unchanged": 0}
    else:
        counts = _upsert_rows(conn, df)
    if "entity_id" in df and (df["entity_id"] != "").any():
        _upsert_truth(conn, df, counts)
    return counts


@contextmanager
def _foreign_keys_checked_once(conn, table: str):
    """The table's foreign keys dropped for the block and added back after it, in the caller's transaction:
    adding a key checks every row in one join, where a deferred key checks each row at commit (500,000
    rows: 2.7 s). A row that breaks a key fails the re-adding, so nothing is committed without its check."""
    with conn.cursor() as cur:
        cur.execute("""SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                       WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname""", (table,))
        keys = cur.fetchall()
        for name, _ in keys:
            cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    yield
    with conn.cursor() as cur:
        for name, definition in keys:  # the definition as PostgreSQL prints it (pg_get_constraintdef)
            cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                        + sql.SQL(definition))


@contextmanager
def _indexes_built_after(conn, table: str):
    """The table's indexes other than its constraints' dropped for the block and built again after it
    (PostgreSQL's "Populating a Database": one sort per index instead of 8 b-tree insertions per row),
    in the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute("""SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
                       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE i.indrelid = %s::regclass
                         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                       ORDER BY c.relname""", (table,))
        indexes = cur.fetchall()
        for schema, name, _ in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    yield
    with conn.cursor() as cur:
        for _, _, definition in indexes:  # CREATE INDEX … as PostgreSQL prints it (pg_get_indexdef)
            cur.execute(sql.SQL(definition))


def _upsert_rows(conn, df: pd.DataFrame) -> dict:
    """The rows inserted, or updated where a value changed (ON CONFLICT), through a temp table."""
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pg_temp.load_acteur")
        cur.execute("CREATE TEMP TABLE load_acteur (LIKE acteur INCLUDING DEFAULTS) ON COMMIT DROP")
    copy_dataframe(conn, "load_acteur", df[ACTEUR_COLUMNS].reset_index(drop=True))
    cols = sql.SQL(", ").join(map(sql.Identifier, ACTEUR_COLUMNS))
    data_cols = [c for c in ACTEUR_COLUMNS if c != "identifiant_unique"]
    query = sql.SQL("""
        WITH up AS (
            INSERT INTO acteur ({cols}) SELECT {cols} FROM load_acteur
            ON CONFLICT (identifiant_unique) DO UPDATE SET {sets}, modifie_le = now()
            WHERE ({old}) IS DISTINCT FROM ({new})
            RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up""").format(
        cols=cols,
        sets=sql.SQL(", ").join(sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in data_cols),
        old=sql.SQL(", ").join(sql.SQL("acteur.{}").format(sql.Identifier(c)) for c in data_cols),
        new=sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in data_cols))
    with conn.cursor() as cur:
        cur.execute(query)
        inserted, updated = cur.fetchone()
    return {"inserted": inserted, "updated": updated, "unchanged": len(df) - inserted - updated}


def _upsert_truth(conn, df: pd.DataFrame, counts: dict) -> None:
    """The frame's ground truth (entity_id, kind) into ground_truth; counts["ground_truth"] = rows written."""
    truth = df.loc[df["entity_id"] != "", ["identifiant_unique", "entity_id"]].copy()
    truth["kind"] = df.get("kind", "")
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pg_temp.load_ground_truth")
        cur.execute("CREATE TEMP TABLE load_ground_truth (LIKE ground_truth INCLUDING DEFAULTS) ON COMMIT DROP")
        copy_dataframe(conn, "load_ground_truth", truth.reset_index(drop=True))
        cur.execute("""INSERT INTO ground_truth (identifiant_unique, entity_id, kind)
                       SELECT identifiant_unique, entity_id, kind FROM load_ground_truth
                       ON CONFLICT (identifiant_unique) DO UPDATE
                       SET entity_id = excluded.entity_id, kind = excluded.kind""")
        counts["ground_truth"] = cur.rowcount


def load_acteurs(conn, df: pd.DataFrame, update_existing: bool = False) -> int:
    """Upsert validated rows (from read_acteur_csv) into acteur; returns the rows inserted or changed."""
    counts = upsert_acteurs(conn, df, update_existing)
    return counts["inserted"] + counts["updated"]


def format_errors(errors: list[RowError], limit: int = SHOWN_ERRORS) -> str:
    lines = [str(e) for e in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more errors ({len(errors)} in all)")
    return "\n".join(lines)


def check_input_file(path: str | Path) -> Path:
    """The input file exists and can be read, else InputError (one line)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    return path


def file_errors(path, errors: list[RowError]) -> str:
    """'IN.csv: line 3: reason' lines of the fatal errors (what makes the file unusable)."""
    return "\n".join(f"{path}: {e}" for e in errors if e.fatal)


def run(args) -> int:
    try:
        path = check_input_file(args.file)
        table = read_table(path, parse_sep(getattr(args, "sep", None)), KNOWN_COLUMNS)
        if table.fatal:
            raise InputError(file_errors(path, table.errors) + "\nnothing loaded")
        print(f"load-csv: {path}: read as {table.describe()}", file=sys.stderr)
        return _load_file(path, table, args.skip_invalid, args.update_existing)
    except InputError as exc:
        print(f"load-csv: {exc}", file=sys.stderr)
        return exc.exit_code
    except psycopg2.errors.UndefinedTable as exc:
        print(f"load-csv: {exc.pgerror.strip()}; run `data-platform migrate` first", file=sys.stderr)
        return 1


def _load_file(path: Path, table: CsvTable, skip_invalid: bool, update_existing: bool = False) -> int:
    from data_platform.db.connection import connect

    with connect() as conn:
        df, errors = acteur_frame(table, conn=conn)
        if any(e.fatal for e in errors):
            raise InputError(file_errors(path, errors) + "\nnothing loaded")
        refused = identity_errors(conn, df, update_existing)
        if refused:
            errors = sorted(errors + refused, key=lambda e: (e.line, _field_order(e.field)))
            df = df.loc[~df.index.isin({e.line for e in refused})]
        invalid_rows = len({e.line for e in errors})
        if errors:
            print(f"load-csv: {path}: {invalid_rows} invalid row(s), {len(errors)} error(s)", file=sys.stderr)
            print(format_errors(errors), file=sys.stderr)
        if errors and not skip_invalid:
            print("load-csv: nothing loaded (use --skip-invalid to load the valid rows)", file=sys.stderr)
            return 1
        counts = upsert_acteurs(conn, df, update_existing)
    print(json.dumps({"file": str(path), "read_as": table.describe(), "valid_rows": len(df),
                      "skipped_rows": invalid_rows, "errors": len(errors), **counts}, indent=2, ensure_ascii=False))
    return 0
