"""Shared helpers of the dbt tests (tests/dbt/, tests/suggestions/test_write.py, tests/test_geo.py): crafted rows in
plain SQL, one dbt invocation per scenario, assertions on the relations of schema `dbt`. No test here."""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile

import psycopg2
import psycopg2.extras

from data_platform.dbt_runner import run_dbt
from data_platform.schema import ACTEUR_COLUMNS, REVISION_COLUMNS

# A private target path: colleagues run dbt in the same working tree at the same time.
_TARGET = tempfile.mkdtemp(prefix="dp_dbt_test_target_")
atexit.register(shutil.rmtree, _TARGET, ignore_errors=True)


def reset(conn) -> None:
    """Empty the actor/run tables and drop the dbt schema."""
    with conn.cursor() as cur:
        cur.execute("TRUNCATE cluster_pair, cluster_membership, cluster_run, revision_acteur, acteur "
                    "RESTART IDENTITY CASCADE")
        cur.execute("DROP SCHEMA IF EXISTS dbt CASCADE")
    conn.commit()


def connect(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = False
    return conn


def _insert(conn, table: str, allowed: list[str], rows: list[dict]) -> None:
    with conn.cursor() as cur:
        for row in rows:
            unknown = set(row) - set(allowed)
            assert not unknown, unknown
            cols = list(row)
            cur.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                [row[c] for c in cols])
    conn.commit()


def insert_acteurs(conn, rows: list[dict]) -> None:
    """Rows of public.acteur; missing text columns take the database defaults ('')."""
    defaults = {"source": "refashion", "acteur_type": "commerce"}
    full = []
    for r in rows:
        row = {**defaults, **r}
        row.setdefault("identifiant_externe", row["identifiant_unique"].split("_", 1)[-1])
        full.append(row)
    _insert(conn, "acteur", ACTEUR_COLUMNS, full)


def insert_revisions(conn, rows: list[dict]) -> None:
    """Rows of public.revision_acteur (parents first: parent_id is a foreign key)."""
    _insert(conn, "revision_acteur", REVISION_COLUMNS, rows)


def insert_run(conn, run_id: str, params: dict) -> None:
    """A run as pipeline.start_run stores it: every parameter, defaults filled in."""
    from data_platform.cluster.params import validate_params

    with conn.cursor() as cur:
        cur.execute("INSERT INTO cluster_run (run_id, params) VALUES (%s, %s::jsonb)",
                    (run_id, json.dumps(validate_params(params))))
    conn.commit()


def insert_membership(conn, run_id: str, clusters: dict[str, list[str]]) -> None:
    with conn.cursor() as cur:
        for cluster_id, members in clusters.items():
            for ident in members:
                cur.execute("INSERT INTO cluster_membership (run_id, cluster_id, identifiant_unique, departement) "
                            "VALUES (%s, %s, %s, '')", (run_id, cluster_id, ident))
    conn.commit()


def dbt(args: list[str], run_id: str | None = None, expect_success: bool = True):
    """One dbt invocation with the platform's profile; fails the test with dbt's output when it fails."""
    vars_ = {"run_id": run_id} if run_id is not None else None
    proc = run_dbt([*args, "--target-path", _TARGET], vars=vars_, check=False, capture=True)
    if expect_success:
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc


def rows(conn, query: str, params=None) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(query, params)
        result = [dict(r) for r in cur.fetchall()]
    conn.commit()
    return result


def by_id(conn, relation: str, key: str = "identifiant_unique") -> dict[str, dict]:
    return {r[key]: r for r in rows(conn, f"SELECT * FROM {relation}")}
