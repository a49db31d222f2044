"""Fast loading of big DataFrames: CSV text streamed to COPY, indexes rebuilt once afterwards.

PostgreSQL's own advice for populating a database ("Populating a Database" in its manual): load an
empty table without its indexes and foreign keys, then create them, which sorts once instead of
updating every index row by row and checks the foreign keys with one join. Everything happens in the
caller's transaction: a failure rolls the table, its data and its indexes back together.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from psycopg2 import sql

CHUNK_ROWS = 25_000


def _column_text(values: pd.Series, null: str) -> np.ndarray:
    """Column as strings for csv.writer; floats with 6 decimals (~0.1 m), NaN/None as `null`."""
    if pd.api.types.is_float_dtype(values.dtype):
        v = values.to_numpy()
        out = np.array([f"{x:.6f}" for x in v], dtype=object)
        out[np.isnan(v)] = null
        return out
    out = values.to_numpy(dtype=object, na_value=None)
    if null is not None:
        out = np.where(pd.isna(out), null, out)
    return out


def csv_chunks(df: pd.DataFrame, null: str = "\\N", header: bool = False) -> Iterator[str]:
    """CSV text of `df` in chunks of CHUNK_ROWS rows (NULL written as `null`)."""
    cols = [_column_text(df[c], null) for c in df.columns]
    if header:
        yield ",".join(df.columns) + "\n"
    for start in range(0, len(df), CHUNK_ROWS):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(zip(*(c[start:start + CHUNK_ROWS] for c in cols)))
        yield buf.getvalue()


class ChunkReader(io.TextIOBase):
    """A file-like object over an iterator of strings, for COPY FROM STDIN: the rows are produced while
    the server is already inserting the previous ones."""

    def __init__(self, chunks: Iterator[str]):
        self._chunks = chunks
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


def copy_dataframe(conn, table: str, df: pd.DataFrame) -> int:
    """COPY `df` (columns = table columns) into `table`, streaming; returns the row count."""
    query = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, df.columns)))
    with conn.cursor() as cur:
        cur.copy_expert(query.as_string(conn), ChunkReader(csv_chunks(df)), size=1 << 20)
        return cur.rowcount


@contextmanager
def indexes_rebuilt_after(conn, table: str):
    """Drop the indexes, primary/unique keys and foreign keys of an *empty* `table`, recreate them
    identically (same names and definitions) when the block ends."""
    with conn.cursor() as cur:
        cur.execute("select count(*) from pg_constraint where confrelid = %s::regclass", (table,))
        referenced = cur.fetchone()[0] > 0
        cur.execute("""
            select conname, contype, pg_get_constraintdef(oid) from pg_constraint
            where conrelid = %s::regclass and contype in ('p', 'u', 'f') order by contype desc, conname""",
                    (table,))
        constraints = [r for r in cur.fetchall() if not (referenced and r[1] in ("p", "u"))]
        cur.execute("""
            select i.indexname, i.indexdef from pg_indexes i
            where i.schemaname = current_schema() and i.tablename = %s
              and not exists (select 1 from pg_constraint c where c.conindid = (quote_ident(i.schemaname) || '.'
                              || quote_ident(i.indexname))::regclass and c.contype in ('p', 'u', 'x'))
            order by i.indexname""", (table,))
        indexes = cur.fetchall()
        tbl = sql.Identifier(table)
        for name, _kind, _def in sorted(constraints, key=lambda c: c[1] != "f"):  # foreign keys first
            cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(tbl, sql.Identifier(name)))
        for name, _def in indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    with conn.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for name, kind, definition in sorted(constraints, key=lambda c: c[1] == "f"):  # keys first
            cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(tbl, sql.Identifier(name))
                        + sql.SQL(definition))
        for _name, definition in indexes:
            cur.execute(definition)
