"""`data-platform ingest`: ingest sources from data-fair portals (or the local replay server)."""
from __future__ import annotations

import json
import logging


def run(args) -> int:
    from data_platform.ingest.client import RetryPolicy
    from data_platform.ingest.config import ConfigError
    from data_platform.ingest.pipeline import IngestOptions, ingest

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    opts = IngestOptions(base_url=args.base_url, force=args.force, year=getattr(args, "year", None),
                         max_deleted_share=getattr(args, "max_deleted_share", None), policy=RetryPolicy())
    try:
        results = ingest(args.source, opts)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    for r in results:
        print(f"{r.source:<10} {r.status:<8} {r.message}")
    print(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    return 1 if any(r.status == "failed" for r in results) else 0
