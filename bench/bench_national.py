"""The national channel (data_platform.cluster.national) on postal-code faults.

    .venv/bin/python bench/bench_national.py [--actors 50000] [--seed 42] [--rate 0.12] [--keep]

Generates N actors, runs the whole pipeline (`pipeline.run_all`) on the fault-free set, then puts the
SPEC §4 postal-code faults on `rate` of the rows (data_platform.generate.faults: blank, typo moving to
another département, lost leading zero, CEDEX, "n/a"; coordinates, names, addresses kept) and runs it
again with the national channel off, then on. Prints pairwise precision/recall of each run, the recall
on the true pairs the faults put in two partitions, and the national stage's seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd
from _db import use_bench_database

from data_platform.db.connection import connect, drop_database, fetch_df


def split_pair_recall(conn, run_id: str) -> dict:
    """Recall on the true pairs whose two actors lie in different partitions of the selection."""
    sel = fetch_df(conn, "select s.identifiant_unique, coalesce(nullif(s.departement, ''), 'inconnu') as d, "
                         "g.entity_id from dbt.cluster_selection s join ground_truth g using (identifiant_unique)")
    pred = fetch_df(conn, "select identifiant_unique, cluster_id from cluster_membership where run_id = %s", [run_id])
    sel = sel.merge(pred, on="identifiant_unique", how="left")
    pairs = sel.merge(sel, on="entity_id")
    pairs = pairs[(pairs["identifiant_unique_x"] < pairs["identifiant_unique_y"]) & (pairs["d_x"] != pairs["d_y"])]
    found = pairs["cluster_id_x"].notna() & (pairs["cluster_id_x"] == pairs["cluster_id_y"])
    with_inconnu = (pairs["d_x"] == "inconnu") | (pairs["d_y"] == "inconnu")
    return {"split_pairs": len(pairs), "split_recall": round(float(found.mean()) if len(pairs) else 1.0, 4),
            "split_recall_inconnu": round(float(found[with_inconnu].mean()) if with_inconnu.any() else 1.0, 4),
            "split_recall_other_departement":
                round(float(found[~with_inconnu].mean()) if (~with_inconnu).any() else 1.0, 4)}


def one_run(run_id: str, params: dict) -> dict:
    from data_platform.evaluate import evaluate_run
    from data_platform.pipeline import run_all

    t0 = time.perf_counter()
    summary = run_all(run_id, params)
    total = time.perf_counter() - t0
    with connect() as conn:
        quality = evaluate_run(conn, run_id, thresholds=[])
        split = split_pair_recall(conn, run_id)
        with conn.cursor() as cur:
            cur.execute("select stage_seconds - 'partitions' from cluster_run where run_id = %s", (run_id,))
            stages = cur.fetchone()[0]
    national = dict(summary.get("national") or {})
    return {"run": run_id, "precision": quality["precision"], "recall": quality["recall"], **split,
            "seconds": round(total, 1), "stages": stages, "national": national}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rate", type=float, default=0.12)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--skip-clean", action="store_true", help="no fault-free run")
    args = ap.parse_args()

    url = use_bench_database("bench_national")
    from data_platform.generate.faults import postal_code_faults
    from data_platform.generate.output import load_database
    from data_platform.generate.population import generate

    pop = generate(args.actors, args.seed)
    results = []
    if not args.skip_clean:
        with connect() as conn:
            load_database(conn, pop)
        results.append(one_run("clean", {}))
        print(json.dumps(results[-1]), flush=True)
    pop.acteurs, kinds = postal_code_faults(pop.acteurs, args.rate, args.seed)
    print("faults: " + json.dumps(kinds[kinds != ""].value_counts().sort_index().to_dict()), flush=True)
    with connect() as conn:
        load_database(conn, pop)
    for run_id, params in [("faults_partitions_only", {"national": False}), ("faults_national", {})]:
        results.append(one_run(run_id, params))
        print(json.dumps(results[-1]), flush=True)
    print(pd.DataFrame([{k: r[k] for k in ("run", "precision", "recall", "split_pairs", "split_recall",
                                           "split_recall_inconnu", "split_recall_other_departement", "seconds")}
                        for r in results]).to_string(index=False))
    if not args.keep:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
