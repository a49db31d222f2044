"""Issue 13's closing probes, rerun on the current tree; prints a markdown table probe → result.

    .venv/bin/python bench/trust_probes.py [--suggestions 3000] [--kills 5] [--seed 13] [--only NAME ...]
                                           [--pg-port 55011]

Everything runs in a scratch database on the platform's server (dropped at the end), except the last
probe, which starts its own non-embedded PostgreSQL (Debian's /usr/lib/postgresql/*/bin: initdb + pg_ctl,
as the `postgres` user when run as root, in a temporary folder, on `--pg-port`) and stops it afterwards.

Probes (each one line of the table; "held" = the expected behaviour was observed):
- kill_apply: apply (a child process) on N approved suggestions is killed with SIGKILL at a random moment
  while it applies, `--kills` times; after each kill: 0 half-applied suggestions (every create/repoint/delete
  of an `applied` one is in the revision layer, none of an `approved` one is) and 0 stuck in `applying`;
  a last run applies the rest, 0 failed.
- overlap: two appliers (child processes) at once on pairs of suggestions sharing a member: in each pair
  exactly one applied and the other stale, 0 failed (nothing applied twice).
- hijack: the hijack CSV through `load-csv` (a parent's id, another source's id, an existing actor): refused
  with line/field/reason, status 1, the database unchanged.
- bad_files: latin-1, empty, unterminated quote, ';', tab, a blank line before a bad row, 1 row with 2 errors,
  a NUL byte, `=HYPERLINK(…)`, through `dedupe-csv` (and `load-csv`): status, first line, no traceback.
- regex / departements: `a*+`, `\\bdecheterie\\b`; `"13\\n"`, `"99"` refused by the run parameters
  (validated with PostgreSQL for the regex), `"975"` (valid, no actor) ends `empty` with a report.
- backwards_dates: the replay server's `rewind` fault (finalizedAt and the 304 clock move back, rows change):
  ingestion fetches and applies instead of believing a 304.
- postmaster_kill: apply against a non-embedded server, the postmaster and its children killed with SIGKILL
  while another connection watches suggestions become `applied`; after restart none of them is lost.
  `--pm-sync-off` is the control run with the server's synchronous_commit off: it loses nothing either
  (measured: 334 seen, 0 lost), because an asynchronous commit wakes the WAL writer, which hands the WAL
  to the kernel at once and a process kill does not lose the kernel's page cache; only an OS crash or a
  power cut does, which this probe cannot cause. What it checks is process-crash recovery: 0 lost,
  0 half-applied, 0 stuck, and that apply runs with the server's own setting (on).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from data_platform import settings
from data_platform.db.connection import connect

PY = sys.executable
APPLY_CHILD = ("import sys, json; from data_platform.suggestions.apply import apply_approved; "
               "print(json.dumps(apply_approved(sys.argv[1])), flush=True)")

HALF_APPLIED = """
    with ch as (
        select s.id, s.statut, c->>'type' as t, c->>'identifiant_unique' as ident, c->>'parent_id' as pid
        from suggestion s cross join lateral jsonb_array_elements(s.changes) c
        where c->>'type' in ('acteur_create_as_parent', 'acteur_update_parent_id', 'acteur_delete_as_parent')),
    done as (
        select ch.id, ch.statut, case ch.t
            when 'acteur_create_as_parent' then r.identifiant_unique is not null
            when 'acteur_update_parent_id' then r.parent_id is not distinct from ch.pid
            else r.identifiant_unique is null end as d
        from ch left join revision_acteur r on r.identifiant_unique = ch.ident),
    per as (select id, statut, bool_and(d) as all_done, bool_or(d) as any_done from done group by id, statut)
    select count(*) filter (where (statut = 'applied' and not all_done) or (statut <> 'applied' and any_done)),
           count(*) filter (where statut = 'applied')
    from per"""


def _q(url: str, query: str, params=None):
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _statuses(url: str, where: str = "true") -> dict:
    return dict(_q(url, f"select statut, count(*) from suggestion where {where} group by statut"))


def _env(url: str) -> dict:
    return {**os.environ, "DATABASE_URL": url}


def _kill_tree(pid: int) -> None:
    """SIGKILL `pid` (a process this script started) and then its children, by id."""
    children = []
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in [pid, *children]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_dead(pid: int, timeout: float = 30) -> None:
    """Until process `pid` is gone or a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------- probes

def probe_kill_apply(url: str, args) -> tuple[str, bool]:
    from bench_apply import build

    build(url, args.suggestions, seed=args.seed)
    rng = random.Random(args.seed)
    details, ok = [], True
    for _ in range(args.kills):
        before = _statuses(url).get("applied", 0)
        child = subprocess.Popen([PY, "-c", APPLY_CHILD, url], env=_env(url), stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _statuses(url).get("applied", 0) == before and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until it applies, then kill it at a random moment
        time.sleep(rng.uniform(0.0, 1.5))
        finished = child.poll() is not None
        child.kill()
        child.wait()
        half, applied = _q(url, HALF_APPLIED)[0]
        stuck = _statuses(url).get("applying", 0)
        ok &= half == 0 and stuck == 0 and not finished
        details.append(f"{applied - before:+d}→{half}/{stuck}" + (" (had finished)" if finished else ""))
    final = subprocess.run([PY, "-c", APPLY_CHILD, url], env=_env(url), capture_output=True, text=True, check=True)
    counts = json.loads(final.stdout.strip().splitlines()[-1])
    statuses = _statuses(url)
    half = _q(url, HALF_APPLIED)[0][0]
    ok &= statuses == {"applied": args.suggestions} and counts["failed"] == 0 and half == 0
    return (f"{args.kills} × SIGKILL mid-apply on {args.suggestions} suggestions; per kill: applied since the "
            f"previous → half-applied/stuck: {', '.join(details)}; last run: {counts['applied']} applied, "
            f"{counts['failed']} failed, {counts['recovered']} recovered; statuses {statuses}"), ok


def probe_overlap(url: str, args) -> tuple[str, bool]:
    from data_platform.suggestions import sample

    pairs = 300
    acteurs, specs = [], []
    for i in range(pairs):
        m = [sample.acteur(f"{s}_ov{i}", f"Ressourcerie {i}", source=s, adresse=f"{i} rue du Four")
             for s in ("ecosystem", "refashion", "sinoe")]
        acteurs += m
        specs += [sample.cluster_spec(m[:2]), sample.cluster_spec(m[1:])]
    with connect(url) as conn:
        sample.insert_acteurs(conn, acteurs)
        cid = sample.create_cohorte(conn, "probe-overlap")
        ids = sample.add_suggestions(conn, cid, specs, statut="approved")
    workers = [subprocess.Popen([PY, "-c", APPLY_CHILD, url], env=_env(url), stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    outs = [json.loads(w.communicate()[0].strip().splitlines()[-1]) for w in workers]
    rows = _q(url, "select id, statut from suggestion where cohorte_id = %s order by id", (cid,))
    status = dict(rows)
    per_pair = [sorted((status[ids[2 * i]], status[ids[2 * i + 1]])) for i in range(pairs)]
    good = sum(p == ["applied", "stale"] for p in per_pair)
    shared_ok = _q(url, """select count(*) from revision_acteur r join suggestion s on s.cohorte_id = %s
                           and s.statut = 'applied' and s.membres ? r.identifiant_unique
                           where r.identifiant_unique like 'refashion_ov%%'
                             and r.parent_id = (s.changes->0->>'identifiant_unique')""", (cid,))[0][0]
    ok = good == pairs and shared_ok == pairs and all(o["failed"] == 0 for o in outs) and all(o["applied"] for o in outs)
    return (f"2 appliers at once on {pairs} pairs sharing a member: {good}/{pairs} pairs applied once + stale, "
            f"shared member points at the applied parent {shared_ok}/{pairs}; worker A {outs[0]['applied']} applied/"
            f"{outs[0]['stale']} stale/{outs[0]['failed']} failed, worker B {outs[1]['applied']}/{outs[1]['stale']}/"
            f"{outs[1]['failed']}"), ok


def _cli(url: str, *argv, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "data_platform.cli", *argv], env=_env(url), capture_output=True, text=True,
                          cwd=cwd, check=False)


def _last_json(text: str) -> dict:
    """The JSON object a command prints last (after the dbt log of its stages)."""
    start = text.rfind("\n{") + 1
    return json.loads(text[start:])


def _first_error(result: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and " read as " not in ln]
    return lines[0] if lines else ""


def probe_hijack(url: str, args, tmp: Path) -> tuple[str, bool]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, statut)
                       VALUES ('sinoe_HD1', 'HD1', 'sinoe', 'decheterie', 'Déchèterie de Lyon', 'ACTIF'),
                              ('refashion_HC1', 'HC1', 'refashion', 'commerce', 'Enfant', 'ACTIF'),
                              ('refashion_HZ', 'HZ', 'cma', 'artisan', 'Autre source', 'ACTIF')""")
        cur.execute("INSERT INTO revision_acteur (identifiant_unique, nom, statut) VALUES ('refashion_HP1', 'Parent', 'ACTIF')")
        cur.execute("""INSERT INTO revision_acteur (identifiant_unique, source, parent_id)
                       VALUES ('refashion_HC1', 'refashion', 'refashion_HP1')""")
    snapshot = "select identifiant_unique, source, nom, statut, modifie_le from acteur order by 1"
    before = (_q(url, snapshot), _q(url, "select identifiant_unique, parent_id from revision_acteur order by 1"))
    path = tmp / "hijack.csv"
    path.write_text("identifiant_unique,source,identifiant_externe,acteur_type,nom,statut\n"
                    "mon_parent,refashion,X1,commerce,Pris,ACTIF\n"
                    ",refashion,HP1,commerce,Pris aussi,ACTIF\n"
                    ",refashion,HZ,commerce,Autre,ACTIF\n"
                    ",sinoe,HD1,decheterie,Déchèterie de Lyon,SUPPRIME\n", encoding="utf-8")
    r = _cli(url, "load-csv", str(path))
    after = (_q(url, snapshot), _q(url, "select identifiant_unique, parent_id from revision_acteur order by 1"))
    reasons = [ln.split(": ", 1)[1].split(" (got")[0] for ln in r.stderr.splitlines() if ln.startswith("line ")]
    ok = r.returncode == 1 and after == before and len(reasons) == 4 and "Traceback" not in r.stderr
    return (f"load-csv status {r.returncode}, database {'unchanged' if after == before else 'CHANGED'}; "
            + "; ".join(f"line {i + 2}: {x}" for i, x in enumerate(reasons))), ok


BAD_HEADER = "source,identifiant_externe,acteur_type,nom,adresse,code_postal,ville,latitude,longitude"
GOOD_ROWS = ["refashion,R1,commerce,Emmaüs Connect,12 av. Jean Jaurès,01000,Bourg-en-Bresse,46.2052,5.2255",
             "ecosystem,E1,commerce,EMMAUS CONNECT,12 avenue Jean Jaurès,01000,Bourg-en-Bresse,46.2053,5.2256"]


def _bad_files() -> dict[str, bytes]:
    text = BAD_HEADER + "\n" + "\n".join(GOOD_ROWS) + "\n"
    hyper = ("identifiant_unique,acteur_type,nom,adresse,code_postal,ville,latitude,longitude\n"
             '"=HYPERLINK(""http://evil.example"",""clic"")",commerce,Emmaüs Connect,12 av. Jean Jaurès,01000,'
             "Bourg-en-Bresse,46.2052,5.2255\n"
             "-1.55,commerce,EMMAUS CONNECT,12 avenue Jean Jaurès,01000,Bourg-en-Bresse,46.2053,5.2256\n")
    return {
        "latin-1": text.encode("latin-1"),
        "empty": b"",
        "unterminated quote": (BAD_HEADER + "\n" + GOOD_ROWS[0] + '\nrefashion,R2,commerce,"Oops,1 rue,69001,Lyon,,\n'
                               + GOOD_ROWS[1] + "\n").encode(),
        "';' separator": text.replace(",", ";").encode(),
        "tab separator": text.replace(",", "\t").encode(),
        "blank line, then a bad row": (BAD_HEADER + "\n" + GOOD_ROWS[0] + "\n\nrefashion,R3,commerce,X,,ABCDE,,,\n"
                                       ).encode(),
        "1 row with 2 errors": (text + "refashion,R3,commerce,X,,ABCDE,,95,4.2\n").encode(),
        "NUL byte": (text + "refashion,R4,commerce,Bou\x00tique,,69001,Lyon,,\n").encode(),
        "=HYPERLINK(…) id": hyper.encode(),
    }


def probe_bad_files(url: str, args, tmp: Path) -> list[tuple[str, str, bool]]:
    rows = []
    expect_ok = {"latin-1", "';' separator", "tab separator", "=HYPERLINK(…) id"}
    for name, data in _bad_files().items():
        path = tmp / f"bad_{len(rows)}.csv"
        path.write_bytes(data)
        out = tmp / f"out_{len(rows)}.csv"
        d = _cli(url, "dedupe-csv", str(path), "--out", str(out))
        no_tb = "Traceback" not in d.stderr
        if name in expect_ok:
            with open(out, newline="", encoding="utf-8") if out.exists() else open(os.devnull) as fh:
                got = list(csv.reader(fh))[1:]
            info = _last_json(d.stdout).get("read_as", "") if d.returncode == 0 else _first_error(d)
            clusters = {r[1] for r in got}
            held = d.returncode == 0 and no_tb and len(got) == 2 and len(clusters) == 1 and "" not in clusters
            if name.startswith("=HYPERLINK"):
                held &= got[0][0].startswith("'=HYPERLINK") and got[1][0] == "-1.55"
                info = f"output ids {got[0][0][:14]}…, {got[1][0]}" if got else info
            result = f"dedupe-csv status {d.returncode}: {info}; the 2 Emmaüs rows {'one cluster' if held else str(got)}"
        else:
            first = _first_error(d).replace(str(path), "IN.csv")
            held = d.returncode in (1, 2) and no_tb and re.search(r"\bline \d+", d.stderr) is not None
            if "\n" in d.stderr.strip() and "line " not in first:  # the row errors follow the summary line
                first += " — " + d.stderr.strip().splitlines()[1]
            result = f"dedupe-csv status {d.returncode}: {first}"
        if name not in expect_ok or name == "=HYPERLINK(…) id":  # the same reader refuses it in load-csv
            load = _cli(url, "load-csv", str(path))
            held &= load.returncode in (1, 2) and "Traceback" not in load.stderr
            result += f"; load-csv status {load.returncode}"
        rows.append((f"bad file: {name}", result + ("" if no_tb else " — TRACEBACK"), held))
    return rows


def probe_regex_and_departements(url: str, args) -> list[tuple[str, str, bool]]:
    from data_platform.cluster.params import ParamError, validate_params

    rows = []
    with connect(url) as conn:
        for name, raw in [("regex a*+", {"nom_regex": "a*+"}),
                          ("regex \\bdecheterie\\b", {"nom_regex": r"\bdecheterie\b"}),
                          ('département "13\\n"', {"departements": ["13\n"]}),
                          ('département "99"', {"departements": ["99"]})]:
            try:
                validate_params(raw, conn)
                rows.append((name, "accepted", False))
            except ParamError as exc:
                rows.append((name, f"refused before the run: {exc}", exc.name in raw))
        validate_params({"nom_regex": r"\ydecheterie\y"}, conn)
    run_id = f"probe_975_{os.getpid()}"
    child = ("import sys, json; from data_platform.pipeline import run_all; "
             "run_all(sys.argv[1], json.loads(sys.argv[2]))")
    r = subprocess.run([PY, "-c", child, run_id, json.dumps({"departements": ["975"], "dry_run": True})],
                       env=_env(url), capture_output=True, text=True, check=False)
    found = _q(url, "select status, error, coalesce(report_path, '') from cluster_run where run_id = %s", (run_id,))
    status, error, report = found[0] if found else ("(no run)", "", "")
    report_says = "file present" if report and Path(report).is_file() else "file absent"
    ok = r.returncode == 0 and status == "empty" and bool(report)
    rows.append(('département "975" (valid, no actor)',
                 (f"run exit {r.returncode}, status {status!r}{', ' + error if error else ''}, report "
                  f"{'written' if report else 'MISSING'} ({report_says})"), ok))
    return rows


def probe_backwards_dates(url: str, args) -> tuple[str, bool]:
    from data_platform.ingest.client import RetryPolicy
    from data_platform.ingest.config import load_sources
    from data_platform.ingest.pipeline import IngestOptions, ensure_models, ingest_source
    from data_platform.ingest.replay_server import ReplayServer

    ensure_models(url)
    server = ReplayServer(rows={"donnees-eo-corepile-ecosystem": 30}, seed=7).start()
    try:
        policy = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, jitter=0.5, seed=0, connect_timeout=2,
                             read_timeout=5)

        def options(**kw):
            return IngestOptions(base_url=server.base_url, policy=policy, database_url=url, page_size=10,
                                 run_id="probe", **kw)

        cfg = load_sources(["corepile"])[0]
        first = ingest_source(cfg, options())
        server.set_version(1)
        server.set_faults(rewind=48)
        second = ingest_source(cfg, options(max_deleted_share=1.0))
    finally:
        server.stop()
    changed = second.inserted + second.updated + second.deleted
    ok = first.status == "applied" and second.status == "applied" and changed > 0 \
        and second.finalized_at < first.finalized_at
    return (f"finalizedAt {first.finalized_at} → {second.finalized_at} (48 h back), 304 clock rewound: "
            f"second run {second.status}, {second.inserted} inserted / {second.updated} updated / {second.deleted} "
            f"deleted ({second.message[:60]})"), ok


def probe_postmaster_kill(args) -> tuple[str, bool]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not bins:
        return "skipped: no /usr/lib/postgresql/*/bin/pg_ctl on this machine", True
    bindir = bins[-1].parent
    as_user: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            return "skipped: running as root and no runuser to become the postgres user", True
        as_user = ["runuser", "-u", "postgres", "--"]
    tmp = Path(tempfile.mkdtemp(prefix="dp_probe_pg_"))
    data = tmp / "data"
    if as_user:
        shutil.chown(tmp, "postgres")
    port = args.pg_port
    ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-s", "-w", "-l", str(tmp / "log")]
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1" + (" -c synchronous_commit=off" if args.pm_sync_off else "")
    server_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    url = settings.with_database(server_url, "dp_probe_pm")
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E",
                        "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        subprocess.run([*ctl, "-o", opts, "start"], check=True, capture_output=True)
        from bench_apply import build

        from data_platform.db.connection import ensure_database

        ensure_database(url)
        # the admin's settings need DJANGO_SECRET_KEY outside development: this throw-away server is one
        subprocess.run([PY, "-m", "data_platform.cli", "migrate"], env={**_env(url), "DP_ENV": "development"},
                       check=True, capture_output=True)
        build(url, args.pm_suggestions, seed=args.seed)
        sync = _q(url, "show synchronous_commit")[0][0]
        child = subprocess.Popen([PY, "-c", APPLY_CHILD, url], env=_env(url), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        seen: set[int] = set()
        import psycopg2

        watcher = psycopg2.connect(url)
        watcher.autocommit = True
        deadline = time.monotonic() + 120
        target = random.Random(args.seed).randint(args.pm_suggestions // 10, args.pm_suggestions // 3)
        with watcher.cursor() as cur:
            while len(seen) < target and time.monotonic() < deadline and child.poll() is None:
                cur.execute("select id from suggestion where statut = 'applied'")
                seen = {r[0] for r in cur.fetchall()}
                time.sleep(0.02)
        watcher.close()
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        _kill_tree(postmaster)
        child.wait(60)
        _wait_dead(postmaster)
        # a container's init may not reap the killed postmaster: a zombie keeps its pid "alive" for the lock
        # file checks, so the (dead) postmaster's lock files are removed, as an operator would after a crash
        for lock in (data / "postmaster.pid", tmp / f".s.PGSQL.{port}.lock"):
            lock.unlink(missing_ok=True)
        subprocess.run([*ctl, "-o", opts, "start"], check=True, capture_output=True)
        applied = {r[0] for r in _q(url, "select id from suggestion where statut = 'applied'")}
        lost = seen - applied
        half = _q(url, HALF_APPLIED)[0][0]
        stuck = _statuses(url).get("applying", 0)
        version = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False).stdout.strip()
        ok = not lost and half == 0 and stuck == 0 and len(seen) > 0
        return (f"{version} on port {port} (synchronous_commit={sync} as apply sees it): postmaster + children "
                f"SIGKILLed after another connection saw {len(seen)} applied; after restart {len(lost)} lost, "
                f"{len(applied)} applied, {half} half-applied, {stuck} stuck"), ok
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
        if (tmp / "log").is_file():
            tail = [tail[0] + " " + " / ".join((tmp / "log").read_text(errors="replace").strip().splitlines()[-3:])]
        return f"setup failed: {' '.join(map(str, exc.cmd[:4]))} exit {exc.returncode} ({tail[0][:200]})", False
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------- main

PROBES = ["kill_apply", "overlap", "hijack", "bad_files", "regex", "backwards_dates", "postmaster_kill"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suggestions", type=int, default=3000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--pm-suggestions", type=int, default=2000)
    ap.add_argument("--pm-sync-off", action="store_true",
                    help="control run: the non-embedded server with synchronous_commit=off (the probe should then lose some)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--pg-port", type=int, default=int(os.environ.get("DP_EMBEDDED_PORT", "55010")) + 1)
    ap.add_argument("--only", nargs="*", choices=PROBES)
    args = ap.parse_args(argv)
    from data_platform.db import embedded
    from data_platform.db.scratch import scratch_database

    embedded.ensure_url()
    only = set(args.only or PROBES)
    table: list[tuple[str, str, bool]] = []
    started = time.monotonic()

    def run(name, fn, *fargs):
        if name not in only:
            return
        t = time.monotonic()
        try:
            out = fn(*fargs)
        except Exception as exc:  # noqa: BLE001 - a probe that crashes is a row that did not hold
            traceback.print_exc()
            out = (f"probe crashed: {type(exc).__name__}: {exc}", False)
        rows = out if isinstance(out, list) else [(name, *out)]
        for probe, result, held in rows:
            table.append((probe, result, held))
        print(f"[{name}] {round(time.monotonic() - t, 1)} s", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmpdir, scratch_database("dp_probe") as url:
        tmp = Path(tmpdir)
        run("kill_apply", probe_kill_apply, url, args)
        run("overlap", probe_overlap, url, args)
        run("hijack", probe_hijack, url, args, tmp)
        run("bad_files", probe_bad_files, url, args, tmp)
        run("regex", probe_regex_and_departements, url, args)
        run("backwards_dates", probe_backwards_dates, url, args)
    run("postmaster_kill", probe_postmaster_kill, args)
    print("| probe | result | held |\n| --- | --- | --- |")
    for probe, result, held in table:
        print(f"| {probe} | {result.replace('|', '/')} | {'yes' if held else '**NO**'} |")
    print(f"\n{sum(h for *_, h in table)}/{len(table)} held; {round(time.monotonic() - started)} s "
          f"(git {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()})")
    return 0 if all(h for *_, h in table) else 1


if __name__ == "__main__":
    sys.exit(main())
