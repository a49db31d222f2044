"""The clustering run, stage by stage: select → normalize → model → cluster → parents → changes → suggestions.

Each function is one stage; `run_all` calls them in order without a scheduler (dedupe-csv, demo,
benches, tests) and the Airflow DAG (dags/cluster_acteurs.py) maps one task to each, in the same
order. Every stage reads what the previous one wrote, in bulk, and records its duration in
`cluster_run.stage_seconds`.

A run ends `done`, `failed` (a stage raised: `cluster_run.error` says what) or `empty` (the selection
has no actor: the later stages do nothing and the report says so). Parameters are validated once, in
`start_run`, and read back as `RunParams` by `load_params`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager

from data_platform.cluster.params import ParamError, RunParams, validate_run_id
from data_platform.db.connection import connect
from data_platform.workers import start_server, worker_context

log = logging.getLogger(__name__)

# dbt selectors of the two dbt stages (dbt_project/selectors.yml)
DBT_SELECT_SELECTION = ["--selector", "cluster_prepare"]
# the same when the database already holds the current seeds (dbt_runner.seeds_current): not reloaded
DBT_SELECT_SELECTION_SEEDED = ["--selector", "cluster_prepare_seeded"]
DBT_SELECT_PARENTS = ["--selector", "cluster_parents"]
DEFAULT_BATCHES = int(os.environ.get("DP_CLUSTER_BATCHES", "4"))
# A run's EM sees at most this many actors (whole partitions, `sample_partitions`): the fit's memory
# and time stay bounded at 500,000 actors, and m / u / r are still estimated on ~800,000 candidate pairs
TRAIN_MAX_ACTORS = 150_000
# run_all clusters its batches in parallel worker processes (one per core, DP_CLUSTER_WORKERS to
# override) from this many selected actors; below, in this process (a worker's start costs more)
PARALLEL_MIN_ACTORS = int(os.environ.get("DP_PARALLEL_MIN_ACTORS", "20000"))


@contextmanager
def timed(run_id: str, stage: str):
    """Record the wall time of a stage in cluster_run.stage_seconds (one UPDATE)."""
    start = time.perf_counter()
    yield
    seconds = round(time.perf_counter() - start, 3)
    log.info("stage %s took %.2f s", stage, seconds)
    with connect() as conn, conn.cursor() as cur:
        cur.execute("update cluster_run set stage_seconds = stage_seconds || jsonb_build_object(%s, %s) "
                    "where run_id = %s", (stage, seconds, run_id))


def fail_run(run_id: str, error: str) -> None:
    """Mark a run `failed` with its error, unless it already ended (done, empty, or failed earlier)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("update cluster_run set status = 'failed', error = %s, finished_at = now() "
                    "where run_id = %s and status = 'running'", (str(error)[:10_000], run_id))


def mark_empty(run_id: str, reason: str) -> None:
    """A running run with nothing to do (e.g. asset events that touched no département) becomes
    `empty`, the reason in `error`: every later stage does nothing, `finish` closes it with its report."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("update cluster_run set status = 'empty', error = %s where run_id = %s and status = 'running'",
                    (str(reason)[:10_000], run_id))


def record_asset_events(run_id: str, summary: dict) -> None:
    """What the run's asset events asked for (`assets.Touched.as_dict()`: départements, ignored junk
    codes), in `cluster_run.stage_seconds.asset_events` (the report's table of stages shows it)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("update cluster_run set stage_seconds = stage_seconds || jsonb_build_object('asset_events', %s::jsonb) "
                    "where run_id = %s", (json.dumps(summary), run_id))


def _stage(fn):
    """A stage: any exception marks the run failed (with the stage and the error), then propagates."""
    @functools.wraps(fn)
    def wrapper(run_id: str, *args, **kwargs):
        try:
            return fn(run_id, *args, **kwargs)
        except Exception as err:
            fail_run(run_id, f"{fn.__name__}: {type(err).__name__}: {err}")
            raise
    return wrapper


def _run_state(run_id: str) -> tuple[str | None, int | None]:
    """(status, model_id) of the run; (None, None) for an unknown run."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select status, model_id from cluster_run where run_id = %s", (run_id,))
        row = cur.fetchone()
    return (row[0], row[1]) if row else (None, None)


def _status(run_id: str) -> str | None:
    return _run_state(run_id)[0]


def _is_empty(run_id: str) -> bool:
    return _status(run_id) == "empty"


_OPEN_RUN = """
    insert into cluster_run (run_id, dag_run_id, params, status, error, stage_seconds, report_path, started_at)
    values (%s, %s, %s, %s, %s, '{}'::jsonb, '', now())
    on conflict (run_id) do update set dag_run_id = excluded.dag_run_id, params = excluded.params,
      status = excluded.status, error = excluded.error, stage_seconds = '{}'::jsonb, started_at = now(),
      finished_at = case when excluded.status = 'running' then null else now() end"""


def start_run(run_id: str, raw_params: dict | None, dag_run_id: str = "",
              departements_from_assets: list[str] | None = None) -> RunParams:
    """Validate parameters (once; the name regex by PostgreSQL) and (re)open the run.

    Départements announced by ingestion narrow the run. Invalid parameters raise ParamError naming
    the parameter, and the run is recorded `failed` with that error (its params as given).
    """
    validate_run_id(run_id)
    raw = dict(raw_params or {})
    if departements_from_assets and not raw.get("departements"):
        raw["departements"] = sorted(set(departements_from_assets))
    with connect() as conn:
        try:
            params = RunParams.from_raw(raw, conn=conn)
        except ParamError as err:
            with conn.cursor() as cur:
                cur.execute(_OPEN_RUN, (run_id, dag_run_id, json.dumps(raw, default=str), "failed", str(err)))
            conn.commit()  # the failed run stays recorded although the error propagates
            raise
        with conn.cursor() as cur:
            cur.execute("delete from cluster_pair where run_id = %s", (run_id,))
            cur.execute("delete from cluster_membership where run_id = %s", (run_id,))
            cur.execute(_OPEN_RUN, (run_id, dag_run_id, params.to_json(), "running", ""))
    return params


# -- One run at a time in the per-run dbt tables ----------------------------------------------------------------
# dbt.cluster_selection, cluster_run_params, cluster_parent_* and cluster_changes hold one run: the run that built
# them last. Clustering runs are one at a time (the DAG's max_active_runs=1); the ingestion's match runs
# (data_platform.match.suggest, run id `match:<ingestion run id>`) go through the same stages, so the two kinds
# exclude each other by one session advisory lock, RUN_LOCK:
# - a match run holds it from before its start_run to after its finish, taken only when no clustering run is
#   active (`running` in cluster_run, checked under the lock; abandoned runs excepted); while one is, it releases
#   the lock and polls (`run_lock`), at most DP_RUN_WAIT_TIMEOUT seconds, then fails naming the run;
# - a clustering run, once `running` (start_run committed), takes it and lets it go at once at build_selection,
#   before dbt: a match run already under way finishes first, and a match run that takes the lock later sees the
#   clustering run active and waits for its end (done, failed or empty).
# The clustering run's row is committed before it asks for the lock and the match run reads cluster_run in a
# statement after it holds it, so one of the two always sees the other. Neither holds RUN_LOCK while waiting for
# another lock that the other holds (a clustering run holds it only for an instant, with nothing else): no deadlock.
MATCH_RUN_PREFIX = "match:"
RUN_LOCK = "data_platform.match.suggest"  # pg_advisory_lock(hashtext(RUN_LOCK)), the key match runs always took
RUN_WAIT_TIMEOUT_ENV, RUN_WAIT_POLL_ENV = "DP_RUN_WAIT_TIMEOUT", "DP_RUN_WAIT_POLL"
DEFAULT_RUN_WAIT_TIMEOUT = 1800.0  # seconds; a whole clustering run of 500,000 actors takes ~5 minutes
DEFAULT_RUN_WAIT_POLL = 5.0

# the clustering run active in the per-run tables: `running` (an `empty` run builds nothing more), not a match
# run (those are serialized by the lock itself), not abandoned: open for longer than compared_cache.STALE_SECONDS
# (a day), the age at which the comparison cache prunes a crashed run's folder. A run whose DAG run failed, even a
# killed task, is `failed` already (the DAG's on_failure_callback); this covers a killed process outside Airflow
_ACTIVE_CLUSTERING_RUN = """
    select run_id, started_at from cluster_run
    where status = 'running' and run_id not like %(match)s
      and started_at > now() - make_interval(secs => %(abandoned)s)
    order by started_at limit 1"""


class RunWaitTimeout(RuntimeError):
    """A run waited for the other kind of run for longer than DP_RUN_WAIT_TIMEOUT allows."""


def is_match_run(run_id: str) -> bool:
    return run_id.startswith(MATCH_RUN_PREFIX)


def _seconds_env(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return max(0.0, float(value)) if value else default


def active_clustering_run(cur) -> tuple[str, object] | None:
    """(run_id, started_at) of the clustering run active now (see _ACTIVE_CLUSTERING_RUN), else None."""
    from data_platform.cluster.compared_cache import STALE_SECONDS

    cur.execute(_ACTIVE_CLUSTERING_RUN, {"match": MATCH_RUN_PREFIX + "%", "abandoned": STALE_SECONDS})
    row = cur.fetchone()
    return (row[0], row[1]) if row else None


def _lock_holder(cur) -> str:
    cur.execute("select string_agg(run_id, ', ' order by started_at) from cluster_run "
                "where status = 'running' and run_id like %s", (MATCH_RUN_PREFIX + "%",))
    runs = cur.fetchone()[0]
    return f"match run {runs}" if runs else "another run holding the run lock"


@contextmanager
def run_lock(run_id: str, url: str | None = None, timeout: float | None = None, poll: float | None = None):
    """RUN_LOCK held, on a connection of its own, until the block exits (the rule above). A match run takes it
    when no clustering run is active; any other run as soon as nobody holds it. Polled every `poll` seconds
    (DP_RUN_WAIT_POLL, default 5), each wait logged; after `timeout` seconds (DP_RUN_WAIT_TIMEOUT, default 1800)
    RunWaitTimeout names what blocked the run. Yields the seconds waited (0.0: the lock was free at once)."""
    timeout = _seconds_env(RUN_WAIT_TIMEOUT_ENV, DEFAULT_RUN_WAIT_TIMEOUT) if timeout is None else timeout
    poll = _seconds_env(RUN_WAIT_POLL_ENV, DEFAULT_RUN_WAIT_POLL) if poll is None else poll
    start, waited = time.monotonic(), None
    with connect(url, autocommit=True) as conn, conn.cursor() as cur:  # closing it releases the lock
        while True:
            cur.execute("select pg_try_advisory_lock(hashtext(%s))", (RUN_LOCK,))
            if cur.fetchone()[0]:
                # a statement of its own: its snapshot is taken once the lock is held
                active = active_clustering_run(cur) if is_match_run(run_id) else None
                if active is None:
                    break
                cur.execute("select pg_advisory_unlock(hashtext(%s))", (RUN_LOCK,))
                blocker = f"clustering run {active[0]} (running since {active[1].isoformat(timespec='seconds')})"
            else:
                blocker = _lock_holder(cur)
            waited = time.monotonic() - start
            if waited >= timeout:
                raise RunWaitTimeout(
                    f"run {run_id}: {blocker} still active after waiting {waited:.0f} s; nothing was run (the per-run "
                    f"dbt tables hold one run at a time; raise {RUN_WAIT_TIMEOUT_ENV}, now {timeout:g} s)")
            log.info("run %s: waiting for %s to finish (%.0f s of at most %g s)", run_id, blocker, waited, timeout)
            time.sleep(max(0.0, min(poll, timeout - waited)))
        yield 0.0 if waited is None else time.monotonic() - start


@_stage
def build_selection(run_id: str) -> dict:
    """dbt: consolidated layer, normalization, partitions, and the run's selection.

    A clustering run first waits for a match run under way (`run_lock`, taken and released at once: the rule
    above). No actor selected: the run becomes `empty` and the later stages do nothing."""
    from data_platform.cluster.compared_cache import drop_run
    from data_platform.db import embedded
    from data_platform.dbt_runner import record_seeds, run_dbt, seeds_current

    if _is_empty(run_id):  # opened empty (mark_empty): no dbt build, no selection of all of France
        return {"actors": 0, "partitions": 0}
    if not is_match_run(run_id):  # a match run holds the lock already, on its own connection
        with run_lock(run_id):
            pass
    url = embedded.ensure_url()
    with timed(run_id, "select_normalize"):
        seeded = seeds_current(url)  # seeds reloaded only when their files changed (or are missing)
        run_dbt(["build", *(DBT_SELECT_SELECTION_SEEDED if seeded else DBT_SELECT_SELECTION)],
                vars={"run_id": run_id})
        if not seeded:
            record_seeds(url)
    with connect() as conn, conn.cursor() as cur:
        # a rebuilt selection (a task cleared in Airflow) may hold other values for the same ids: the
        # comparisons of the previous build are not reused
        drop_run(conn, run_id)
        cur.execute("select count(*), count(distinct departement) from dbt.cluster_selection")
        actors, partitions = cur.fetchone()
        if actors == 0:
            cur.execute("update cluster_run set status = 'empty' where run_id = %s and status = 'running'",
                        (run_id,))
            log.warning("run %s: the selection has no actor; nothing to cluster", run_id)
    return {"actors": actors, "partitions": partitions}


@_stage
def train_model(run_id: str, processes: int = 1) -> dict:
    """The run's match model, once for the whole selection (`choose_model`); its id goes to
    `cluster_run.model_id`, which every clustering batch reads. `processes` > 1 (run_all): the
    candidates and comparisons of the training partitions are computed in that many worker processes."""
    if _is_empty(run_id):
        return {}
    params = load_params(run_id)
    with timed(run_id, "model"), connect() as conn:
        result = choose_model(conn, run_id, params, processes=processes)
    log.info("run %s: model %s", run_id, result)
    return result


def choose_model(conn, run_id: str, params: RunParams, workers: int = 1, processes: int = 1) -> dict:
    """The run's model from its `model` parameter (data_platform.cluster.model_store's docstring):
    `rules` (none), a saved id (used as it is), `latest` (the newest saved, else as `em`), `em`
    (`fit_selection_model`, saved in match_model with trained_on = the run). Records the id in
    `cluster_run.model_id` (caller's transaction) and returns what was done."""
    from data_platform.cluster import model_store

    choice = params.model
    model_id = None
    if choice == "latest":
        model_id = model_store.latest_id(conn)
    elif choice not in ("em", "rules"):
        model_id = model_store.load_row(conn, choice)["id"]  # LookupError names a missing id
    result = {"model": choice, "model_id": model_id, "fitted": False}
    if model_id is None and choice != "rules":
        model, seen = fit_selection_model(conn, run_id, params, workers, processes=processes)
        fallback = model.info.get("fallback")
        model_id = model_store.save(conn, model, name=("default+u " if fallback else "em ") + run_id,
                                    trained_on=f"run {run_id}", created_by="pipeline")
        result = {"model": choice, "model_id": model_id, "fitted": True, "fallback": bool(fallback), **seen}
    with conn.cursor() as cur:
        cur.execute("update cluster_run set model_id = %s where run_id = %s", (model_id, run_id))
    return result


def sample_partitions(sizes: dict[str, int], max_actors: int = TRAIN_MAX_ACTORS) -> list[str]:
    """Départements whose actors train the run's model: all of them up to max_actors, else whole
    partitions in the order of a hash of their code (deterministic, not biased to one region) while
    they fit in max_actors (at least one)."""
    if sum(sizes.values()) <= max_actors:
        return sorted(sizes)
    chosen, total = [], 0
    for d in sorted(sizes, key=lambda d: hashlib.md5(d.encode()).hexdigest()):
        if total and total + sizes[d] > max_actors:
            continue
        chosen.append(d)
        total += sizes[d]
    return sorted(chosen)


def fit_selection_model(conn, run_id: str, params: RunParams, workers: int = 1,
                        processes: int = 1) -> tuple[object, dict]:
    """Fellegi–Sunter on the run's selection (`sample_partitions`), by `model.fit_selection` (EM, or
    the default model's m with this data's u below MIN_FIT_PAIRS candidate pairs); and what it saw.
    `processes` > 1: `_fit_in_workers` (the same model, its comparisons computed in parallel)."""
    from data_platform.cluster import partition as P
    from data_platform.cluster.compared_cache import ComparedCache
    from data_platform.cluster.model import fit_selection

    sizes = P.partition_sizes(conn, run_id)
    deps = sample_partitions(sizes)
    if processes > 1 and len(deps) > 1 and sum(sizes[d] for d in deps) >= PARALLEL_MIN_ACTORS:
        fitted = _fit_in_workers(run_id, params, {d: sizes[d] for d in deps}, processes, len(sizes))
        if fitted is not None:
            return fitted
    df = P.read_selection(conn, run_id, deps)
    cache = ComparedCache.for_run(conn, run_id)  # the clustering batches read these comparisons back
    compare_only = P.ModelScorer(None, params.scoring, workers)
    parts = []
    for d, part in P.partitions_of(df):
        arr = P.prepare(part)
        parts.append((arr, P.compared_partition(d, arr, params, workers, scorer=compare_only, cache=cache)))
    model = fit_selection(parts)
    seen = {"actors": len(df), "partitions": len(deps), "partitions_in_selection": len(sizes),
            "candidate_pairs": model.info.get("candidate_pairs")}
    model.info.update(seen)
    return model, seen


def _training_task(args) -> list[tuple[int, object, object]]:
    """A worker's share of the training: per partition of `deps` (sorted), its size, the candidates'
    comparison levels and the levels of its pre-drawn random pairs."""
    from data_platform.cluster import partition as P
    from data_platform.cluster.compared_cache import ComparedCache
    from data_platform.cluster.comparisons import compare

    run_id, deps, draws = args
    params = load_params(run_id)
    compare_only = P.ModelScorer(None, params.scoring, 1)
    with connect() as conn:
        df = P.read_selection(conn, run_id, deps)
        cache = ComparedCache.for_run(conn, run_id)
    out = []
    for d, part in P.partitions_of(df):
        arr = P.prepare(part)
        a, b = draws[d]
        out.append((d, len(arr), P.compared_partition(d, arr, params, 1, scorer=compare_only, cache=cache),
                    compare(arr, a, b).levels))
    return out


def _fit_in_workers(run_id: str, params: RunParams, sizes: dict[str, int], processes: int,
                    partitions_in_selection: int) -> tuple[object, dict] | None:
    """`model.FellegiSunter.fit_partitions` on the training partitions, their candidates and random
    pairs' comparisons computed in `processes` worker processes. The random pairs are drawn here, in
    the order and with the generator fit_partitions uses (`model._random_levels`), so the model is the
    one the serial path fits. None when the selection has too few candidate pairs for EM (the caller
    then takes the serial path, whose fallback needs the partitions themselves)."""
    import numpy as np

    from data_platform.cluster import model as M
    from data_platform.cluster.comparisons import Compared, random_pairs
    from data_platform.cluster.partition import balance

    deps = sorted(sizes)
    n = np.array([sizes[d] for d in deps], dtype=np.float64)
    total = (n * (n - 1) / 2).sum()
    rng = np.random.default_rng(M.SEED)
    draws = {}
    for d, size in zip(deps, n):
        want = int(np.ceil(M.U_SAMPLE_PAIRS * size * (size - 1) / 2 / total)) if total else 0
        draws[d] = random_pairs(int(size), want, rng)
    chunks = balance(sizes, processes * 2)
    ctx = worker_context()
    with ctx.Pool(min(processes, len(chunks)), maxtasksperchild=1) as pool:
        done = pool.map(_training_task, [(run_id, c, {d: draws[d] for d in c}) for c in chunks])
    parts = sorted((p for chunk in done for p in chunk), key=lambda p: p[0])
    if [p[0] for p in parts] != deps or sum(len(p[2]) for p in parts) < M.MIN_FIT_PAIRS:
        return None
    candidates = Compared.concat([p[2] for p in parts])
    pair_sizes = np.concatenate([np.full(len(p[2]), float(p[1])) for p in parts])
    model = M.FellegiSunter.fit(candidates, np.concatenate([p[3] for p in parts]), int(n.sum()),
                                partition_sizes=pair_sizes)
    model.info["fallback"] = False
    seen = {"actors": int(n.sum()), "partitions": len(deps), "partitions_in_selection": partitions_in_selection,
            "candidate_pairs": model.info.get("candidate_pairs")}
    model.info.update(seen)
    return model, seen


def run_model_id(run_id: str) -> int | None:
    """The saved match model that scored the run (None: the rules scorer, or not trained)."""
    return _run_state(run_id)[1]


@_stage
def plan(run_id: str, n_batches: int = DEFAULT_BATCHES) -> list[list[str]]:
    """Balanced batches of the run's départements: as many as its `batches` parameter (the slots that
    run them: workers × concurrency), else `n_batches` (DP_CLUSTER_BATCHES, default 4)."""
    from data_platform.cluster.partition import plan_batches

    if _is_empty(run_id):
        return []
    n = load_params(run_id).batches or n_batches
    with connect() as conn:
        batches = plan_batches(conn, run_id, n)
    log.info("run %s: %d batch(es) of départements (asked for %d)", run_id, len(batches), n)
    return batches


@_stage
def cluster(run_id: str, departements: list[str]) -> dict:
    """Cluster a batch of partitions; merge per-partition timings into the run."""
    from data_platform.cluster.partition import cluster_batch

    params = load_params(run_id)
    start = time.perf_counter()
    log.info("run %s: clustering %d partitions (%s)", run_id, len(departements), ", ".join(departements[:10])
             + (", …" if len(departements) > 10 else ""))
    result = cluster_batch(run_id, departements, params)
    seconds = round(time.perf_counter() - start, 3)
    log.info("run %s: %d partitions, %s actors, %s clusters, %s pairs in %.1f s", run_id, len(departements),
             f"{result.get('actors', 0):,}", f"{result.get('clusters', 0):,}", f"{result.get('pairs', 0):,}", seconds)
    partitions = result.get("partition_seconds") or {}
    # the peak memory of the process that ran the batch (a worker's task process), per batch
    result["peak_rss_mb"] = peak = peak_rss_mb()
    batch = ",".join(departements[:3]) + ("…" if len(departements) > 3 else "")
    log.info("run %s: batch %s (%d départements) took %.1f s, peak RSS %.0f MB", run_id, batch,
             len(departements), seconds, peak)
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            """update cluster_run set stage_seconds = stage_seconds
                 || jsonb_build_object('partitions', coalesce(stage_seconds->'partitions', '{}'::jsonb) || %s::jsonb)
                 || jsonb_build_object('cluster', coalesce((stage_seconds->>'cluster')::float, 0) + %s)
                 || jsonb_build_object('batch_peak_rss_mb', coalesce(stage_seconds->'batch_peak_rss_mb', '{}'::jsonb)
                                                            || jsonb_build_object(%s::text, %s))
               where run_id = %s""",
            (json.dumps(partitions), seconds, batch, peak, run_id))
    return result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (getrusage; Linux counts in KiB)."""
    import resource
    import sys

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


@_stage
def cluster_national(run_id: str, processes: int = 1) -> dict:
    """After every partition batch: duplicates across partitions (`inconnu` included), regrouped with
    the clusters they touch (data_platform.cluster.national); off with the run parameter `national`.
    `processes` > 1 (run_all only): the LSH candidates in a worker process. An Airflow task keeps 1: a
    forkserver worker re-imports the task process's `__main__`, the `airflow` script, whose import fails
    in a task (Airflow 3 gives tasks no metadata database URL: "Could not parse SQLAlchemy URL"), and
    the stage failed with BrokenProcessPool from 50,000 actors."""
    from data_platform.cluster.national import cluster_national as run_national

    if _is_empty(run_id):
        return {}
    params = load_params(run_id)
    if not params.national:
        return {"skipped": True}
    with timed(run_id, "national"):  # alone after the batches: its comparisons use every core
        result = run_national(run_id, params, workers=cluster_workers(), processes=processes)
    log.info("run %s: national channel %s", run_id, {k: v for k, v in result.items() if k != "keys"})
    return result


@_stage
def build_parents(run_id: str) -> dict:
    """dbt: parent choice, parent data and the typed changes, for all clusters at once."""
    from data_platform.dbt_runner import run_dbt

    if _is_empty(run_id):
        return {}
    with timed(run_id, "parents_changes"):
        run_dbt(["build", *DBT_SELECT_PARENTS], vars={"run_id": run_id})
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select change_type, count(*) from dbt.cluster_changes where run_id = %s "
                    "group by 1 order by 1", (run_id,))
        return dict(cur.fetchall())


@_stage
def write(run_id: str, dag_id: str = "cluster_acteurs", dag_run_id: str = "") -> dict:
    from data_platform.suggestions.write import write_suggestions

    if _is_empty(run_id):
        return {"clusters": 0, "suggestions": 0, "acteurs": 0, "changes": {}, "empty": True}
    params = load_params(run_id)
    with timed(run_id, "suggestions"), connect() as conn:
        # the cohort records which saved model scored it (null: the rules scorer)
        counts = write_suggestions(conn, run_id, dag_id=dag_id, dag_run_id=dag_run_id,
                                   params={**params.to_dict(), "model_id": run_model_id(run_id)},
                                   dry_run=params.dry_run)
    _warn_if_nothing_written(run_id, counts)
    return counts


def _warn_if_nothing_written(run_id: str, counts: dict) -> None:
    """A run that wrote 0 suggestions says why, in the task log (the report shows it too)."""
    from data_platform.report.notices import zero_suggestions_warning

    warning = zero_suggestions_warning(counts)
    if warning:
        log.warning("run %s: %s", run_id, warning)


@_stage
def finish(run_id: str, counts: dict | None = None) -> dict:
    """Close the run (`done`, or `empty` as build_selection left it) and write its HTML report
    (counts: what `write` returned, e.g. for a dry run)."""
    from data_platform.report import write_report

    with connect() as conn:
        status = close_run(conn, run_id)
        path = write_report(conn, run_id, counts=counts)
    from data_platform.report.run_report import cohort_by_run_url, report_url

    url = report_url(run_id)
    log.info("run report (admin): %s", url)
    log.info("cohort (review): %s", cohort_by_run_url(run_id))
    log.info("run report (file): %s", path)
    return {"report": str(path), "report_url": url, "status": status}


def close_run(conn, run_id: str) -> str | None:
    """The run `done` (or `empty` as build_selection left it), committed; its shared comparisons removed."""
    from data_platform.cluster.compared_cache import drop_run

    drop_run(conn, run_id)  # the comparisons shared by training and clustering are not read again
    with conn.cursor() as cur:
        cur.execute("update cluster_run set status = case when status = 'empty' then 'empty' else 'done' end, "
                    "finished_at = now() where run_id = %s returning status", (run_id,))
        row = cur.fetchone()
    conn.commit()
    return row[0] if row else None


def load_params(run_id: str) -> RunParams:
    with connect() as conn:
        return RunParams.load(conn, run_id)


def cluster_workers() -> int:
    """Worker processes for run_all's clustering batches: DP_CLUSTER_WORKERS, else one per core."""
    value = os.environ.get("DP_CLUSTER_WORKERS", "")
    return max(1, int(value) if value.strip() else (os.cpu_count() or 1))


def _cluster_task(args: tuple[str, list[str]]) -> dict:
    """One batch in a worker process (its own database connections, as a mapped DAG task)."""
    run_id, batch = args
    return cluster(run_id, batch)


def cluster_batches(run_id: str, batches: list[list[str]], workers: int = 1, on_done=None) -> list[dict]:
    """`cluster` for every batch, in `workers` processes at once (each batch in a fresh process,
    started from a forkserver that imported the clustering once: a batch's memory is returned when it
    ends, so at most `workers` batches are in memory). Results in the batches' order; the rows each
    batch writes do not depend on which process ran it. `on_done(result)` after each batch."""
    if workers <= 1 or len(batches) <= 1:
        results = []
        for batch in batches:
            results.append(cluster(run_id, batch))
            if on_done:
                on_done(results[-1])
        return results
    ctx = worker_context()
    results = []
    with ctx.Pool(min(workers, len(batches)), maxtasksperchild=1) as pool:
        for result in pool.imap(_cluster_task, [(run_id, b) for b in batches]):
            results.append(result)
            if on_done:
                on_done(result)
    return results


UNTIL = ("suggestions", "clusters")


def _acteurs_estimate() -> int:
    """The acteur table's rows as the planner's statistics have them (no scan; -1 if never analyzed)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("select coalesce(max(reltuples), 0)::bigint from pg_class where oid = to_regclass('acteur')")
        return int(cur.fetchone()[0])


def run_all(run_id: str, raw_params: dict | None = None, n_batches: int | None = None,
            workers: int | None = None, until: str = "suggestions") -> dict:
    """All stages in a row, without Airflow (dedupe-csv, demo, benchmarks, tests); the clustering
    batches in parallel worker processes (`cluster_batches`; `workers` default `cluster_workers()`)
    from PARALLEL_MIN_ACTORS selected actors, as the DAG's mapped tasks are; a smaller selection is
    one batch in this process (n_batches: default DEFAULT_BATCHES, at least one per worker).
    until="clusters": stop when the clusters are final (after the national channel) and close the run,
    without parents, changes, suggestions nor report (dedupe-csv needs only the memberships)."""
    if until not in UNTIL:
        raise ValueError(f"until={until!r}: expected one of {', '.join(UNTIL)}")
    from data_platform import progress

    workers = cluster_workers() if workers is None else max(1, int(workers))
    start_run(run_id, raw_params)
    if workers > 1 and _acteurs_estimate() >= PARALLEL_MIN_ACTORS:
        start_server()  # the workers' imports while dbt builds the selection
    with progress.stage("dbt: selection and normalization") as step:
        summary: dict = {"selection": build_selection(run_id)}
        sel = summary["selection"]
        step["label"] = f"selection: {sel['actors']:,} actors in {sel['partitions']} partitions"
    with progress.stage("match model") as step:
        summary["model"] = train_model(run_id, processes=workers if sel["actors"] >= PARALLEL_MIN_ACTORS else 1)
        fitted = summary["model"].get("fitted")
        step["label"] = "match model: " + ("fitted by EM" if fitted else str(summary["model"].get("model", "-")))
    if n_batches is None:
        n_batches = DEFAULT_BATCHES if sel["actors"] >= PARALLEL_MIN_ACTORS else 1
    if sel["actors"] < PARALLEL_MIN_ACTORS:
        workers = 1
    batches = plan(run_id, max(n_batches, workers))
    with progress.bar("clustering", len(batches)) as bar:
        results = cluster_batches(run_id, batches, workers, on_done=lambda r: bar.advance(
            f"{r.get('actors', 0):,} actors, {r.get('clusters', 0):,} clusters"))
    summary["clusters"] = sum(int(r.get("clusters", 0)) for r in results)
    with progress.stage("national: pairs across partitions"):
        summary["national"] = cluster_national(run_id, processes=workers)
    if until == "clusters":
        with connect() as conn:
            summary["status"] = close_run(conn, run_id)
        return summary
    with progress.stage("dbt: parents and changes"):
        summary["changes"] = build_parents(run_id)
    with progress.stage("suggestions"):
        summary["suggestions"] = write(run_id)
    summary.update(finish(run_id, summary["suggestions"]))
    return summary
