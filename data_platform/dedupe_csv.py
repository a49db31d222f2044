"""`data-platform dedupe-csv IN.csv --out OUT.csv`: the DAG's normalization and clustering on a CSV.

The CSV (acteur columns of SPEC §2.1, absent ones empty) is loaded into a throw-away database on the
same server, run through the DAG's stage sequence (`data_platform.pipeline.run_all`, as a dry run: no
suggestion is written) and every input row is written out with its cluster id ('' when in no cluster).
The stages run in a child process whose DATABASE_URL is the throw-away database: this process keeps
its own.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from data_platform.db.connection import connect, fetch_df
from data_platform.db.scratch import slot_scratch_database


def _register_codes(conn, df) -> None:
    """Outsiders' files carry their own source and type codes: add the unknown ones (bulk, bound values)."""
    with conn.cursor() as cur:
        for table, column in (("source", "source"), ("acteur_type", "acteur_type")):
            if column not in df.columns:
                continue
            codes = sorted({c for c in df[column].astype(str) if c})
            cur.execute(f"insert into {table} (code, libelle) select c, c from unnest(%s::text[]) as c "
                        "on conflict (code) do nothing", (codes,))


def _acteur_columns_only(input_path: str, tmpdir: str):
    """Outsiders' files may carry extra columns: keep the acteur ones (line numbers unchanged)."""
    import pandas as pd

    from data_platform.acteur_csv import ACTEUR_COLUMNS

    raw = pd.read_csv(input_path, dtype=str, keep_default_na=False)
    extra = [c for c in raw.columns if c not in ACTEUR_COLUMNS]
    path = os.path.join(tmpdir, "acteurs.csv")
    kept = raw[[c for c in raw.columns if c in ACTEUR_COLUMNS]]
    if "source" not in kept.columns:  # one file, one source
        kept = kept.assign(source=SINGLE_SOURCE)
    written = kept
    if "identifiant_externe" not in kept.columns and "identifiant_unique" in kept.columns:
        # an outsider's file names its rows by its own ids: they stand as the external ids in the throw-away
        # database (where load-csv derives identifiant_unique from them), and the output gives them back
        kept = kept.assign(identifiant_externe=kept["identifiant_unique"])
        written = kept.drop(columns=["identifiant_unique"])
    written.to_csv(path, index=False)
    return path, kept, extra


def _given_ids(kept) -> dict:
    """{identifiant_unique in the scratch database: the id as the file gave it} (identical unless the
    file had identifiant_unique without identifiant_externe)."""
    from data_platform.schema import derive_identifiant_unique

    if "identifiant_unique" not in kept.columns:
        return {}
    derived = derive_identifiant_unique(kept["source"], kept["identifiant_externe"])
    return {d: g for d, g in zip(derived, kept["identifiant_unique"]) if g and d != g}


RUN_ID = "dedupe_csv"
SINGLE_SOURCE = "csv"  # the source of a file without a source column
# a file's empty name is missing information (the other fields can still match), not an invalid row
MAY_BE_EMPTY = ("nom",)


def single_source(df) -> bool:
    """The file has one source (or none): the intra-source rule would forbid every pair."""
    return "source" not in df.columns or df["source"].astype(str).nunique() <= 1


def _run_stages(url: str, params: dict, verbose: bool = False) -> None:
    """`pipeline.run_all` on the database `url`, in a child process given that DATABASE_URL; without
    `verbose`, a progress line per stage and one summary line per dbt call instead of dbt's log."""
    from data_platform.dbt_runner import QUIET_ENV
    from data_platform.progress import PROGRESS_ENV

    env = {**os.environ, "DATABASE_URL": url}
    if not verbose:
        env.update({PROGRESS_ENV: "1", QUIET_ENV: "1"})
    subprocess.run([sys.executable, "-m", "data_platform.dedupe_csv", "--run-all", RUN_ID, json.dumps(params)],
                   check=True, env=env)


def read_csv_frame(input_path: str, tmpdir: str, conn=None):
    """(valid rows, errors, the acteur columns as read, ignored columns) of an outsider's CSV, read as
    dedupe-csv reads it (extra columns dropped, a missing source filled, an empty name allowed);
    with `conn` the file's unknown codes are added to that database, without it the file's own
    source and type codes are the known ones."""
    from data_platform.load_csv import read_acteur_csv

    path, kept, ignored = _acteur_columns_only(input_path, tmpdir)
    if conn is not None:
        _register_codes(conn, kept)
    codes = {} if conn is not None else {
        "sources": set(kept["source"].astype(str)),
        "acteur_types": set(kept["acteur_type"].astype(str)) if "acteur_type" in kept.columns else set()}
    df, errors = read_acteur_csv(path, conn=conn, may_be_empty=MAY_BE_EMPTY, **codes)
    return df, errors, kept, ignored


def dedupe(input_path: str, output_path: str, threshold: float | None = None, model_path: str | None = None,
           allow_same_source: bool | None = None, verbose: bool = False) -> dict:
    """allow_same_source: None = on when the file has a single source (or no source column).
    verbose: dbt's whole log instead of the progress lines."""
    import tempfile

    from data_platform import progress
    from data_platform.load_csv import format_errors, load_acteurs

    if model_path:
        from data_platform.cluster.model import model_from_json

        model_from_json(json.loads(Path(model_path).read_text()))  # refuse a wrong file before any work
    params = {"dry_run": True, **({"threshold": threshold} if threshold is not None else {})}
    started = time.perf_counter()
    with progress.shown(not verbose), tempfile.TemporaryDirectory() as tmpdir, \
            slot_scratch_database("dedupe") as url:
        progress.done("scratch database", time.perf_counter() - started)
        with connect(url) as conn, progress.stage("read and load the CSV") as step:
            df, errors, kept, ignored = read_csv_frame(input_path, tmpdir, conn=conn)
            if ignored:
                print(f"ignored columns: {', '.join(ignored)}", file=sys.stderr)
            if errors:
                raise SystemExit(f"{input_path}: {len(errors)} invalid rows, nothing clustered\n"
                                 + format_errors(errors))
            load_acteurs(conn, df)
            step["label"] = f"read and load the CSV: {len(df):,} rows"
            if model_path:  # the saved model scores the run as any saved model does (`model=<id>`: no fit)
                from data_platform.cluster.model_store import import_model

                params["model"] = str(import_model(conn, model_path))
        if allow_same_source is None:
            allow_same_source = single_source(kept)
        params["allow_same_source"] = bool(allow_same_source)
        _run_stages(url, params, verbose)
        with connect(url) as conn:
            members = fetch_df(conn, "select identifiant_unique, cluster_id from cluster_membership "
                                     "where run_id = %s", (RUN_ID,))
    cluster_of = dict(zip(members["identifiant_unique"], members["cluster_id"]))
    with open(output_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["identifiant_unique", "cluster_id"])
        given = _given_ids(kept)
        for ident in df["identifiant_unique"]:
            writer.writerow([given.get(ident, ident), cluster_of.get(ident, "")])
    return {"rows": len(df), "clustered_rows": len(cluster_of),
            "clusters": len(set(cluster_of.values())), "allow_same_source": params["allow_same_source"],
            "model": model_path or "", "seconds": round(time.perf_counter() - started, 1),
            "out": output_path}


def run(args) -> int:
    print(json.dumps(dedupe(args.input, args.out, args.threshold, getattr(args, "model", None),
                            getattr(args, "allow_same_source", None), getattr(args, "verbose", False)), indent=2))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--run-all"]:  # the child of _run_stages
    from data_platform.pipeline import run_all

    run_all(sys.argv[2], json.loads(sys.argv[3]))
