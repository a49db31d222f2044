"""Connections and bulk I/O. Everything moves in bulk: COPY in, COPY out, set-based SQL."""
from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from data_platform import settings


@contextmanager
def connect(url: str | None = None, autocommit: bool = False) -> Iterator[psycopg2.extensions.connection]:
    """A connection that commits on success and rolls back on error."""
    conn = psycopg2.connect(url or settings.database_url())
    conn.autocommit = autocommit
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


def ensure_database(url: str) -> None:
    """Create the database of `url` when it does not exist (connecting to `postgres`)."""
    name = settings.url_parts(url)["dbname"]
    admin_url = settings.with_database(url, "postgres")
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def drop_database(url: str) -> None:
    name = settings.url_parts(url)["dbname"]
    conn = psycopg2.connect(settings.with_database(url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    finally:
        conn.close()


def execute(conn, query, params=None) -> None:
    with conn.cursor() as cur:
        cur.execute(query, params)


# -- COPY in: the one way rows and frames become COPY input --------------------------------------------
# Rows (tuples) or DataFrame columns -> CSV text (NULL written as \N), produced in chunks while the server
# is already inserting the previous ones (ChunkReader), within the caller's transaction.

NULL = "\\N"
COPY_CHUNK_ROWS = 25_000


def _csv_text(rows: Iterable[Sequence], chunk_rows: int) -> Iterator[str]:
    """CSV text of rows whose NULLs are already written as the NULL marker, CHUNK_ROWS rows at a time."""
    rows = iter(rows)
    while True:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(itertools.islice(rows, chunk_rows))
        text = buf.getvalue()
        if not text:
            return
        yield text


def rows_csv(rows: Iterable[Sequence], null: str = NULL, chunk_rows: int = COPY_CHUNK_ROWS) -> Iterator[str]:
    """CSV text of tuples (None written as `null`)."""
    return _csv_text(([null if v is None else v for v in row] for row in rows), chunk_rows)


def _column_text(values, null: str, float_format: str | None) -> np.ndarray:
    """A DataFrame column as values for csv.writer: NaN/None as `null`; floats in their shortest exact form
    (as DataFrame.to_csv writes them), or with `float_format` ('%.6f')."""
    import pandas as pd

    if pd.api.types.is_float_dtype(values.dtype):
        v = values.to_numpy()
        out = (np.char.mod(float_format, v) if float_format else v.astype(str)).astype(object)
        out[np.isnan(v)] = null
        return out
    out = values.to_numpy(dtype=object, na_value=None)
    return np.where(pd.isna(out), null, out)


def frame_csv(df, null: str = NULL, header: bool = False, float_format: str | None = None,
              chunk_rows: int = COPY_CHUNK_ROWS) -> Iterator[str]:
    """CSV text of a pandas DataFrame (NaN/None written as `null`), optionally after a header line."""
    if header:
        yield ",".join(df.columns) + "\n"
    cols = [_column_text(df[c], null, float_format) for c in df.columns]
    yield from _csv_text(zip(*cols), chunk_rows)


class ChunkReader(io.TextIOBase):
    """A file-like object over an iterator of strings, for COPY FROM STDIN."""

    def __init__(self, chunks: Iterable[str]):
        self._chunks = iter(chunks)
        self._pending = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> str:
        while size < 0 or len(self._pending) < size:
            nxt = next(self._chunks, None)
            if nxt is None:
                break
            self._pending += nxt
        if size < 0:
            out, self._pending = self._pending, ""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out

    readline = read


def copy_from_csv(conn, table: str, columns: Sequence[str], fileobj, schema: str | None = None,
                  header: bool = False) -> int:
    """COPY a CSV stream (NULL written as \\N) into a table; identifiers are quoted, never formatted."""
    target = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    query = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N', HEADER {})").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL("true" if header else "false"))
    with conn.cursor() as cur:
        cur.copy_expert(query.as_string(conn), fileobj, size=1 << 20)
        return cur.rowcount


def copy_rows(conn, table: str, columns: Sequence[str], rows: Iterable[Sequence], schema: str | None = None) -> int:
    """COPY rows (tuples; None is NULL) into `schema.table(columns)`, streamed; returns the row count."""
    return copy_from_csv(conn, table, columns, ChunkReader(rows_csv(rows)), schema=schema)


def copy_dataframe(conn, table: str, df, schema: str | None = None, float_format: str | None = None) -> int:
    """COPY a pandas DataFrame (column names = table columns; NaN/None become NULL), streamed."""
    return copy_from_csv(conn, table, list(df.columns), ChunkReader(frame_csv(df, float_format=float_format)),
                         schema=schema)


def fetch_df(conn, query, params=None):
    """Run a query and return a pandas DataFrame, streaming through COPY for big results."""
    import pandas as pd

    with conn.cursor() as cur:
        text = cur.mogrify(query, params).decode() if params is not None else (
            query.as_string(conn) if isinstance(query, sql.Composable) else query)
        buf = io.StringIO()
        cur.copy_expert(f"COPY ({text}) TO STDOUT WITH (FORMAT csv, HEADER true)", buf)
    buf.seek(0)
    return pd.read_csv(buf, dtype=str, keep_default_na=False, na_values=[])
