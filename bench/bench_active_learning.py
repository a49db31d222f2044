"""Benchmark of active learning with an oracle (issue 8, item 4): the learning curve labels →
pairwise precision / recall on a generated population's candidate pairs, the oracle answering from
the generator's truth (`entity_id`), as `data-platform label IN.csv --oracle-column entity_id` does.

    .venv/bin/python bench/bench_active_learning.py --actors 50000 --seed 42
    .venv/bin/python bench/bench_active_learning.py --csv actors.csv --budget 100 --threshold 0.75

The population is `data-platform generate --out` (a CSV with the ground truth), read, normalized and
blocked exactly as the `label` command does (data_platform.labels.console.read_frame, labels.active.Pool);
the zero-label model is Fellegi–Sunter fitted by EM on the candidates, then every `--every` labels the
model is retrained (labels.active.learn: EM alone, EM seeded by the labels, or a logistic regression
with EM's evidence as a feature, whichever has the best cross-validated F1 on the labels). Each line:
labels, the chosen model, precision / recall / F1 at `--threshold` (recall over every true pair of the
file: blocking misses count), and the cross-validated precision / recall on the labels. Prints figures;
asserts nothing. `--pool-cache F` pickles the candidate pool (reused when F exists).
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_platform.labels.active import ActiveLearner, Pool, run_oracle
from data_platform.labels.console import read_frame


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actors", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--csv", help="a CSV with the acteur columns and the truth column (instead of generating)")
    ap.add_argument("--truth-column", default="entity_id")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--every", type=int, default=10, help="labels between two points of the curve")
    ap.add_argument("--threshold", type=float, default=0.75)
    ap.add_argument("--pool-cache")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.pool_cache and os.path.exists(args.pool_cache):
        with open(args.pool_cache, "rb") as fh:
            pool, oracle = pickle.load(fh)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.csv
            if not path:
                path = os.path.join(tmp, "actors.csv")
                subprocess.run([sys.executable, "-m", "data_platform.cli", "generate", "--actors", str(args.actors),
                                "--seed", str(args.seed), "--out", path], check=True, stdout=subprocess.DEVNULL)
            df, oracle = read_frame(path, args.truth_column)
        pool = Pool.from_frame(df)
        if args.pool_cache:
            with open(args.pool_cache, "wb") as fh:
                pickle.dump((pool, oracle), fh)
    t_pool = time.perf_counter() - t0
    print(f"{len(pool.ids)} actors, {len(pool)} candidate pairs, pool in {t_pool:.1f} s; "
          f"threshold {args.threshold}, budget {args.budget}")
    print("labels  model           precision  recall   F1       cv P    cv R")
    learner = ActiveLearner(pool, threshold=args.threshold)

    def point(q):
        cv = (f"{q['cv_precision']:.4f}  {q['cv_recall']:.4f}" if q.get("cv_precision") is not None else "—")
        print(f"{q['labels']:6d}  {q['model']:14s}  {q['precision']:.4f}     {q['recall']:.4f}   {q['f1']:.4f}   {cv}",
              flush=True)

    t1 = time.perf_counter()
    run_oracle(learner, oracle, args.budget, report_at=range(args.every, args.budget + 1, args.every),
               on_point=point)
    print(f"learning: {time.perf_counter() - t1:.1f} s; {sum(learner.labels.values())} of "
          f"{len(learner.labels)} labels are matches")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
