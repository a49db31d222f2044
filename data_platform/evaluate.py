"""`data-platform evaluate`: pairwise precision, recall and F1 of a clustering run against the
generator's ground truth, and the same over a range of thresholds (re-clustering the run's
selection in memory: candidates and scores once, grouping per threshold).

Pairs are counted with combinatorics on group sizes (C(n, 2) per group), never enumerated.
Universe: the actors of the run's selection. An actor in no predicted cluster is alone; an actor
without a ground-truth row is its own entity. Parents carry the entity of their children in
`ground_truth`.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

DEFAULT_THRESHOLDS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def _pairs(sizes) -> int:
    s = np.asarray(sizes, dtype=np.int64)
    return int((s * (s - 1) // 2).sum())


def pairwise_scores(ids, predicted: pd.Series, truth: pd.Series) -> dict:
    """Precision/recall/F1 over all unordered pairs of `ids`.

    predicted: identifiant_unique → cluster id ('' or missing = alone);
    truth: identifiant_unique → entity id (missing = its own entity).
    """
    ids = pd.Index(pd.unique(np.asarray(ids, dtype=object)))
    pred = predicted.reindex(ids).fillna("").astype(str)
    pred = pred.where(pred != "", "\x00" + ids.to_series(index=ids).astype(str))
    true = truth[~truth.index.duplicated()].reindex(ids).fillna("").astype(str)
    true = true.where(true != "", "\x00" + ids.to_series(index=ids).astype(str))
    frame = pd.DataFrame({"p": pred.to_numpy(), "t": true.to_numpy()})
    predicted_pairs = _pairs(frame.groupby("p").size())
    true_pairs = _pairs(frame.groupby("t").size())
    tp = _pairs(frame.groupby(["p", "t"]).size())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"actors": len(ids), "predicted_pairs": predicted_pairs, "true_pairs": true_pairs,
            "true_positive_pairs": tp, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def _latest_run(conn) -> str | None:
    with conn.cursor() as cur:
        cur.execute("select run_id from cluster_run order by started_at desc, run_id desc limit 1")
        row = cur.fetchone()
    return row[0] if row else None


def evaluate_run(conn, run_id: str | None = None, thresholds=None) -> dict:
    """Metrics of the run's memberships, plus a table over thresholds ([] = no table).

    Reads (bulk, COPY out): the run's selection ids, its memberships, the ground truth.
    """
    from data_platform.cluster.model_store import run_model
    from data_platform.cluster.params import RunParams
    from data_platform.cluster.partition import SELECTION_COLUMNS, labels_at_thresholds
    from data_platform.db.connection import fetch_df

    run_id = run_id or _latest_run(conn)
    if run_id is None:
        raise LookupError("no clustering run to evaluate")
    thresholds = DEFAULT_THRESHOLDS if thresholds is None else list(thresholds)
    cols = ", ".join(SELECTION_COLUMNS) if thresholds else "identifiant_unique"
    # dbt.cluster_selection holds the selection of the last run built (no run_id column, by design)
    selection = fetch_df(conn, f"select {cols} from dbt.cluster_selection order by identifiant_unique")
    members = fetch_df(conn, "select identifiant_unique, cluster_id from cluster_membership where run_id = %s "
                             "order by identifiant_unique", [run_id])
    truth = fetch_df(conn, "select identifiant_unique, entity_id from ground_truth order by identifiant_unique")
    truth_s = pd.Series(truth["entity_id"].to_numpy(), index=truth["identifiant_unique"].to_numpy())
    ids = selection["identifiant_unique"].to_numpy()
    pred = pd.Series(members["cluster_id"].to_numpy(), index=members["identifiant_unique"].to_numpy())
    result = {"run_id": run_id, "ground_truth_rows": len(truth), **pairwise_scores(ids, pred, truth_s)}
    if thresholds and len(selection):
        params = RunParams.load(conn, run_id)  # scored by the run's model (model_store.run_model), not refitted
        by_t = labels_at_thresholds(selection, params, thresholds, model=run_model(conn, run_id, params))
        table = []
        for t in thresholds:
            row = pairwise_scores(ids, by_t[t], truth_s)
            table.append({"threshold": t, **{k: row[k] for k in ("precision", "recall", "f1", "predicted_pairs",
                                                                   "true_positive_pairs")}})
        result["thresholds"] = table
    return result


def format_table(rows: list[dict]) -> str:
    lines = [f"{'threshold':>9} {'precision':>9} {'recall':>7} {'f1':>7} {'pred_pairs':>11} {'tp_pairs':>10}"]
    for r in rows:
        lines.append(f"{r['threshold']:>9.2f} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} "
                     f"{r['predicted_pairs']:>11} {r['true_positive_pairs']:>10}")
    return "\n".join(lines)


def run(args) -> int:
    from data_platform.db.connection import connect

    with connect() as conn:
        try:
            result = evaluate_run(conn, getattr(args, "run_id", None))
        except LookupError as err:
            print(f"evaluate: {err}")
            return 1
    table = result.pop("thresholds", [])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if table:
        print("\nRe-clustered in memory at each threshold (pairwise, against ground_truth):")
        print(format_table(table))
    return 0
