"""`data-platform generate`: a realistic synthetic population, into the database or a CSV file."""
from __future__ import annotations

import json
import sys
import time

import psycopg2.errors

from data_platform.generate.output import load_database, write_csv
from data_platform.generate.population import generate


def run(args) -> int:
    started = time.perf_counter()
    try:
        pop = generate(args.actors, args.seed)
    except ValueError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    timings = {"generate": round(time.perf_counter() - started, 2)}
    summary = pop.summary()
    if args.out:
        t = time.perf_counter()
        try:
            write_csv(pop, args.out)
        except OSError as exc:
            print(f"generate: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        timings["write_csv"] = round(time.perf_counter() - t, 2)
        summary["out"] = args.out
    else:
        from data_platform.db.connection import connect

        t = time.perf_counter()
        try:
            with connect() as conn:
                summary["loaded"] = load_database(conn, pop, append=args.append)
        except ValueError as exc:
            print(f"generate: {exc}", file=sys.stderr)
            return 1
        except psycopg2.errors.UndefinedTable as exc:
            print(f"generate: {exc.pgerror.strip()}; run `data-platform migrate` first", file=sys.stderr)
            return 1
        timings["load"] = round(time.perf_counter() - t, 2)
    summary["seconds"] = timings
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0
