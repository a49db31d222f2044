"""Connections and bulk I/O. Everything moves in bulk: COPY in, COPY out, set-based SQL."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

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


COPY_CHUNK_ROWS = 5000


def _csv_chunks(rows: Iterable[Sequence], chunk_rows: int) -> Iterator[io.StringIO]:
    """CSV buffers of at most `chunk_rows` rows: memory stays flat however many rows stream through."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    n = 0
    for row in rows:
        writer.writerow(["\\N" if v is None else v for v in row])
        n += 1
        if n == chunk_rows:
            buf.seek(0)
            yield buf
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            n = 0
    if n:
        buf.seek(0)
        yield buf


def copy_rows(conn, table: str, columns: Sequence[str], rows: Iterable[Sequence], schema: str | None = None,
              chunk_rows: int = COPY_CHUNK_ROWS) -> int:
    """COPY rows (tuples; None is NULL) into `schema.table(columns)`, streamed in chunks within the
    caller's transaction. Returns the row count."""
    total = 0
    for buf in _csv_chunks(rows, chunk_rows):
        total += copy_from_csv(conn, table, columns, buf, schema=schema)
    return total


def copy_from_csv(conn, table: str, columns: Sequence[str], fileobj, schema: str | None = None,
                  header: bool = False) -> int:
    """COPY a CSV stream (NULL written as \\N) into a table; identifiers are quoted, never formatted."""
    target = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    query = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N', HEADER {})").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL("true" if header else "false"))
    with conn.cursor() as cur:
        cur.copy_expert(query.as_string(conn), fileobj)
        return cur.rowcount


def copy_dataframe(conn, table: str, df, schema: str | None = None) -> int:
    """COPY a pandas DataFrame (column names = table columns; NaN/None become NULL)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="\\N")
    buf.seek(0)
    return copy_from_csv(conn, table, list(df.columns), buf, schema=schema)


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
