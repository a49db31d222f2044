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

from data_platform.db.connection import connect, fetch_df
from data_platform.db.scratch import scratch_database


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
    kept.to_csv(path, index=False)
    return path, kept, extra


RUN_ID = "dedupe_csv"


def _run_stages(url: str, params: dict) -> None:
    """`pipeline.run_all` on the database `url`, in a child process given that DATABASE_URL."""
    subprocess.run([sys.executable, "-m", "data_platform.dedupe_csv", "--run-all", RUN_ID, json.dumps(params)],
                   check=True, env={**os.environ, "DATABASE_URL": url})


def dedupe(input_path: str, output_path: str, threshold: float | None = None) -> dict:
    import tempfile

    from data_platform.load_csv import format_errors, load_acteurs, read_acteur_csv

    params = {"dry_run": True, **({"threshold": threshold} if threshold is not None else {})}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir, scratch_database("dedupe") as url:
        path, kept, ignored = _acteur_columns_only(input_path, tmpdir)
        if ignored:
            print(f"ignored columns: {', '.join(ignored)}", file=sys.stderr)
        with connect(url) as conn:
            _register_codes(conn, kept)
            df, errors = read_acteur_csv(path, conn=conn)
            if errors:
                raise SystemExit(f"{input_path}: {len(errors)} invalid rows, nothing clustered\n"
                                 + format_errors(errors))
            load_acteurs(conn, df)
        _run_stages(url, params)
        with connect(url) as conn:
            members = fetch_df(conn, "select identifiant_unique, cluster_id from cluster_membership "
                                     "where run_id = %s", (RUN_ID,))
    cluster_of = dict(zip(members["identifiant_unique"], members["cluster_id"]))
    with open(output_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["identifiant_unique", "cluster_id"])
        for ident in df["identifiant_unique"]:
            writer.writerow([ident, cluster_of.get(ident, "")])
    return {"rows": len(df), "clustered_rows": len(cluster_of),
            "clusters": len(set(cluster_of.values())), "seconds": round(time.perf_counter() - started, 1),
            "out": output_path}


def run(args) -> int:
    print(json.dumps(dedupe(args.input, args.out, args.threshold), indent=2))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--run-all"]:  # the child of _run_stages
    from data_platform.pipeline import run_all

    run_all(sys.argv[2], json.loads(sys.argv[3]))
