"""The match index: the displayed layer (dbt `displayed_acteur`: ACTIF orphans and ACTIF parents, children hidden
behind their parent) as one PostgreSQL table, `match.acteur_index`, ready for real-time look-ups.

One row per displayed actor: its raw name/address (for answers), the selection's normalized fields (computed by
`cluster.normalize.normalize_frame`, the same function that normalizes the records looked up, so that a verbatim
copy compares exactly), the inputs of `cluster.comparisons.compare` precomputed (`comparisons.derived`: names
with the city stripped, French phonetic keys, house number / street, e-mail or site domain, city), the
partition frequencies of its name, commercial name and address (term-frequency adjustment, as in a clustering
partition: counted within its département) and the blocking keys, each indexed:
- SIRET, phone (btree, non-empty values);
- coarse phonetic name key (`candidates.phonetic_fr`) within the département (btree);
- coordinates (GiST on point(longitude, latitude): nearest neighbours within a box);
- normalized name within the département (GIN, pg_trgm trigrams + btree_gin: `%` similarity).
`match.departement_size` holds the actors per département (the prior of a pair, as in a run's partition).

Built in bulk (`rebuild`: optionally dbt's `displayed` selector first, then one COPY out of displayed_acteur,
vectorized derivation, COPY into a fresh table, indexes, swapped in by rename in one transaction), refreshed for
touched ids (`refresh_ids`: ingestion and apply call it after their commits) from the live staging views with
`CONSOLIDATED_SQL`, the rule of int_acteur_consolide + displayed_acteur for a set of ids (tests/match checks it
gives displayed_acteur's rows). Without an index (never built), `refresh_ids` does nothing.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from psycopg2 import sql

from data_platform.cluster.candidates import phonetic_fr
from data_platform.cluster.comparisons import Derived, _address_key, derived
from data_platform.cluster.normalize import normalize_frame
from data_platform.cluster.scoring import Arrays
from data_platform.db.connection import copy_dataframe, fetch_df

log = logging.getLogger(__name__)

SCHEMA = "match"
TABLE = "acteur_index"
SIZES = "departement_size"
INDEX = sql.Identifier(SCHEMA, TABLE)
SIZES_TABLE = sql.Identifier(SCHEMA, SIZES)
EXTENSIONS = ("pg_trgm", "btree_gin")

# raw consolidated fields read from the displayed layer (and given by the records looked up)
RAW_COLUMNS = ["identifiant_unique", "source", "acteur_type", "est_parent", "nom", "nom_commercial", "siren", "siret",
               "adresse", "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url"]
NORM_COLUMNS = ["nom_norm", "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm",
                "siren_norm", "telephone_norm", "departement"]
# comparisons.Derived, precomputed: names (nom, nom_commercial, both with the city stripped), their phonetic keys
DERIVED_COLUMNS = ["nom_strip", "nom_commercial_strip", "phon_nom", "phon_nom_commercial", "phon_nom_strip",
                   "phon_nom_commercial_strip", "house_number", "street", "domain", "ville_cmp", "address_key"]
FREQ_COLUMNS = ["nom_freq", "nom_commercial_freq", "adresse_freq"]
KEY_COLUMNS = ["nom_key"]
TEXT = ["identifiant_unique", "source", "acteur_type", "nom", "nom_commercial", "adresse", "code_postal", "ville",
        *NORM_COLUMNS, *DERIVED_COLUMNS, *KEY_COLUMNS]
COLUMNS = [*TEXT, "est_parent", "latitude", "longitude", *FREQ_COLUMNS]

_DDL = """
create table {table} (
    identifiant_unique text primary key,
""" + "".join(f"    {c} text not null default '',\n" for c in TEXT[1:]) + """
    est_parent boolean not null default false,
    latitude double precision,
    longitude double precision,
    nom_freq integer not null default 0,
    nom_commercial_freq integer not null default 0,
    adresse_freq integer not null default 0
)"""
# (name suffix, definition); built after the bulk COPY
_INDEXES = [
    ("siret", "(siret_norm) where siret_norm <> ''"),
    ("tel", "(telephone_norm) where telephone_norm <> ''"),
    ("nomkey", "(nom_key, departement) where nom_key <> ''"),
    ("geo", "using gist (point(longitude, latitude)) where latitude is not null and longitude is not null"),
    ("trgm", "using gin (departement, nom_norm gin_trgm_ops) where nom_norm <> ''"),
    ("fnom", "(departement, nom_norm)"),
    ("fnomc", "(departement, nom_commercial_norm)"),
    ("faddr", "(departement, address_key) where address_key <> ''"),
]


# ---------------------------------------------------------------- rows of the index (vectorized)

def index_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Index rows (COLUMNS, frequencies 0) of raw consolidated rows (RAW_COLUMNS; missing ones empty): the
    normalized fields, the comparisons' derived inputs and the blocking keys. Also used for the records looked
    up, so both sides are derived by one function."""
    missing = {c: np.nan if c in ("latitude", "longitude") else "" for c in RAW_COLUMNS if c not in raw.columns}
    df = raw.assign(**missing) if missing else raw
    text = [c for c in RAW_COLUMNS if c not in ("latitude", "longitude", "est_parent")]
    if df[text].isna().to_numpy().any():
        df = df.assign(**{c: df[c].fillna("").astype(str) for c in text})
    df = normalize_frame(df.drop(columns=[c for c in NORM_COLUMNS if c in df.columns]))
    arr = Arrays.from_frame(df)
    der = derived(arr)
    cols = {c: df[c].to_numpy(dtype=object) for c in
            ["identifiant_unique", "source", "acteur_type", "nom", "nom_commercial", "adresse", "code_postal",
             "ville", *NORM_COLUMNS]}
    cols.update(zip(DERIVED_COLUMNS, [der.names[2], der.names[3], *der.phonetic, der.house_number, der.street,
                                      der.domain, der.ville, _address_key(der.house_number, der.street)]))
    cols["nom_key"] = phonetic_fr(cols["nom_norm"])
    cols.update(est_parent=arr.est_parent, latitude=arr.lat, longitude=arr.lon)
    zeros = np.zeros(len(df), dtype=np.int64)
    cols.update({c: zeros for c in FREQ_COLUMNS})
    return pd.DataFrame({c: cols[c] for c in COLUMNS})


def derived_from(cols) -> Derived:
    """comparisons.Derived of index-shaped rows (a frame, or a dict of column arrays, text already str), from
    their precomputed columns (no recomputation); the term frequencies are left empty (the caller sets the
    pairs' frequencies from the index)."""
    col = {c: np.asarray(cols[c], dtype=object) for c in ["nom_norm", "nom_commercial_norm", *DERIVED_COLUMNS]}
    return Derived(names=[col["nom_norm"], col["nom_commercial_norm"], col["nom_strip"], col["nom_commercial_strip"]],
                   phonetic=[col["phon_nom"], col["phon_nom_commercial"], col["phon_nom_strip"],
                             col["phon_nom_commercial_strip"]],
                   house_number=col["house_number"], street=col["street"], domain=col["domain"],
                   name_tf={}, address_tf={}, ville=col["ville_cmp"])


def add_frequencies(frame: pd.DataFrame) -> pd.DataFrame:
    """nom_freq / nom_commercial_freq / adresse_freq: actors of the same département holding the value (a row
    counts once per distinct value: its commercial name only when it differs from its name), as
    comparisons._frequency counts a partition."""
    dept = frame["departement"]
    names = pd.concat([pd.DataFrame({"d": dept, "v": frame["nom_norm"]}),
                       pd.DataFrame({"d": dept, "v": frame["nom_commercial_norm"].where(
                           frame["nom_commercial_norm"] != frame["nom_norm"], "")})], ignore_index=True)
    names = names[names["v"] != ""]
    counts = names.groupby(["d", "v"]).size()
    addr = frame.loc[frame["address_key"] != "", ["departement", "address_key"]]
    acounts = addr.groupby(["departement", "address_key"]).size()

    def lookup(series: pd.Series, values: pd.Series, table: pd.Series) -> np.ndarray:
        idx = pd.MultiIndex.from_arrays([series, values])
        return table.reindex(idx).fillna(0).astype(np.int64).to_numpy()

    frame = frame.copy()
    frame["nom_freq"] = lookup(dept, frame["nom_norm"], counts)
    frame["nom_commercial_freq"] = lookup(dept, frame["nom_commercial_norm"], counts)
    frame["adresse_freq"] = lookup(dept, frame["address_key"], acounts)
    return frame


# ---------------------------------------------------------------- bulk build

def exists(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null and to_regclass(%s) is not null",
                    (f"{SCHEMA}.{TABLE}", f"{SCHEMA}.{SIZES}"))
        return bool(cur.fetchone()[0])


def _ensure_schema(cur) -> None:
    cur.execute("select pg_advisory_xact_lock(hashtext('data_platform.match.ddl'))")
    for ext in EXTENSIONS:
        cur.execute(sql.SQL("create extension if not exists {}").format(sql.Identifier(ext)))
    cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))


def rebuild(conn, *, refresh_dbt: bool = True) -> dict:
    """Build the index of the displayed layer from scratch (caller's transaction; readers keep the old table
    until the rename commits). `refresh_dbt`: rebuild dbt's `displayed` selector first (the consolidated layer
    is a table: without it, actors ingested since the last build would be missing)."""
    t0 = time.perf_counter()
    if refresh_dbt:
        from data_platform.dbt_runner import run_dbt

        run_dbt(["build", "--selector", "displayed"])
    t1 = time.perf_counter()
    cols = ", ".join(RAW_COLUMNS)
    raw = fetch_df(conn, f"select {cols} from dbt.displayed_acteur order by identifiant_unique")
    raw["latitude"] = pd.to_numeric(raw["latitude"], errors="coerce")
    raw["longitude"] = pd.to_numeric(raw["longitude"], errors="coerce")
    frame = add_frequencies(index_frame(raw))
    t2 = time.perf_counter()
    new = sql.Identifier(SCHEMA, TABLE + "_new")
    with conn.cursor() as cur:
        _ensure_schema(cur)
        cur.execute(sql.SQL("drop table if exists {}").format(new))
        cur.execute(sql.SQL(_DDL).format(table=new))
    copy_dataframe(conn, TABLE + "_new", frame, schema=SCHEMA, float_format="%.7f")
    with conn.cursor() as cur:
        cur.execute("set local maintenance_work_mem = '256MB'")
        for suffix, definition in _INDEXES:
            cur.execute(sql.SQL("create index {} on {} " + definition).format(
                sql.Identifier(f"{TABLE}_{suffix}_{int(time.time() * 1000) % 10**9}"), new))
        cur.execute(sql.SQL("drop table if exists {}").format(INDEX))
        cur.execute(sql.SQL("alter table {} rename to {}").format(new, sql.Identifier(TABLE)))
        cur.execute(sql.SQL("drop table if exists {}").format(SIZES_TABLE))
        cur.execute(sql.SQL("create table {} (departement text primary key, actors integer not null)").format(
            SIZES_TABLE))
        cur.execute(sql.SQL("insert into {} select departement, count(*) from {} group by 1").format(
            SIZES_TABLE, INDEX))
        cur.execute(sql.SQL("analyze {}").format(INDEX))
    t3 = time.perf_counter()
    return {"actors": len(frame), "seconds": {"dbt": round(t1 - t0, 3), "derive": round(t2 - t1, 3),
                                              "write": round(t3 - t2, 3)}}


# ---------------------------------------------------------------- incremental refresh

# int_acteur_consolide's rule (a non-empty revision value wins, NULL revision coordinates do not override, a
# parent is a revision row without acteur, statut '' is ACTIF) and displayed_acteur's filter (ACTIF, no
# parent), for a set of ids, over the live staging views.
_OVERRIDDEN = ["acteur_type", "nom", "nom_commercial", "siren", "siret", "adresse", "code_postal", "ville",
               "telephone", "email", "url"]
CONSOLIDATED_SQL = """
with a as (select * from dbt.stg_acteur where identifiant_unique = any(%(ids)s)),
r as (select * from dbt.stg_revision_acteur where identifiant_unique = any(%(ids)s)),
c as (
    select coalesce(a.identifiant_unique, r.identifiant_unique) as identifiant_unique,
           coalesce(a.source, r.source) as source,
           """ + ",\n           ".join(f"coalesce(nullif(r.{f}, ''), a.{f}, '') as {f}" for f in _OVERRIDDEN) + """,
           coalesce(r.latitude, a.latitude) as latitude,
           coalesce(r.longitude, a.longitude) as longitude,
           coalesce(nullif(r.statut, ''), a.statut, 'ACTIF') as statut,
           r.parent_id,
           a.identifiant_unique is null as est_parent
    from a full join r on r.identifiant_unique = a.identifiant_unique
)
select """ + ", ".join(RAW_COLUMNS) + """ from c
where statut = 'ACTIF' and parent_id is null
order by identifiant_unique
"""

# a name value's holders in its département (once per row: the commercial name only when it differs from the
# name), for the touched values; then each of the two name columns set from it (two statements: one row is never
# updated twice by one statement)
_NAME_COUNTS_SQL = """
create temp table _match_name_counts on commit drop as
with touched as (select distinct departement, v from _match_keys where v <> '')
select t.departement, t.v, count(i.identifiant_unique) as n
from touched t left join {index} i on i.departement = t.departement
    and (i.nom_norm = t.v or (i.nom_commercial_norm = t.v and i.nom_commercial_norm <> i.nom_norm))
group by 1, 2
"""
_FREQ_SQL = """
update {index} i set {col} = c.n from _match_name_counts c
where i.departement = c.departement and i.{key} = c.v and i.{col} <> c.n
"""
_ADDR_FREQ_SQL = """
with touched as (select distinct departement, a from _match_keys where a <> ''),
counts as (select i.departement, i.address_key as a, count(*) as n from touched t
           join {index} i on i.departement = t.departement and i.address_key = t.a group by 1, 2)
update {index} i set adresse_freq = c.n from counts c
where i.departement = c.departement and i.address_key = c.a and i.adresse_freq <> c.n
"""


def _ensure_staging_views(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('dbt.stg_acteur') is not null and to_regclass('dbt.stg_revision_acteur') "
                    "is not null")
        if cur.fetchone()[0]:
            return
    from data_platform.dbt_runner import run_dbt

    conn.commit()
    run_dbt(["run", "--select", "stg_acteur", "stg_revision_acteur"])


def refresh_ids(conn, ids) -> dict:
    """Bring the index rows of these ids up to date (caller's transaction): delete them, insert those that are
    displayed now (CONSOLIDATED_SQL), recount the frequencies of their old and new values and the sizes of
    their départements. No index: nothing done."""
    ids = sorted({str(i) for i in ids if i})
    if not ids or not exists(conn):
        return {"refreshed": 0, "indexed": 0, "skipped": "no id" if not ids else "no index"}
    _ensure_staging_views(conn)
    raw = fetch_df(conn, CONSOLIDATED_SQL, {"ids": ids})
    raw["latitude"] = pd.to_numeric(raw["latitude"], errors="coerce")
    raw["longitude"] = pd.to_numeric(raw["longitude"], errors="coerce")
    frame = index_frame(raw)
    with conn.cursor() as cur:
        cur.execute("create temp table if not exists _match_keys (departement text, v text, a text) on commit drop")
        cur.execute("truncate _match_keys")
        cur.execute(sql.SQL("""insert into _match_keys
            select departement, unnest(array[nom_norm, nom_commercial_norm]), address_key from {}
            where identifiant_unique = any(%s)""").format(INDEX), (ids,))
        cur.execute(sql.SQL("delete from {} where identifiant_unique = any(%s)").format(INDEX), (ids,))
    if len(frame):
        copy_dataframe(conn, TABLE, frame, schema=SCHEMA, float_format="%.7f")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("""insert into _match_keys
            select departement, unnest(array[nom_norm, nom_commercial_norm]), address_key from {}
            where identifiant_unique = any(%s)""").format(INDEX), (ids,))
        cur.execute("drop table if exists _match_name_counts")
        cur.execute(sql.SQL(_NAME_COUNTS_SQL).format(index=INDEX))
        for col, key in (("nom_freq", "nom_norm"), ("nom_commercial_freq", "nom_commercial_norm")):
            cur.execute(sql.SQL(_FREQ_SQL).format(index=INDEX, col=sql.Identifier(col), key=sql.Identifier(key)))
        cur.execute(sql.SQL(_ADDR_FREQ_SQL).format(index=INDEX))
        cur.execute(sql.SQL("""
            with d as (select distinct departement from _match_keys),
            n as (select d.departement, count(i.identifiant_unique) as actors from d
                  left join {index} i on i.departement = d.departement group by 1)
            insert into {sizes} select departement, actors from n
            on conflict (departement) do update set actors = excluded.actors""").format(
            index=INDEX, sizes=SIZES_TABLE))
    return {"refreshed": len(ids), "indexed": len(frame)}


def refresh_after_commit(ids, url: str | None = None) -> dict:
    """`refresh_ids` in its own transaction, for the hooks of ingestion and apply (called after their commits):
    a failure is logged and reported, never raised (the index is a cache of the displayed layer, rebuilt by
    `data-platform match-index rebuild`; the commit it follows stands)."""
    from data_platform.db.connection import connect

    try:
        with connect(url) as conn:
            return refresh_ids(conn, ids)
    except Exception as exc:  # noqa: BLE001 - the caller's work is committed; say why the index is behind
        log.error("match index not refreshed for %d id(s): %s: %s (run `data-platform match-index rebuild`)",
                  len(list(ids)), type(exc).__name__, exc)
        return {"refreshed": 0, "error": f"{type(exc).__name__}: {exc}"}


def status(conn) -> dict:
    if not exists(conn):
        return {"exists": False}
    with conn.cursor() as cur:
        cur.execute(sql.SQL("select count(*), count(*) filter (where est_parent) from {}").format(INDEX))
        n, parents = cur.fetchone()
        cur.execute(sql.SQL("select count(*) from {}").format(SIZES_TABLE))
        deps = cur.fetchone()[0]
    return {"exists": True, "actors": n, "parents": parents, "departements": deps}
