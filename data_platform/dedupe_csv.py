"""`data-platform dedupe-csv IN.csv --out OUT.csv`: the DAG's normalization and clustering on a CSV.

The CSV (acteur columns of SPEC §2.1, absent ones empty) is loaded into a throw-away database on the
same server, run through the DAG's stages up to the final clusters (`data_platform.pipeline.run_all`,
until="clusters": selection, model, partitions, national channel; no parents, changes, suggestions nor
report, which the output does not use) and every input row is written out with its cluster id ('' when
in no cluster).
The stages run in a child process whose DATABASE_URL is the throw-away database: this process keeps
its own. The child starts first and imports the clustering code while this process reads and loads the
CSV (StagesChild).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from data_platform.csv_input import CsvTable, InputError, parse_sep, read_table
from data_platform.csv_output import write_csv
from data_platform.db.connection import connect, fetch_df
from data_platform.db.scratch import slot_scratch_database
from data_platform.memory import release_memory, without_gc


def _register_codes(conn, df) -> None:
    """Outsiders' files carry their own source and type codes: add the unknown ones (bulk, bound values)."""
    with conn.cursor() as cur:
        for table, column in (("source", "source"), ("acteur_type", "acteur_type")):
            if column not in df.columns:
                continue
            codes = sorted({c for c in df[column].astype(str) if c})
            cur.execute(f"insert into {table} (code, libelle) select c, c from unnest(%s::text[]) as c "
                        "on conflict (code) do nothing", (codes,))


def _acteur_columns_only(df):
    """Outsiders' files may carry extra columns: keep the acteur ones (line numbers unchanged).
    (the acteur columns as read — a missing source filled —, the frame to validate, the ignored columns)"""
    from data_platform.acteur_csv import ACTEUR_COLUMNS

    extra = [c for c in df.columns if c not in ACTEUR_COLUMNS]
    kept = df[[c for c in df.columns if c in ACTEUR_COLUMNS]]
    if "source" not in kept.columns:  # one file, one source
        kept = kept.assign(source=SINGLE_SOURCE)
    written = kept
    if "identifiant_externe" not in kept.columns and "identifiant_unique" in kept.columns:
        # an outsider's file names its rows by its own ids: they stand as the external ids in the throw-away
        # database (where load-csv derives identifiant_unique from them), and the output gives them back
        kept = kept.assign(identifiant_externe=kept["identifiant_unique"])
        written = kept.drop(columns=["identifiant_unique"])
    return kept, written.copy(), extra


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


class StagesChild:
    """`pipeline.run_all` in a child process, started before the CSV is read so that its imports (the
    clustering code: about 1 s) overlap the read and the load; it waits for `run(url, params)`, which
    hands it the throw-away database's URL (its DATABASE_URL) and the parameters on stdin, then waits for
    it. Without `verbose`: a progress line per stage and one summary line per dbt call instead of dbt's
    log. `close()` (also on exit of a `with` block) ends a child that was never run."""

    def __init__(self, verbose: bool = False):
        from data_platform.cluster.partition import PAIRS_ENV
        from data_platform.dbt_runner import QUIET_ENV
        from data_platform.progress import PROGRESS_ENV

        env = {**os.environ, PAIRS_ENV: "0"}  # the output needs the memberships alone
        if not verbose:
            env.update({PROGRESS_ENV: "1", QUIET_ENV: "1"})
        self.proc = subprocess.Popen([sys.executable, "-m", "data_platform.dedupe_csv", "--run-all-stdin"],
                                     stdin=subprocess.PIPE, env=env, text=True)

    def run(self, url: str, params: dict) -> None:
        self.proc.stdin.write(json.dumps({"url": url, "run_id": RUN_ID, "params": params}) + "\n")
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise subprocess.CalledProcessError(self.proc.returncode, self.proc.args)

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()  # end of input: the child exits without running anything
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _child_main() -> int:
    """The child of StagesChild: the clustering code imported first, then one JSON line from stdin."""
    from data_platform.pipeline import run_all

    line = sys.stdin.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    os.environ["DATABASE_URL"] = job["url"]
    run_all(job["run_id"], job["params"], until="clusters")
    return 0


class CsvFrame(NamedTuple):
    df: object       # the valid rows (DataFrame indexed by line number), as load-csv completes them
    errors: list     # RowError list, sorted by line
    kept: object     # the acteur columns as read (a missing source filled), every row
    ignored: list    # the file's other columns
    table: CsvTable  # the file as read (encoding, separator, every column)


@without_gc
def read_csv_frame(input_path: str, conn=None, sep: str | None = None) -> CsvFrame:
    """An outsider's CSV read as dedupe-csv reads it (data_platform.csv_input's reader: encoding and separator
    detected, or `sep`; extra columns dropped, a missing source filled, an empty name allowed); with `conn`
    the file's unknown codes are added to that database, without it the file's own source and type codes are
    the known ones."""
    from data_platform.load_csv import KNOWN_COLUMNS, _empty, acteur_frame

    table = read_table(input_path, sep, KNOWN_COLUMNS)
    if table.fatal:
        return CsvFrame(_empty(), table.errors, _empty(), [], table)
    kept, written, ignored = _acteur_columns_only(table.frame())
    if conn is not None:
        _register_codes(conn, kept)
    codes = {} if conn is not None else {
        "sources": set(kept["source"].astype(str)),
        "acteur_types": set(kept["acteur_type"].astype(str)) if "acteur_type" in kept.columns else set()}
    df, errors = acteur_frame(table, conn=conn, may_be_empty=MAY_BE_EMPTY, df=written, **codes)
    return CsvFrame(df, errors, kept, ignored, table)


def check_output_path(out: str, input_path: str | None = None) -> Path:
    """--out can be written: its folder exists and takes a new file, it is not a folder nor the input."""
    path = Path(out)
    folder = path.parent
    if path.is_dir():
        raise InputError(f"--out {out}: is a folder, expected a file name")
    if not folder.is_dir():
        raise InputError(f"--out {out}: the folder {str(folder)!r} does not exist")
    if input_path is not None and path.exists() and path.resolve() == Path(input_path).resolve():
        raise InputError(f"--out {out}: is the input file")
    try:
        tempfile.TemporaryFile(dir=folder).close()
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write in {str(folder)!r} ({exc.strerror})") from None
    return path


def check_threshold(threshold: float | None) -> None:
    """--threshold is checked by the run parameters' own rule (data_platform.cluster.params)."""
    if threshold is None:
        return
    from data_platform.cluster.params import ParamError, validate_params

    try:
        validate_params({"threshold": threshold})
    except ParamError as exc:
        raise InputError(f"--threshold {threshold:g}: {str(exc).split(': ', 1)[-1]} (a match probability)") from None


def check_model_file(model_path: str | None) -> None:
    if not model_path:
        return
    from data_platform.cluster.model import model_from_json

    path = Path(model_path)
    if not path.is_file():
        raise InputError(f"--model {model_path}: no such file")
    try:
        model_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--model {model_path}: not a saved match model ({type(exc).__name__}: {exc})") from None


def read_input(input_path: str, sep: str | None = None) -> CsvFrame:
    """The input read and validated before any work; InputError for a file that cannot be used (exit 2) or
    with the row errors of invalid rows (exit 1)."""
    from data_platform.load_csv import check_input_file, file_errors, format_errors

    check_input_file(input_path)
    read = read_csv_frame(input_path, sep=sep)
    if any(e.fatal for e in read.errors):
        raise InputError(file_errors(input_path, read.errors) + "\nnothing clustered")
    if read.errors:
        rows = len({e.line for e in read.errors})
        raise InputError(f"{input_path}: {rows} invalid row(s), {len(read.errors)} error(s), nothing clustered\n"
                         + format_errors(read.errors), exit_code=1)
    if read.df.empty:
        raise InputError(f"{input_path}: the header has no rows under it, nothing to cluster")
    return read


def dedupe(input_path: str, output_path: str, threshold: float | None = None, model_path: str | None = None,
           allow_same_source: bool | None = None, sep: str | None = None, verbose: bool = False) -> dict:
    """allow_same_source: None = on when the file has a single source (or no source column).
    Every input is checked before the work starts (InputError: one line).
    verbose: dbt's whole log instead of the progress lines."""
    check_threshold(threshold)
    check_output_path(output_path, input_path)
    check_model_file(model_path)
    with StagesChild(verbose) as stages:
        return _dedupe(stages, input_path, output_path, threshold, model_path, allow_same_source, sep, verbose)


def _dedupe(stages: StagesChild, input_path: str, output_path: str, threshold: float | None, model_path: str | None,
            allow_same_source: bool | None, sep: str | None, verbose: bool) -> dict:
    """`dedupe` once its child is started: read, load, `stages.run`, write the output."""
    from data_platform import progress
    from data_platform.load_csv import load_acteurs

    read = read_input(input_path, sep)
    df, kept = read.df, read.kept
    print(f"dedupe-csv: {input_path}: {len(df)} rows, read as {read.table.describe()}", file=sys.stderr)
    if read.ignored:
        print(f"ignored columns: {', '.join(read.ignored)}", file=sys.stderr)
    params = {"dry_run": True, **({"threshold": threshold} if threshold is not None else {})}
    started = time.perf_counter()
    with progress.shown(not verbose), slot_scratch_database("dedupe") as url:
        progress.done("scratch database", time.perf_counter() - started)
        with connect(url) as conn, progress.stage(f"read and load the CSV: {len(df):,} rows"):
            _register_codes(conn, kept)
            load_acteurs(conn, df)
            if model_path:  # the saved model scores the run as any saved model does (`model=<id>`: no fit)
                from data_platform.cluster.model_store import import_model

                params["model"] = str(import_model(conn, model_path))
        if allow_same_source is None:
            allow_same_source = single_source(kept)
        params["allow_same_source"] = bool(allow_same_source)
        # what the output needs (the rows' ids in the file's order, the ids as the file gave them), then
        # the frames go: the stages' child process peaks beside this one (800 MB at 500,000 rows)
        ids, given, read_as = df["identifiant_unique"].tolist(), _given_ids(kept), read.table.describe()
        del read, df, kept
        release_memory()
        stages.run(url, params)
        with connect(url) as conn:
            members = fetch_df(conn, "select identifiant_unique, cluster_id from cluster_membership "
                                     "where run_id = %s", (RUN_ID,))
    cluster_of = dict(zip(members["identifiant_unique"], members["cluster_id"]))
    write_csv(output_path, ["identifiant_unique", "cluster_id"],
              ([given.get(ident, ident), cluster_of.get(ident, "")] for ident in ids))
    return {"rows": len(ids), "clustered_rows": len(cluster_of),
            "clusters": len(set(cluster_of.values())), "allow_same_source": params["allow_same_source"],
            "model": model_path or "", "read_as": read_as,
            "seconds": round(time.perf_counter() - started, 1), "out": output_path}


def run(args) -> int:
    try:
        result = dedupe(args.input, args.out, args.threshold, getattr(args, "model", None),
                        getattr(args, "allow_same_source", None), parse_sep(getattr(args, "sep", None)),
                        getattr(args, "verbose", False))
    except InputError as exc:
        print(f"dedupe-csv: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__" and sys.argv[1:2] == ["--run-all-stdin"]:  # the child of StagesChild
    sys.exit(_child_main())
