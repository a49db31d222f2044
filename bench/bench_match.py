"""Time `data-platform match` against a generated known set: one record (p50/p95, index warm) and a CSV.

    .venv/bin/python bench/bench_match.py [--actors 500000] [--seed 7] [--singles 300] [--csv-records 10000] [--reuse]

Builds a scratch database `dp_bench_match` (generate + load, dbt's displayed layer, `match-index rebuild`, each
timed), then draws records from the displayed actors, each respelled (one letter of the name dropped or doubled,
the case changed, the phone or coordinates sometimes left out) and one in five replaced by a stranger (another
actor's name at a third one's address, far away), and measures:
- one record per call (`search.match_records` on a warm connection and model, as the API's process would), p50 and
  p95 over --singles calls after 20 warm-up calls;
- a CSV of --csv-records records: `records.from_csv` + `match_records` (COPY into a temp table, one query).
Besides wall times: the client's CPU time and the server backend's (from /proc, when the server runs here), which
hold still when other programs load the machine, and the load average.
Measured 2026-12-03 on this 2-core machine (load 1.1), 500,000 generated actors (seed 7; 468,896 displayed):
index rebuild 21 s; one record p50 11.8 ms, p95 15.7 ms (client CPU p50 10.1 ms, server 1.7 ms); a CSV of
10,000 records 6.2 s (candidates 5.1 s, scoring 0.8 s). Before the Python normalization ran once per value
(cluster/normalize.py), on the previous machine: p95 62.5 ms, CSV 12.8 s, rebuild 60 s.
Also the share of respelled records whose source actor is the top answer (a sanity check of the look-up, not the
clustering's quality figures). Prints one JSON line. --reuse keeps the database and index of a previous run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._db import generate_actors, use_bench_database


def respelled(df, seed: int):
    rng = np.random.default_rng(seed)
    out = df.copy()
    names = out["nom"].tolist()
    for k, name in enumerate(names):
        if len(name) > 5:
            p = int(rng.integers(1, len(name) - 1))
            names[k] = name[:p] + name[p + 1:] if rng.random() < 0.5 else name[:p] + name[p] + name[p:]
        if rng.random() < 0.5:
            names[k] = names[k].upper()
    out["nom"] = names
    out.loc[rng.random(len(out)) < 0.3, "telephone"] = ""
    drop = rng.random(len(out)) < 0.3
    out.loc[drop, ["latitude", "longitude"]] = ""
    stranger = rng.random(len(out)) < 0.2
    idx = np.flatnonzero(stranger)
    out.loc[idx, "nom"] = df["nom"].to_numpy()[np.roll(idx, 1)]
    out.loc[idx, ["adresse", "code_postal", "ville"]] = df[["adresse", "code_postal", "ville"]].to_numpy()[np.roll(idx, 2)]
    out.loc[idx, ["latitude", "longitude", "telephone", "siret", "siren"]] = ""
    out["expected"] = np.where(stranger, "", df["identifiant_unique"].to_numpy())
    out["identifiant_unique"] = [f"new_{k}" for k in range(len(out))]
    return out


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of process `pid` (Linux /proc), None when not readable (a server on another machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--singles", type=int, default=300)
    ap.add_argument("--csv-records", type=int, default=10_000)
    ap.add_argument("--reuse", action="store_true", help="keep the database and index of a previous run")
    args = ap.parse_args()
    figures: dict = {"actors": args.actors}
    use_bench_database("dp_bench_match", fresh=not args.reuse)
    from data_platform.db.connection import connect, fetch_df
    from data_platform.dbt_runner import run_dbt
    from data_platform.match import index, records, search

    if not args.reuse:
        t = time.perf_counter()
        generate_actors(args.actors, args.seed)
        figures["generate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        run_dbt(["build", "--selector", "displayed"], capture=True)
        figures["dbt_displayed_s"] = round(time.perf_counter() - t, 1)
        with connect() as conn:
            t = time.perf_counter()
            figures["rebuild"] = index.rebuild(conn, refresh_dbt=False)
            figures["rebuild_s"] = round(time.perf_counter() - t, 1)
    n_draw = args.csv_records + args.singles + 20
    with connect() as conn:
        figures["index"] = index.status(conn)
        known = fetch_df(conn, "select identifiant_unique, nom, nom_commercial, siret, siren, adresse, code_postal,"
                               " ville, latitude, longitude, telephone, email, url from dbt.displayed_acteur"
                               " where not est_parent order by md5(identifiant_unique) limit %s", [n_draw])
    new = respelled(known, args.seed)
    csv_part, singles = new.iloc[:args.csv_records], new.iloc[args.csv_records:]
    path = Path("/tmp") / f"bench_match_{args.actors}.csv"
    csv_part.drop(columns=["expected"]).to_csv(path, index=False)

    with connect() as conn:
        _, model = search.load_model(conn)
        with conn.cursor() as cur:
            cur.execute("select pg_backend_pid()")
            backend = cur.fetchone()[0]
        frame, errors = records.from_json(singles.drop(columns=["expected"]).to_dict("records"))
        assert not errors, errors[:3]
        times, cpu, server, hits, want = [], [], [], 0, 0
        for k in range(len(frame)):
            t, c, sv = time.perf_counter(), time.process_time(), _cpu_seconds(backend)
            answer = search.match_records(conn, frame.iloc[[k]], model=model)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            sv1 = _cpu_seconds(backend)
            server.append(None if sv is None or sv1 is None else sv1 - sv)
            conn.rollback()
            exp = singles["expected"].iat[k]
            got = [m["identifiant_unique"] for m in answer["results"][0]["matches"]]
            if exp:
                want += 1
                hits += bool(got) and got[0] == exp
        ms = np.array(times[20:]) * 1000
        figures["single_ms"] = {"p50": round(float(np.percentile(ms, 50)), 1),
                                "p95": round(float(np.percentile(ms, 95)), 1),
                                "max": round(float(ms.max()), 1), "calls": len(ms)}
        cpu_ms = np.array(cpu[20:]) * 1000
        figures["single_client_cpu_ms"] = {"p50": round(float(np.percentile(cpu_ms, 50)), 1),
                                           "p95": round(float(np.percentile(cpu_ms, 95)), 1)}
        if all(x is not None for x in server[20:]):  # clock ticks (10 ms): the mean is the figure
            figures["single_server_cpu_ms_mean"] = round(float(np.mean(server[20:])) * 1000, 1)
        figures["load_average"] = round(os.getloadavg()[0], 2)  # a shared machine: wall times follow it
        figures["single_top1_of_respelled"] = round(hits / max(want, 1), 4)

        t, c, sv = time.perf_counter(), time.process_time(), _cpu_seconds(backend)
        frame, errors = records.from_csv(path)
        answer = search.match_records(conn, frame, model=model)
        figures["csv_s"] = round(time.perf_counter() - t, 2)
        figures["csv_client_cpu_s"] = round(time.process_time() - c, 2)
        sv1 = _cpu_seconds(backend)
        figures["csv_server_cpu_s"] = None if sv is None or sv1 is None else round(sv1 - sv, 2)
        figures["csv_records"] = len(frame)
        figures["csv_candidates"] = answer["candidates"]
        figures["csv_stage_s"] = answer["seconds"]
        exp = csv_part["expected"].to_numpy()
        top = np.array([(r["matches"][0]["identifiant_unique"] if r["matches"] else "") for r in answer["results"]])
        figures["csv_top1_of_respelled"] = round(float((top[exp != ""] == exp[exp != ""]).mean()), 4)
        figures["csv_strangers_matched"] = round(float((top[exp == ""] != "").mean()), 4)
    figures["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
