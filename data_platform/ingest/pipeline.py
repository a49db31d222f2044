"""Ingest one source: metadata -> schema guard -> stream pages (cleaned, COPY) -> diff (dbt) -> apply.

Two transactions per source:
1. staging: TRUNCATE ingest.stg_<code>, then each page's cleaned rows COPYed in as it arrives, and
   the rejected rows into ingest_rejected_row. Committed only once the whole feed was read.
2. apply: the diff (dbt view `ingest_acteur_diff`, filtered on the source) is frozen in a temp
   table, the guards run, then set-based INSERT / UPDATE / mark SUPPRIME and the ingest_state
   bookkeeping; all or nothing.
Any fault (network, schema, guard) leaves `acteur` as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from psycopg2 import sql

from data_platform import settings
from data_platform.db.connection import connect, copy_rows
from data_platform.ingest.cleaning import ACTEUR_COLUMNS, RowStats, clean_row
from data_platform.ingest.client import DataFairClient, NotModified, RetryPolicy, http_date
from data_platform.ingest.config import SourceConfig, load_sources

log = logging.getLogger(__name__)

STAGING_SCHEMA = "ingest"
STAGING_COLUMNS = ["line"] + ACTEUR_COLUMNS
MODELS_DIR = settings.DBT_PROJECT_DIR / "models" / "ingest"
DIFF_VIEW = sql.Identifier(settings.DBT_SCHEMA, "ingest_acteur_diff")
UPDATABLE = ["identifiant_externe", "acteur_type", "nom", "nom_commercial", "siren", "siret", "adresse",
             "adresse_complement", "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url"]


class IngestError(RuntimeError):
    """A source could not be ingested; nothing of it was applied."""


class GuardError(IngestError):
    """A guard refused the feed (mass deletion, lost column); nothing was applied."""


@dataclass
class IngestOptions:
    base_url: str | None = None           # overrides every source's portal (replay server)
    force: bool = False                   # ingest even when the dataset did not change
    year: int | None = None               # SINOE's ANNEE_eq (default: last year)
    max_deleted_share: float | None = None  # overrides the sources' guard
    policy: RetryPolicy | None = None
    run_id: str = ""
    database_url: str | None = None
    page_size: int | None = None          # overrides the sources' page size (tests)


@dataclass
class SourceResult:
    source: str
    status: str = ""                      # applied | skipped | failed
    message: str = ""
    finalized_at: str = ""
    rows_read: int = 0
    rows_staged: int = 0
    rows_rejected: int = 0
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    invalid_fields: dict = field(default_factory=dict)
    departements: list = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    fetch_seconds: float = 0.0            # download + clean + COPY into staging
    apply_seconds: float = 0.0            # diff + guards + apply
    seconds: float = 0.0
    match: dict = field(default_factory=dict)  # data_platform.match.hooks.after_ingest: index refresh, suggestions

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)

    def as_dict(self) -> dict:
        return asdict(self)


# -- database objects --------------------------------------------------------------------------------

def ensure_staging_tables(conn, sources: list[SourceConfig]) -> None:
    cols = ", ".join(
        f"{c} bigint" if c == "line" else f"{c} double precision" if c in ("latitude", "longitude") else f"{c} text"
        for c in STAGING_COLUMNS)
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('data_platform.ingest.ddl'))")
        cur.execute(f"create schema if not exists {STAGING_SCHEMA}")
        for cfg in sources:
            cur.execute(sql.SQL("create table if not exists {} (" + cols + ")").format(
                sql.Identifier(STAGING_SCHEMA, f"stg_{cfg.code}")))
        cur.execute(f"create table if not exists {STAGING_SCHEMA}.dbt_models (name text primary key, checksum text)")


def _models_checksum() -> str:
    """Of the ingest models and the macro they share: a change to either rebuilds the views."""
    h = hashlib.sha256()
    for p in [*sorted(MODELS_DIR.glob("*")), MODELS_DIR.parent.parent / "macros" / "ingest_staging.sql"]:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def ensure_models(database_url: str | None = None) -> bool:
    """Staging tables of every configured source, then the dbt views of models/ingest (one `dbt run`,
    skipped when they are already built from the current model files). Returns True when dbt ran."""
    from data_platform.dbt_runner import run_dbt

    url = database_url or settings.database_url()
    sources = load_sources()
    checksum = _models_checksum()
    with connect(url) as conn:
        ensure_staging_tables(conn, sources)  # committed before dbt looks for them
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('data_platform.ingest.dbt'))")
        if _models_built(cur, checksum, len(sources)):
            return False
        proc = run_dbt(["run", "--select", "path:models/ingest"], check=False, capture=True, database_url=url)
        if proc.returncode != 0:
            raise IngestError("dbt run of models/ingest failed:\n" + (proc.stdout or "")[-3000:] + (proc.stderr or "")[-2000:])
        cur.execute(f"""insert into {STAGING_SCHEMA}.dbt_models values ('ingest', %s)
                        on conflict (name) do update set checksum = excluded.checksum""", (checksum,))
    return True


def _models_built(cur, checksum: str, n_sources: int) -> bool:
    """The diff view exists, was built from these model files and reads every source's staging table."""
    cur.execute(f"select checksum from {STAGING_SCHEMA}.dbt_models where name = 'ingest'")
    row = cur.fetchone()
    cur.execute("""select count(*) from information_schema.view_table_usage
                   where view_schema = %s and table_schema = %s and view_name = 'ingest_stg_' || substr(table_name, 5)""",
                (settings.DBT_SCHEMA, STAGING_SCHEMA))
    linked = cur.fetchone()[0]
    cur.execute("select to_regclass(%s)", (f"{settings.DBT_SCHEMA}.ingest_acteur_diff",))
    built = cur.fetchone()[0] is not None
    return bool(row and row[0] == checksum and built and linked >= n_sources)


# -- one source -----------------------------------------------------------------------------------------

def _state(conn, code: str) -> dict | None:
    with conn.cursor() as cur:
        cur.execute("""select finalized_at, data_updated_at, row_count, last_status, last_success_at
                       from ingest_state where source_code = %s""", (code,))
        row = cur.fetchone()
    if not row:
        return None
    return dict(zip(["finalized_at", "data_updated_at", "row_count", "last_status", "last_success_at"], row))


def _record_state(conn, cfg: SourceConfig, status: str, message: str, meta: dict | None = None) -> None:
    """Bookkeeping; finalizedAt/count are only stored with a success (they drive the skip)."""
    with conn.cursor() as cur:
        if status == "success" and meta is not None:
            cur.execute("""
                insert into ingest_state (source_code, dataset_id, finalized_at, data_updated_at, row_count,
                                          last_status, last_message, last_success_at)
                values (%s, %s, %s, %s, %s, %s, %s, now())
                on conflict (source_code) do update set dataset_id = excluded.dataset_id,
                    finalized_at = excluded.finalized_at, data_updated_at = excluded.data_updated_at,
                    row_count = excluded.row_count, last_status = excluded.last_status,
                    last_message = excluded.last_message, last_success_at = now()""",
                        (cfg.code, cfg.dataset, str(meta.get("finalizedAt") or ""),
                         str(meta.get("dataUpdatedAt") or ""), meta.get("count"), status, message))
        else:
            cur.execute("""
                insert into ingest_state (source_code, dataset_id, last_status, last_message)
                values (%s, %s, %s, %s)
                on conflict (source_code) do update set last_status = excluded.last_status,
                    last_message = excluded.last_message""", (cfg.code, cfg.dataset, status, message))


def _check_schema(cfg: SourceConfig, schema: list[dict]) -> list[str]:
    keys = {c.get("key") for c in schema}
    missing = [c for c in cfg.source_columns() if c not in keys]
    if missing:
        targets = {v: k for k, v in cfg.columns.items()}
        detail = ", ".join(f"{c!r} (-> {targets.get(c, 'identifiant_externe')})" for c in missing)
        raise GuardError(
            f"{cfg.code}: {len(missing)} mapped column(s) missing from the schema of dataset {cfg.dataset}: {detail}; "
            f"the dataset now has {sorted(k for k in keys if k and not k.startswith('_'))}. Nothing applied: "
            f"update data_platform/ingest/sources/{cfg.code}.yml if the rename is intended.")
    return [c for c in cfg.source_columns()] + (["_geopoint"] if cfg.geopoint_fallback and "_geopoint" in keys else [])


class _RowBatch:
    """Rows -> COPY (db.connection.copy_rows), one page at a time."""

    def __init__(self):
        self.rows = []

    def add(self, values) -> None:
        self.rows.append(values)

    def flush(self, conn, table: str, columns: list[str], schema: str | None = None) -> int:
        if not self.rows:
            return 0
        n = copy_rows(conn, table, columns, self.rows, schema=schema)
        self.rows = []
        return n


def _stage(conn, cfg: SourceConfig, client: DataFairClient, select: list[str], opts: IngestOptions,
           if_modified_since: str | None, result: SourceResult) -> None:
    """Transaction 1: the feed, cleaned, into ingest.stg_<code>; rejected rows recorded."""
    stats = RowStats()
    with conn.cursor() as cur:
        cur.execute(sql.SQL("truncate {}").format(sql.Identifier(STAGING_SCHEMA, f"stg_{cfg.code}")))
    rows, rejected = _RowBatch(), _RowBatch()
    line = 0
    for page in client.iter_pages(cfg.dataset, select=select, filters=cfg.resolved_filters(opts.year),
                                  size=opts.page_size or cfg.page_size, if_modified_since=if_modified_since,
                                  fmt=cfg.format):
        for raw in page.results:
            line += 1
            row, rejection = clean_row(raw, cfg, stats)
            if row is None:
                rejected.add([opts.run_id, cfg.code, line, rejection.field, rejection.reason,
                              json.dumps(raw, ensure_ascii=False, default=str)])
                result.rows_rejected += 1
            else:
                rows.add([line] + [row[c] for c in ACTEUR_COLUMNS])
        result.rows_staged += rows.flush(conn, f"stg_{cfg.code}", STAGING_COLUMNS, schema=STAGING_SCHEMA)
        rejected.flush(conn, "ingest_rejected_row", ["run_id", "source_code", "line", "field", "reason", "raw"])
    result.rows_read = line
    result.invalid_fields = dict(stats.invalid)
    with conn.cursor() as cur:  # fresh statistics: the diff's plan depends on them (anti-join sizes)
        cur.execute(sql.SQL("analyze {}").format(sql.Identifier(STAGING_SCHEMA, f"stg_{cfg.code}")))


def _apply(conn, cfg: SourceConfig, opts: IngestOptions, meta: dict, result: SourceResult) -> None:
    """Transaction 2: guards, then the diff applied with set-based SQL, and the bookkeeping."""
    with conn.cursor() as cur:
        present, vanished = _freeze_diff(cur, cfg.code, result)
        _guard_deletions(cfg, opts, meta, result, present, vanished)
        _apply_diff(cur, result, present)
    result.message = _applied_message(result)
    result.status = "applied"
    _record_state(conn, cfg, "success", result.message, meta)


def _freeze_diff(cur, code: str, result: SourceResult) -> tuple[int, int]:
    """The source's diff into a temp table; counts its duplicates. Returns (actors the source has
    now, ACTIF or INACTIF; how many of them vanished from the feed)."""
    cur.execute(f"create temp table _ingest_diff on commit drop as select * from {DIFF_VIEW.as_string(cur.connection)} where source = %s"
                , (code,))
    cur.execute("analyze _ingest_diff")
    cur.execute("select change_type, count(*) from _ingest_diff group by 1")
    vanished = dict(cur.fetchall()).get("vanished", 0)
    cur.execute("select count(*) from acteur where source = %s and statut in ('ACTIF', 'INACTIF')", (code,))
    present = cur.fetchone()[0]
    cur.execute(sql.SQL("select count(*) - count(distinct identifiant_unique) from {}").format(
        sql.Identifier(STAGING_SCHEMA, f"stg_{code}")))
    result.duplicates = cur.fetchone()[0]
    return present, vanished


def _guard_deletions(cfg: SourceConfig, opts: IngestOptions, meta: dict, result: SourceResult,
                     present: int, vanished: int) -> None:
    """Refuse a feed that would mark more than the allowed share of the source's actors SUPPRIME."""
    share = cfg.max_deleted_share if opts.max_deleted_share is None else opts.max_deleted_share
    if present and vanished > share * present:
        raise GuardError(
            f"{cfg.code}: the feed would mark {vanished} of {present} actors SUPPRIME "
            f"({vanished / present:.1%} > max {share:.0%}); it has {result.rows_staged} usable rows "
            f"(dataset count {meta.get('count')}). Treated as a broken feed: nothing applied "
            f"(raise max_deleted_share to accept it).")


def _apply_diff(cur, result: SourceResult, present: int) -> None:
    """Set-based INSERT / UPDATE / mark SUPPRIME from _ingest_diff; the départements it touched."""
    from data_platform.assets import touched_departements  # (airflow.sdk: imported only when applying)

    # the départements to cluster again, by dbt's rule, before and after the change (read before the apply)
    result.departements = touched_departements(cur)
    cols = ", ".join(UPDATABLE)
    cur.execute(f"""
        insert into acteur (identifiant_unique, source, {cols}, statut, cree_le, modifie_le)
        select identifiant_unique, source, {cols}, 'ACTIF', now(), now()
        from _ingest_diff where change_type = 'new'""")
    result.inserted = cur.rowcount
    sets = ", ".join(f"{c} = d.{c}" for c in UPDATABLE)
    cur.execute(f"""
        update acteur a set {sets},
            statut = case when a.statut = 'SUPPRIME' then 'ACTIF' else a.statut end, modifie_le = now()
        from _ingest_diff d
        where d.change_type = 'changed' and a.identifiant_unique = d.identifiant_unique""")
    result.updated = cur.rowcount
    cur.execute("""
        update acteur a set statut = 'SUPPRIME', modifie_le = now()
        from _ingest_diff d
        where d.change_type = 'vanished' and a.identifiant_unique = d.identifiant_unique
          and a.statut in ('ACTIF', 'INACTIF')""")
    result.deleted = cur.rowcount
    if result.inserted + result.deleted > max(1000, present // 10):
        cur.execute("analyze acteur")  # a bulk change: keep the next source's diff plan right


def _applied_message(result: SourceResult) -> str:
    if result.changed:
        return (f"applied: {result.inserted} new, {result.updated} changed, {result.deleted} "
                f"marked SUPPRIME, {result.rows_rejected} rejected rows")
    return f"no change: the feed matches acteur ({result.rows_staged} rows, {result.rows_rejected} rejected)"


def ingest_source(cfg: SourceConfig, opts: IngestOptions) -> SourceResult:
    """Ingest one source. Raises IngestError (after recording it in ingest_state) on failure."""
    started = time.monotonic()
    result = SourceResult(source=cfg.code)
    url = opts.database_url or settings.database_url()
    client = DataFairClient(opts.base_url or cfg.api_base, policy=opts.policy)
    opts.run_id = opts.run_id or f"ingest_{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    with connect(url, autocommit=True) as lock_conn, _source_lock(lock_conn, cfg.code):
        try:
            _ingest_locked(cfg, opts, client, url, result)
        except Exception as exc:
            error = _record_failure(cfg, url, result, exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            result.requests, result.retries = client.requests_made, client.retries
            result.seconds = round(time.monotonic() - started, 3)
    log.info("%s: %s", cfg.code, result.message)
    return result


@contextmanager
def _source_lock(lock_conn, code: str):
    """One ingestion per source at a time (a session advisory lock, released on exit)."""
    with lock_conn.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(hashtext('data_platform.ingest.' || %s))", (code,))
        if not cur.fetchone()[0]:
            raise IngestError(f"{code}: another ingestion of this source is running")
    try:
        yield
    finally:
        with lock_conn.cursor() as cur:
            cur.execute("select pg_advisory_unlock(hashtext('data_platform.ingest.' || %s))", (code,))


def _ingest_locked(cfg: SourceConfig, opts: IngestOptions, client: DataFairClient, url: str,
                   result: SourceResult) -> None:
    """Skip an unchanged dataset, else stage and apply it; a skip is recorded in ingest_state."""
    meta = client.dataset(cfg.dataset)
    result.finalized_at = str(meta.get("finalizedAt") or "")
    with connect(url) as conn:
        state = _state(conn, cfg.code)
    if _unchanged(state, result.finalized_at, meta) and not opts.force:
        result.status = "skipped"
        result.message = f"skipped: unchanged since {result.finalized_at} ({meta.get('count')} rows)"
    else:
        _stage_and_apply(cfg, opts, client, url, state, meta, result)
    if result.status == "skipped":
        with connect(url) as conn:
            _record_state(conn, cfg, "skipped", result.message)


def _succeeded_before(state: dict | None) -> bool:
    return bool(state and state["last_success_at"] is not None)


def _unchanged(state: dict | None, finalized_at: str, meta: dict) -> bool:
    """The dataset's finalizedAt and row count are those of the last successful ingestion (and the
    portal publishes them: without either there is nothing to compare, see _if_modified_since)."""
    return (_succeeded_before(state) and not _metadata_missing(finalized_at, meta)
            and state["finalized_at"] == finalized_at and state["row_count"] == meta.get("count"))


def _metadata_missing(finalized_at: str, meta: dict) -> bool:
    return not finalized_at and meta.get("count") is None


def _if_modified_since(state: dict | None, meta: dict, opts: IngestOptions) -> str | None:
    """The conditional header of /lines, only when the metadata cannot tell (no finalizedAt and no
    count published). Metadata that differs from what is stored (a date moving backwards, another
    count) always means an unconditional fetch: a 304 then would contradict the metadata."""
    if opts.force or not _succeeded_before(state) or not _metadata_missing(str(meta.get("finalizedAt") or ""), meta):
        return None
    return http_date(state["data_updated_at"])


def _stage_and_apply(cfg: SourceConfig, opts: IngestOptions, client: DataFairClient, url: str,
                     state: dict | None, meta: dict, result: SourceResult) -> None:
    """Transaction 1 (staging), then transaction 2 (apply); HTTP 304 on the first page is a skip
    only when the request was conditional (the metadata could not tell)."""
    select = _check_schema(cfg, client.schema(cfg.dataset))
    ims = _if_modified_since(state, meta, opts)
    t0 = time.monotonic()
    try:
        with connect(url) as conn:
            _stage(conn, cfg, client, select, opts, ims, result)
    except NotModified:
        result.status = "skipped"
        result.message = f"skipped: not modified since {state['data_updated_at']} (HTTP 304)"
        return
    result.fetch_seconds = round(time.monotonic() - t0, 3)
    t0 = time.monotonic()
    with connect(url) as conn:
        _apply(conn, cfg, opts, meta, result)
        with conn.cursor() as cur:  # the apply transaction's time: modifie_le of every row it wrote
            cur.execute("select now()")
            applied_at = cur.fetchone()[0]
    result.apply_seconds = round(time.monotonic() - t0, 3)
    if result.changed:  # after the commit: the match index follows, new duplicates are suggested at once
        from data_platform.match.hooks import after_ingest

        result.match = after_ingest(cfg.code, applied_at, opts.run_id, url)


def _record_failure(cfg: SourceConfig, url: str, result: SourceResult, exc: Exception) -> IngestError:
    """Record the failure in ingest_state; returns the IngestError to raise (exc itself when it is one)."""
    error = exc if isinstance(exc, IngestError) else IngestError(f"{cfg.code}: {exc}")
    result.status = "failed"
    result.message = str(error)
    with connect(url) as conn:
        _record_state(conn, cfg, "failed", result.message[:2000])
    error.result = result
    return error


def ingest(codes: list[str] | None = None, opts: IngestOptions | None = None) -> list[SourceResult]:
    """Ingest sources one after the other; a failing source does not stop the others."""
    opts = opts or IngestOptions()
    sources = load_sources(codes)
    ensure_models(opts.database_url)
    results = []
    for cfg in sources:
        try:
            results.append(ingest_source(cfg, opts))
        except IngestError as exc:
            log.error("%s", exc)
            results.append(getattr(exc, "result", None) or SourceResult(cfg.code, "failed", str(exc)))
    return results
