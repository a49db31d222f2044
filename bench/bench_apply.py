"""Time apply_approved on 10,000 approved suggestions (2–4 members each) in a scratch database.

    .venv/bin/python bench/bench_apply.py [--suggestions 10000] [--keep]

About 1 cluster in 5 keeps an existing parent that has a child (verified) and absorbs another
parent whose child is repointed and which is then deleted; the others create their parent.
Target: ≤ 60 s for 10,000. Prints one JSON line; the scratch database is dropped unless --keep.
Besides the wall time it gives the CPU seconds of the applier (`client_cpu_s`) and of its server
backend (`server_cpu_s`, read from /proc when the server runs on this machine, else null), which
hold still when other programs load the machine, and the server's `synchronous_commit` (apply keeps
the server's own setting: off on the embedded server, whatever production says elsewhere).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_platform import settings
from data_platform.db.connection import connect, drop_database, ensure_database

SOURCES = ["ecosystem", "refashion", "sinoe", "cma", "ecomaison", "corepile", "batribox", "aliapur"]


def build(url: str, n: int, seed: int = 7) -> None:
    from data_platform.suggestions import sample

    rng = random.Random(seed)
    acteurs, revisions, specs = [], [], []
    for i in range(n):
        size = rng.choice([2, 2, 3, 4])
        lat, lon = 43 + rng.random() * 6, -1 + rng.random() * 7
        members = [sample.acteur(f"{SOURCES[j]}_b{i}_{j}", f"Acteur {i} variante {j}", source=SOURCES[j],
                                 adresse=f"{i} rue du Banc", code_postal=f"{rng.randint(1, 95):02d}000",
                                 latitude=lat + j * 1e-4, longitude=lon) for j in range(size)]
        acteurs += members
        if i % 5 == 0:
            keep = sample.parent(f"parent_keep_{i}", f"Parent {i}")
            other = sample.parent(f"parent_other_{i}", f"Autre parent {i}")
            kid_keep = sample.acteur(f"cyclevia_k{i}", f"Enfant {i}", source="cyclevia")
            kid_other = sample.acteur(f"ecodds_o{i}", f"Enfant bis {i}", source="ecodds")
            acteurs += [kid_keep, kid_other]
            revisions += [keep, other, {"identifiant_unique": kid_keep["identifiant_unique"], "parent_id": keep["identifiant_unique"]},
                          {"identifiant_unique": kid_other["identifiant_unique"], "parent_id": other["identifiant_unique"]}]
            specs.append(sample.cluster_spec(
                members[:-1], existing_parent=keep, other_parents=[other], score=0.9,
                parent_children={keep["identifiant_unique"]: [kid_keep["identifiant_unique"]],
                                 other["identifiant_unique"]: [kid_other["identifiant_unique"]]}))
        else:
            specs.append(sample.cluster_spec(members, score=round(0.75 + rng.random() * 0.25, 3)))
    with connect(url) as conn:
        sample.insert_acteurs(conn, acteurs)
        sample.insert_revisions(conn, revisions)
        cid = sample.create_cohorte(conn, "bench-apply")
        sample.add_suggestions(conn, cid, specs, statut="approved")
    with connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("analyze acteur; analyze revision_acteur; analyze suggestion")  # as autovacuum would


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of process `pid` (Linux /proc), None when not readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suggestions", type=int, default=10000)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args(argv)

    base = settings.database_url()
    url = settings.with_database(base, "dp_bench_apply")
    drop_database(url)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    try:
        from data_platform.db.migrate import migrate

        migrate()
        t0 = time.monotonic()
        build(url, args.suggestions)
        build_s = time.monotonic() - t0

        from data_platform.suggestions.apply import apply_approved

        with connect(url) as conn:
            with conn.cursor() as cur:
                cur.execute("select pg_backend_pid()")
                backend = cur.fetchone()[0]
            conn.commit()
            server0, client0, t0 = _cpu_seconds(backend), time.process_time(), time.monotonic()
            counts = apply_approved(conn)
            apply_s = time.monotonic() - t0
            client_cpu_s = time.process_time() - client0
            server1 = _cpu_seconds(backend)
        server_cpu_s = None if server0 is None or server1 is None else round(server1 - server0, 1)
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("select statut, count(*) from suggestion group by statut")
            statuses = dict(cur.fetchall())
            cur.execute("select count(*) from revision_acteur where parent_id is null and identifiant_unique like 'parent_%%'")
            parents = cur.fetchone()[0]
            cur.execute("show synchronous_commit")
            synchronous_commit = cur.fetchone()[0]
        result = {"suggestions": args.suggestions, "build_s": round(build_s, 1), "apply_s": round(apply_s, 1),
                  "per_suggestion_ms": round(1000 * apply_s / max(1, args.suggestions), 2),
                  "client_cpu_s": round(client_cpu_s, 1), "server_cpu_s": server_cpu_s,
                  "target_s": 60, "ok": apply_s <= 60 and statuses == {"applied": args.suggestions},
                  "counts": counts, "statuses": statuses, "parents": parents,
                  "synchronous_commit": synchronous_commit}
        print(json.dumps(result))
        return 0 if result["ok"] else 1
    finally:
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
