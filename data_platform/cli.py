"""`data-platform` commands. Each is a thin call into the module that does the work."""
from __future__ import annotations

import argparse
import importlib
import json
import sys


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str) if not isinstance(obj, str) else obj)


def cmd_db(args) -> int:
    from data_platform.db import embedded

    if args.action in ("start", "url"):
        _print(embedded.ensure_url())
    elif args.action == "stop":
        _print("embedded PostgreSQL stopped" if embedded.stop() else "embedded PostgreSQL was not running")
    elif args.action == "status":
        _print("running" if embedded.is_running() else "stopped")
    return 0


def cmd_migrate(args) -> int:
    from data_platform.db.migrate import migrate

    _print({"migrated": True, **migrate(verbosity=args.verbosity)})
    return 0


def _run_of(module: str):
    """The command that calls `run(args)` of `module`, imported only when the command runs."""
    def command(args) -> int:
        return importlib.import_module(module).run(args)

    return command


cmd_generate = _run_of("data_platform.generate.cli")
cmd_load_csv = _run_of("data_platform.load_csv")
cmd_dedupe_csv = _run_of("data_platform.dedupe_csv")
cmd_label = _run_of("data_platform.labels.console")
cmd_evaluate = _run_of("data_platform.evaluate")
cmd_ingest = _run_of("data_platform.ingest.cli")
cmd_replay_server = _run_of("data_platform.ingest.replay_server")
cmd_admin = _run_of("data_platform.webapp.serve")
cmd_demo = _run_of("data_platform.demo")


def cmd_dbt(args) -> int:
    from data_platform.dbt_runner import run_dbt

    return run_dbt(args.dbt_args, check=False).returncode


def cmd_airflow(args) -> int:
    from data_platform.airflow_runner import run_airflow

    return run_airflow(args.airflow_args, check=False).returncode


def cmd_model(args) -> int:
    from data_platform.cluster import model_store
    from data_platform.db.connection import connect

    with connect() as conn:
        if args.action == "list":
            _print(model_store.list_models(conn))
        elif args.action == "export":
            _print(model_store.export_model(conn, args.ref, args.file))
        else:
            _print({"imported": model_store.import_model(conn, args.file, name=args.name,
                                                         created_by=args.created_by)})
    return 0


def _csv_help(command: str) -> str:
    import textwrap

    from data_platform.acteur_csv import columns_help

    return "\n\n".join(textwrap.fill(p, 100) for p in columns_help(command).split("\n\n"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="data-platform", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("db", help="the embedded PostgreSQL server (used when DATABASE_URL is unset)")
    s.add_argument("action", choices=["start", "stop", "url", "status"])
    s.set_defaults(func=cmd_db, needs_database=False)

    s = sub.add_parser("migrate", help="create/upgrade the schema and load reference data")
    s.add_argument("--verbosity", type=int, default=0)
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("generate", help="generate realistic demo actors (with ground truth)")
    s.add_argument("--actors", type=int, default=20000, help="number of actors (default 20000)")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--out", help="write a CSV here instead of loading the database")
    s.add_argument("--append", action="store_true", help="keep existing actors instead of replacing them")
    s.set_defaults(func=cmd_generate, needs_database=lambda args: not args.out)

    s = sub.add_parser("load-csv", help="load actors from a CSV with the acteur columns",
                       description=_csv_help("load-csv"), formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("file", help="the CSV file to load")
    s.add_argument("--sep", help="column separator: ',' ';' 'tab' or '|' (default: detected on the header)")
    s.add_argument("--skip-invalid", action="store_true", help="load valid rows, report the others")
    s.add_argument("--update-existing", action="store_true",
                   help="let the file update actors that already exist (same source); without it they are errors")
    s.set_defaults(func=cmd_load_csv)

    s = sub.add_parser("dbt", help="run dbt with the platform's profile and environment")
    s.add_argument("dbt_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_dbt)

    s = sub.add_parser("airflow", help="run airflow with the platform's environment")
    s.add_argument("airflow_args", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_airflow)

    s = sub.add_parser("dedupe-csv", help="cluster the actors of a CSV; writes identifiant_unique,cluster_id",
                       description=_csv_help("dedupe-csv"), formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("input", help="the CSV file of actors to cluster")
    s.add_argument("--out", required=True,
                   help="output CSV (identifiant_unique,cluster_id; cluster_id '' = in no cluster); its folder must exist")
    s.add_argument("--threshold", type=float, default=None,
                   help="match probability in [0, 1] above which two actors are one place (default: the clustering DAG's)")
    s.add_argument("--sep", help="column separator: ',' ';' 'tab' or '|' (default: detected on the header)")
    s.add_argument("--model", help="a saved model's JSON (label --model-out, model export) that scores the pairs")
    s.add_argument("--allow-same-source", action=argparse.BooleanOptionalAction, default=None,
                   help="two actors of one source may match (default: on when the file has a single source)")
    s.add_argument("--verbose", action="store_true",
                   help="print dbt's whole log instead of a progress line per stage and one line per dbt call")
    s.set_defaults(func=cmd_dedupe_csv)

    s = sub.add_parser("model", help="saved match models: list, export one to JSON, import one from JSON")
    msub = s.add_subparsers(dest="action", required=True)
    m = msub.add_parser("list", help="saved models, newest first")
    m = msub.add_parser("export", help="write a saved model (an id, or 'latest') to a JSON file")
    m.add_argument("ref", help="model id, or 'latest'")
    m.add_argument("file")
    m = msub.add_parser("import", help="save the model of a JSON file as a new version; prints its id")
    m.add_argument("file")
    m.add_argument("--name", help="name of the saved model (default: the file's, or its stem)")
    m.add_argument("--created-by", default="", help="who imports it")
    s.set_defaults(func=cmd_model)

    s = sub.add_parser("label", help="label candidate pairs of a CSV (o/n/i/f) and learn a match model")
    s.add_argument("input")
    s.add_argument("--oracle-column", help="answer from this column (same value = match); prints the learning curve")
    s.add_argument("--budget", type=int, default=100, help="labels to give at most")
    s.add_argument("--model-out", help="write the learned model's JSON here")
    s.add_argument("--threshold", type=float, default=0.75, help="match probability of the learning curve")
    s.set_defaults(func=cmd_label)

    s = sub.add_parser("evaluate", help="precision/recall/F1 of a clustering run against the ground truth")
    s.add_argument("--run-id", help="clustering run (default: the latest)")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("ingest", help="ingest sources from data-fair portals")
    s.add_argument("--source", action="append", help="source code (repeatable; default: all)")
    s.add_argument("--base-url", help="override every source's portal URL (e.g. the local replay server)")
    s.add_argument("--force", action="store_true", help="ingest even when the dataset did not change")
    s.add_argument("--year", type=int, help="year of yearly datasets (SINOE's ANNEE_eq; default: last year)")
    s.add_argument("--max-deleted-share", type=float,
                   help="accept a feed that removes up to this share of a source's actors (default per source: 0.10)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("replay-server", help="serve data-fair-shaped responses locally (tests, demo)")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--rows", type=int, default=5000)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--version", type=int, default=0, help="publication version (later ones change, add and drop rows)")
    s.add_argument("--fault", action="append",
                   help="429=N, 500=N, truncate=N, slow=SECONDS, slow_count=N, fail_page=K, drop_half, "
                        "link_only, rename=OLD:NEW (repeatable)")
    s.set_defaults(func=cmd_replay_server, needs_database=False)

    s = sub.add_parser("admin", help="start the review admin locally")
    s.add_argument("--port", type=int, default=8001)
    s.set_defaults(func=cmd_admin)

    from data_platform.match.cli import add_parsers as add_match_parsers

    add_match_parsers(sub)  # match, match-index

    s = sub.add_parser("demo", help="the whole demo: database, data, pipeline, summary")
    s.add_argument("--actors", type=int, default=20000)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--ingest-rows", type=int, default=2000, help="rows served by the demo replay server (all sources)")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        needs_database = getattr(args, "needs_database", True)
        if needs_database(args) if callable(needs_database) else needs_database:
            # DATABASE_URL, else the embedded server, started here; the commands then read the same
            # URL from data_platform.settings (the server records its port in .local/pg.port)
            from data_platform.db import embedded

            embedded.ensure_url()
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
