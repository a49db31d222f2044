"""`data-platform match [JSON] [--csv IN.csv]` and `data-platform match-index rebuild|refresh|status`."""
from __future__ import annotations

import json
import sys


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def read_input(args):
    """(frame, errors) of the records: --csv, else the JSON argument, else stdin."""
    from data_platform.match import records

    if args.csv:
        return records.from_csv(args.csv)
    text = args.record if args.record is not None else sys.stdin.read()
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return records.from_json([])[0], [records.RecordError(0, "", f"not valid JSON: {exc}")]
    return records.from_json(payload)


def run(args) -> int:
    from data_platform.db.connection import connect
    from data_platform.match.search import DEFAULT_THRESHOLD, DEFAULT_TOP_K, IndexMissing, match_records

    args.threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    args.top_k = DEFAULT_TOP_K if args.top_k is None else args.top_k
    if not 0.0 <= args.threshold <= 1.0:
        _print({"errors": [{"record": None, "field": "threshold", "reason": "a probability in [0, 1] is expected"}]})
        return 2
    if args.top_k < 1:
        _print({"errors": [{"record": None, "field": "top_k", "reason": "at least 1"}]})
        return 2
    frame, errors = read_input(args)
    if errors:
        _print({"errors": [e.as_dict() for e in errors]})
        return 2
    try:
        with connect() as conn:
            answer = match_records(conn, frame, model_ref=args.model, threshold=args.threshold, top_k=args.top_k)
    except (IndexMissing, LookupError, ValueError) as exc:
        _print({"errors": [{"record": None, "field": "", "reason": str(exc)}]})
        return 2
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(answer, f, ensure_ascii=False, indent=1)
        _print({k: v for k, v in answer.items() if k != "results"} | {
            "records": len(answer["results"]), "matched": sum(1 for r in answer["results"] if r["matches"]),
            "out": args.out})
    else:
        _print(answer)
    return 0


def run_index(args) -> int:
    from data_platform.db.connection import connect
    from data_platform.match import index

    with connect() as conn:
        if args.action == "rebuild":
            _print(index.rebuild(conn, refresh_dbt=not args.no_dbt))
        elif args.action == "refresh":
            _print(index.refresh_ids(conn, args.ids))
        else:
            _print(index.status(conn))
    return 0


def add_parsers(sub) -> None:
    """The two sub-commands, for data_platform.cli."""
    s = sub.add_parser("match", help="is this actor already known? the known actors or parents a record (JSON) "
                                     "or each record of a CSV most likely duplicates")
    s.add_argument("record", nargs="?", help="one JSON object (or a list); default: read JSON from stdin")
    s.add_argument("--csv", help="a CSV of new records (acteur columns)")
    s.add_argument("--top-k", type=int, default=None, help="matches per record (default 5)")
    s.add_argument("--threshold", type=float, default=None,
                   help="match probability to reach (default: the clustering run's default threshold, 0.75)")
    s.add_argument("--model", default="latest", help="saved model id, 'latest' (default) or 'default' (shipped)")
    s.add_argument("--out", help="write the JSON answer here (prints a summary)")
    s.set_defaults(func=run)

    s = sub.add_parser("match-index", help="the match index of the displayed layer: rebuild, refresh ids, status")
    s.add_argument("action", choices=["rebuild", "refresh", "status"])
    s.add_argument("ids", nargs="*", help="refresh: the identifiant_unique to bring up to date")
    s.add_argument("--no-dbt", action="store_true", help="rebuild: read dbt.displayed_acteur as it is")
    s.set_defaults(func=run_index)
