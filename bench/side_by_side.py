"""dedupe-csv and Splink 4 on the same generated files, interleaved: wall time, peak memory, pairwise P/R/F1.

    .venv/bin/python bench/side_by_side.py                      # 2,000 rows (a quick check)
    .venv/bin/python bench/side_by_side.py 50000 500000 --repeat 2
    make side-by-side SIZES="50000 500000"

Splink is not a dependency of the platform: it is installed here, once, in its own virtual environment
(.local/splink-venv, with uv) and run by bench/_splink_job.py (DuckDB backend, EM; see its docstring for
the configuration). For each size the file is generated once (`data-platform generate --out`, seed
--seed; ground truth = its entity_id column), then the two tools run one after the other, alternating
which goes first on each repetition. Each run is a child process: wall time, and peak memory sampled
every 0.2 s as the sum of the proportional set sizes (PSS: shared pages counted once) of its process
tree plus, for dedupe-csv, the embedded PostgreSQL server's processes (its database work). Quality is
pairwise precision / recall / F1 of each output's cluster_id against entity_id, on the ACTIF rows (the
rows both tools cluster). The machine may be shared: compare the two tools within one run of this script.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / ".local"
SPLINK_VENV = LOCAL / "splink-venv"
SPLINK_SPEC = "splink>=4,<5"
WORK = LOCAL / "side-by-side"


def ensure_splink() -> Path:
    """The Splink virtual environment's Python (created with uv on first use)."""
    python = SPLINK_VENV / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import splink"], capture_output=True,
                                            check=False).returncode == 0:
        return python
    uv = ROOT / ".venv" / "bin" / "uv"
    uv_cmd = [str(uv)] if uv.exists() else ["uv"]
    print(f"installing {SPLINK_SPEC} in {SPLINK_VENV} (once)", flush=True)
    subprocess.run([*uv_cmd, "venv", "-q", str(SPLINK_VENV), "--python", sys.executable], check=True)
    subprocess.run([*uv_cmd, "pip", "install", "-q", "--python", str(python), SPLINK_SPEC], check=True)
    return python


def generated(size: int, seed: int) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"actors_{size}_seed{seed}.csv"
    if not path.exists():
        subprocess.run([str(ROOT / ".venv" / "bin" / "data-platform"), "generate", "--actors", str(size),
                        "--seed", str(seed), "--out", str(path)], check=True, stdout=subprocess.DEVNULL)
    return path


def _postgres_pids() -> list[int]:
    """The embedded server's processes (postmaster and its children); none with a remote DATABASE_URL."""
    pid_file = LOCAL / "pg" / "postmaster.pid"
    if os.environ.get("DATABASE_URL") or not pid_file.exists():
        return []
    try:
        master = psutil.Process(int(pid_file.read_text().split()[0]))
        return [master.pid] + [c.pid for c in master.children(recursive=True)]
    except (psutil.Error, ValueError, IndexError):
        return []


def _pss(pids) -> int:
    total = 0
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return total


def measured(cmd: list[str], with_database: bool) -> dict:
    """Run cmd; wall seconds and the peak PSS of its tree (+ the database server's processes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"tree": 0, "all": 0}
    done = threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root.pid] + [c.pid for c in root.children(recursive=True)]
            except psutil.Error:
                tree = []
            t = _pss(tree)
            a = t + (_pss(_postgres_pids()) if with_database else 0)
            peak["tree"], peak["all"] = max(peak["tree"], t), max(peak["all"], a)
            done.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = proc.communicate()
    done.set()
    thread.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return {"seconds": seconds, "peak_mb": peak["all"] / 2**20, "tree_mb": peak["tree"] / 2**20}


def pairwise_quality(truth_csv: Path, out_csv: Path) -> dict:
    """Pairwise precision / recall / F1 of out's cluster_id against the truth's entity_id (ACTIF rows)."""
    truth = pd.read_csv(truth_csv, dtype=str, keep_default_na=False)
    if "statut" in truth.columns:
        truth = truth[truth["statut"].isin(["", "ACTIF"])]
    out = pd.read_csv(out_csv, dtype=str, keep_default_na=False)
    df = truth[["identifiant_unique", "entity_id"]].merge(out, on="identifiant_unique", how="left").fillna("")
    # a row alone in its cluster is its own cluster
    df["cluster"] = df["cluster_id"].where(df["cluster_id"] != "", "_alone_" + df["identifiant_unique"])

    def pairs(counts: pd.Series) -> int:
        return int((counts * (counts - 1) // 2).sum())

    predicted = pairs(df.groupby("cluster").size())
    true = pairs(df.groupby("entity_id").size())
    both = pairs(df.groupby(["cluster", "entity_id"]).size())
    p = both / predicted if predicted else 1.0
    r = both / true if true else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "pairs": predicted}


def best_of_sweep(truth_csv: Path, out_csv: Path, sweep: str, at_default: dict, threshold: float) -> dict:
    """Splink's best pairwise F1 over its sweep's outputs (bench/_splink_job.py --sweep) and the default."""
    best = {**at_default, "threshold": threshold}
    for t in sorted({float(x) for x in sweep.split(",") if x.strip()} - {threshold}):
        path = out_csv.with_name(f"{out_csv.stem}.t{t:g}{out_csv.suffix}")
        if path.exists():
            q = pairwise_quality(truth_csv, path)
            if q["f1"] > best["f1"]:
                best = {**q, "threshold": t}
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[2000], help="rows per file (default 2000)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each tool per size, interleaved")
    ap.add_argument("--threshold", type=float, default=0.75, help="match probability, both tools")
    ap.add_argument("--splink-sweep", default="0.9,0.95,0.99,0.999,0.9999",
                    help="Splink's clusters also at these thresholds; its best F1 on the truth is printed as "
                         "'splink best' (its threshold picked on the truth: an advantage dedupe-csv is not given)")
    args = ap.parse_args(argv)
    splink_python = ensure_splink()
    ours = str(ROOT / ".venv" / "bin" / "data-platform")
    rows = []
    for size in args.sizes:
        csv = generated(size, args.seed)
        tools = {
            "dedupe-csv": ([ours, "dedupe-csv", str(csv), "--out", str(WORK / f"ours_{size}.csv"),
                            "--threshold", str(args.threshold)], True, WORK / f"ours_{size}.csv"),
            "splink": ([str(splink_python), str(ROOT / "bench" / "_splink_job.py"), str(csv),
                        str(WORK / f"splink_{size}.csv"), "--threshold", str(args.threshold),
                        "--sweep", args.splink_sweep], False,
                       WORK / f"splink_{size}.csv"),
        }
        for rep in range(args.repeat):
            order = list(tools) if rep % 2 == 0 else list(tools)[::-1]
            for name in order:
                cmd, with_db, out = tools[name]
                m = measured(cmd, with_db)
                q = pairwise_quality(csv, out)
                rows.append({"rows": size, "tool": name, "run": rep + 1, **m, **q})
                print(f"{size:>8} {name:<10} run {rep + 1}: {m['seconds']:7.1f} s  peak {m['peak_mb']:6.0f} MB "
                      f"(tree {m['tree_mb']:.0f})  P {q['precision']:.4f} R {q['recall']:.4f} F1 {q['f1']:.4f}",
                      flush=True)
                if name == "splink" and args.splink_sweep:
                    best = best_of_sweep(csv, out, args.splink_sweep, q, args.threshold)
                    rows.append({"rows": size, "tool": "splink best", "run": rep + 1, **m, **best})
                    print(f"{size:>8} {'splink best':<10} run {rep + 1}: threshold {best['threshold']:g} picked on the "
                          f"truth: P {best['precision']:.4f} R {best['recall']:.4f} F1 {best['f1']:.4f}", flush=True)
    df = pd.DataFrame(rows)
    print("\nsummary (median of runs; the machine's load is the same for both tools within a size)")
    print(f"{'rows':>8} {'tool':<10} {'wall s':>8} {'peak MB':>8} {'P':>7} {'R':>7} {'F1':>7}")
    for (size, tool), g in df.groupby(["rows", "tool"], sort=True):
        print(f"{size:>8} {tool:<10} {g['seconds'].median():8.1f} {g['peak_mb'].max():8.0f} "
              f"{g['precision'].median():7.4f} {g['recall'].median():7.4f} {g['f1'].median():7.4f}")
    for size, g in df.groupby("rows"):
        t = g.groupby("tool")["seconds"].median()
        if {"dedupe-csv", "splink"} <= set(t.index):  # "splink best" has Splink's own wall time
            print(f"{size:>8} rows: dedupe-csv is {t['splink'] / t['dedupe-csv']:.2f}× Splink's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
