"""Fast loading of empty tables: indexes rebuilt once after the COPY (db.connection.copy_dataframe).

PostgreSQL's own advice for populating a database ("Populating a Database" in its manual): load an
empty table without its indexes and foreign keys, then create them, which sorts once instead of
updating every index row by row and checks the foreign keys with one join. Everything happens in the
caller's transaction: a failure rolls the table, its data and its indexes back together.
"""
from __future__ import annotations

from contextlib import contextmanager

from psycopg2 import sql


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
