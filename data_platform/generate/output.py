"""Where a generated population goes: a CSV file, or the database (COPY, one transaction)."""
from __future__ import annotations

from psycopg2 import sql

from data_platform.acteur_csv import GROUND_TRUTH_COLUMNS
from data_platform.db.connection import copy_dataframe, frame_csv
from data_platform.generate.bulk_load import indexes_rebuilt_after
from data_platform.generate.population import Population
from data_platform.schema import ACTEUR_COLUMNS, REVISION_COLUMNS

# coordinates with 6 decimals (~0.1 m), in the CSV and in the database: the same seed gives the same bytes
FLOAT_FORMAT = "%.6f"

# tables emptied before a (non --append) load: the actors and everything that points at them
REPLACED_TABLES = ["suggestion_decision", "suggestion", "suggestion_cohorte", "cluster_pair", "cluster_membership",
                   "cluster_run", "ground_truth", "revision_acteur", "acteur"]


def write_csv(pop: Population, path: str) -> None:
    """The acteur columns plus the ground truth (`entity_id`, `kind`); unknown coordinates are empty."""
    df = pop.acteurs[ACTEUR_COLUMNS + GROUND_TRUTH_COLUMNS]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.writelines(frame_csv(df, null="", header=True, float_format=FLOAT_FORMAT))


def load_database(conn, pop: Population, append: bool = False) -> dict:
    """COPY actors, revisions and ground truth; replaces the actors unless `append`. The caller commits.

    Replacing empties the actor tables and everything that points at them (REPLACED_TABLES), then
    loads the empty tables with their indexes rebuilt afterwards (bulk_load.indexes_rebuilt_after).
    """
    acteurs = pop.acteurs[ACTEUR_COLUMNS]
    revisions = pop.revisions[REVISION_COLUMNS]
    with conn.cursor() as cur:
        if append:
            _check_no_clash(cur, pop.ground_truth["identifiant_unique"].tolist())
        else:
            cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                sql.SQL(", ").join(map(sql.Identifier, REPLACED_TABLES))))
    if append:
        return {"acteur": copy_dataframe(conn, "acteur", acteurs, float_format=FLOAT_FORMAT),
                "revision_acteur": copy_dataframe(conn, "revision_acteur", revisions, float_format=FLOAT_FORMAT),
                "ground_truth": copy_dataframe(conn, "ground_truth", pop.ground_truth)}
    counts = {}
    with indexes_rebuilt_after(conn, "acteur"):
        counts["acteur"] = copy_dataframe(conn, "acteur", acteurs, float_format=FLOAT_FORMAT)
    counts["revision_acteur"] = copy_dataframe(conn, "revision_acteur", revisions, float_format=FLOAT_FORMAT)
    with indexes_rebuilt_after(conn, "ground_truth"):
        counts["ground_truth"] = copy_dataframe(conn, "ground_truth", pop.ground_truth)
    with conn.cursor() as cur:
        cur.execute("ANALYZE acteur; ANALYZE revision_acteur")  # read right after by the pipeline
    return counts


def _check_no_clash(cur, ids: list[str]) -> None:
    cur.execute("select identifiant_unique from acteur where identifiant_unique = any(%s) union all "
                "select identifiant_unique from revision_acteur where identifiant_unique = any(%s) limit 3",
                (ids, ids))
    clash = [r[0] for r in cur.fetchall()]
    if clash:
        raise ValueError(f"--append: actors {clash} already exist; was this seed already loaded? "
                         "Use another --seed, or load without --append to replace the actors.")
