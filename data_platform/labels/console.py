"""`data-platform label IN.csv`: label candidate pairs of a CSV in the terminal (dedupe's console
labeller), or from a column of the file (`--oracle-column`), and save the learned model.

The CSV is read as `dedupe-csv` reads it (data_platform.dedupe_csv.read_csv_frame: the acteur
columns, a missing source filled, an empty name allowed; the file's own source and type codes), its
ACTIF rows kept as the DAG's selection keeps them, and normalized by `normalize_frame` (the Python
mirror of the dbt normalization: no database, seconds instead of a dbt run; dedupe-csv itself goes
through dbt). Pairs come from data_platform.labels.active (the clustering's blocking and comparison
levels; the least sure first, diverse across départements and comparison patterns).

Answers: o (oui, the same place), n (non), i (je ne sais pas), f (fin: stop and save).
With `--oracle-column COL` the answer is "same non-empty value of COL", up to `--budget` labels, and
the learning curve (labels → precision / recall / F1 of the model on the file's candidate pairs
against COL) is printed. `--model-out M.json` writes the model (`dedupe-csv --model M.json` uses it).
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from data_platform.labels.active import ActiveLearner, Pool, run_oracle

FIELDS = ["identifiant_unique", "source", "nom", "nom_commercial", "adresse", "code_postal", "ville", "siret",
          "telephone", "latitude", "longitude"]
ANSWERS = {"o": True, "oui": True, "y": True, "n": False, "non": False, "i": None, "?": None}
WIDTH = 38


def read_frame(input_path: str, oracle_column: str | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """(normalized ACTIF rows, oracle: identifiant_unique → value of `oracle_column` or None)."""
    from data_platform.cluster.normalize import normalize_frame
    from data_platform.dedupe_csv import read_csv_frame
    from data_platform.load_csv import format_errors

    read = read_csv_frame(input_path)
    df, errors = read.df, read.errors
    if errors:
        rows = len({e.line for e in errors})
        raise SystemExit(f"{input_path}: {rows} invalid row(s), {len(errors)} error(s)\n" + format_errors(errors))
    oracle = None
    if oracle_column:
        if oracle_column not in read.table.header:
            raise SystemExit(f"{input_path}: no column {oracle_column!r}")
        column = read.table.frame()[oracle_column]  # the same parse: the same lines as the valid rows
        oracle = pd.Series(column.loc[df.index].to_numpy(), index=df["identifiant_unique"].to_numpy())
    df = df[df["statut"] == "ACTIF"].reset_index(drop=True)
    df = df.assign(est_parent=False)
    return normalize_frame(df), oracle


def _cell(value) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def show_pair(pool: Pool, learner: ActiveLearner, k: int, out) -> None:
    a, b = pool.frame.iloc[pool.a[k]], pool.frame.iloc[pool.b[k]]
    dist = pool.compared.distance_m[k]
    print(file=out)
    print(f"paire {len(learner.labels) + len(learner.skipped) + 1} · département {pool.departement[k]} · "
          f"probabilité {learner.probabilities[k]:.3f}" + ("" if np.isnan(dist) else f" · {dist:.0f} m"), file=out)
    for name in FIELDS:
        va, vb = _cell(a.get(name)), _cell(b.get(name))
        mark = " " if va == vb else "≠"
        print(f"  {name:18s} {va:{WIDTH}s} {mark} {vb}", file=out)


def _status(learner: ActiveLearner) -> str:
    y = list(learner.labels.values())
    info = getattr(learner.model, "info", {})
    cv = (f" · validation croisée précision {info['cv_precision']} rappel {info['cv_recall']}"
          if "cv_precision" in info else "")
    return f"{sum(y)} oui, {len(y) - sum(y)} non, {len(learner.skipped)} je ne sais pas · modèle {learner.model.kind}{cv}"


def interactive(learner: ActiveLearner, read=input, out=None, budget: int | None = None) -> None:
    """Ask pair after pair until `f` (or end of input, or the budget); retrains as ActiveLearner does."""
    out = out or sys.stdout
    pool = learner.pool
    while budget is None or len(learner.labels) < budget:
        k = learner.next_pair()
        if k is None:
            print("plus aucune paire à étiqueter", file=out)
            break
        show_pair(pool, learner, k, out)
        while True:
            try:
                reply = read("même lieu ? (o)ui / (n)on / (i) je ne sais pas / (f)in : ").strip().lower()
            except EOFError:
                reply = "f"
            if reply in ANSWERS or reply in ("f", "fin"):
                break
            print("répondre o, n, i ou f", file=out)
        if reply in ("f", "fin"):
            break
        if learner.answer(k, ANSWERS[reply]):
            print("modèle réentraîné : " + _status(learner), file=out)
    if len(learner.labels) and learner.history[-1:] != [(len(learner.labels), learner.model.kind)]:
        learner.retrain()
    print(_status(learner), file=out)


def label(input_path: str, *, oracle_column: str | None = None, budget: int = 100, model_out: str | None = None,
          threshold: float = 0.75, read=input, out=None) -> dict:
    out = out or sys.stdout
    df, oracle = read_frame(input_path, oracle_column)
    pool = Pool.from_frame(df)
    learner = ActiveLearner(pool, threshold=threshold)
    print(f"{len(df)} acteurs, {len(pool)} paires candidates", file=out)
    result: dict = {"actors": len(df), "candidate_pairs": len(pool)}
    if oracle is not None:
        print("étiquettes  modèle          précision  rappel  F1      validation croisée (P / R)", file=out)

        def point(q):
            cv = (f"{q['cv_precision']:.4f} / {q['cv_recall']:.4f}" if q.get("cv_precision") is not None else "—")
            print(f"{q['labels']:10d}  {q['model']:14s}  {q['precision']:.4f}     {q['recall']:.4f}  {q['f1']:.4f}  {cv}",
                  file=out)

        result["curve"] = run_oracle(learner, oracle, budget, on_point=point)
    else:
        interactive(learner, read=read, out=out, budget=budget)
    result.update(labels=len(learner.labels), positives=int(sum(learner.labels.values())), model=learner.model.kind)
    if model_out:
        with open(model_out, "w") as fh:
            json.dump(learner.model.to_json(), fh, indent=1)
        result["model_out"] = model_out
    return result


def run(args) -> int:
    result = label(args.input, oracle_column=args.oracle_column, budget=args.budget, model_out=args.model_out,
                   threshold=args.threshold)
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=2))
    return 0
