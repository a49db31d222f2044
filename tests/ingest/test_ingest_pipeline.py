"""End to end on PostgreSQL: replay server -> staging (COPY) -> dbt diff -> apply to acteur."""
from __future__ import annotations

import pytest

from data_platform.ingest.config import load_sources
from data_platform.ingest.pipeline import GuardError, IngestError, ingest, ingest_source

ALL_FIELDS = """select identifiant_unique, identifiant_externe, source, acteur_type, nom, nom_commercial, siren, siret,
                         adresse, adresse_complement, code_postal, ville, latitude, longitude, telephone, email, url,
                         statut, modifie_le from acteur order by identifiant_unique"""


def _cfg(code):
    return load_sources([code])[0]


def _snapshot(conn, source=None):
    with conn.cursor() as cur:
        cur.execute("""select identifiant_unique, nom, telephone, code_postal, statut, modifie_le from acteur
                       where %(s)s is null or source = %(s)s order by 1""", {"s": source})
        return cur.fetchall()


def _count(conn, where="true", params=None):
    with conn.cursor() as cur:
        cur.execute("select count(*) from acteur where " + where, params)
        return cur.fetchone()[0]


def test_first_run_then_unchanged_second_run(ingest_db, options):
    results = ingest(None, options())
    assert {r.source: r.status for r in results} == {c.code: "applied" for c in load_sources()}
    by = {r.source: r for r in results}
    assert by["refashion"].inserted + by["refashion"].rows_rejected == 45
    assert by["sinoe"].inserted == 25  # one year only (ANNEE_eq)
    total = _count(ingest_db)
    assert total == sum(r.inserted for r in results) and total > 200
    assert _count(ingest_db, "statut = 'ACTIF' and identifiant_unique like source || '\\_%%'") == total
    assert {"01", "2A", "2B", "974"} <= set(by["ecosystem"].departements) | set(by["refashion"].departements) \
        | set(by["corepile"].departements) | set(by["ecomaison"].departements)
    before = _snapshot(ingest_db)

    again = ingest(None, options())
    assert {r.status for r in again} == {"skipped"}
    assert all(r.message.startswith("skipped: unchanged since 2026-") for r in again)
    assert _snapshot(ingest_db) == before

    forced = ingest(["refashion"], options(force=True))[0]
    assert (forced.status, forced.inserted, forced.updated, forced.deleted) == ("applied", 0, 0, 0)
    assert forced.message.startswith("no change")
    assert _snapshot(ingest_db) == before
    with ingest_db.cursor() as cur:
        cur.execute("select last_status, row_count from ingest_state where source_code = 'refashion'")
        assert cur.fetchone() == ("success", 45)


def test_rejected_rows_recorded(ingest_db, options):
    result = ingest_source(_cfg("ecosystem"), options(run_id="run_rej"))
    with ingest_db.cursor() as cur:
        cur.execute("select run_id, source_code, line, field, reason, raw from ingest_rejected_row order by line")
        rows = cur.fetchall()
    assert len(rows) == result.rows_rejected >= 1
    assert result.inserted == 60 - result.rows_rejected
    for run_id, source, line, field, reason, raw in rows:
        assert (run_id, source) == ("run_rej", "ecosystem") and line >= 1
        assert field in ("id_point_apport_ou_reparation", "nom_de_lorganisme")
        assert reason.startswith(("empty identifier", "empty name")) and isinstance(raw, dict)


def test_new_version_inserts_updates_and_marks_vanished(ingest_db, options, replay):
    cfg = _cfg("ecosystem")
    ingest_source(cfg, options())
    with ingest_db.cursor() as cur:
        cur.execute("update acteur set statut = 'INACTIF' where identifiant_unique = (select min(identifiant_unique) from acteur)")
    ingest_db.commit()
    before = {r[0]: r for r in _snapshot(ingest_db)}
    replay.set_version(1)   # 2% gone, ~3% changed, 2% new
    r = ingest_source(cfg, options())
    assert r.status == "applied" and r.inserted >= 1 and r.updated >= 1 and r.deleted >= 1
    after = {row[0]: row for row in _snapshot(ingest_db)}
    deleted = [k for k, v in after.items() if v[4] == "SUPPRIME"]
    assert len(deleted) == r.deleted and all(before[k][4] in ("ACTIF", "INACTIF") for k in deleted)
    changed = [k for k in before if k in after and after[k][:4] != before[k][:4]]
    assert len(changed) == r.updated and all(after[k][5] > before[k][5] for k in changed)
    assert len(after) - len(before) == r.inserted
    untouched = [k for k in before if k in after and after[k] == before[k]]
    assert len(untouched) == len(before) - r.updated - r.deleted
    # a vanished actor that comes back is ACTIF again
    replay.set_version(0)
    back = ingest_source(cfg, options())
    assert back.updated >= r.deleted and back.deleted == r.inserted  # v1's new rows are gone again
    assert _count(ingest_db, "statut = 'ACTIF' and identifiant_unique = any(%s)", (deleted,)) == len(deleted)


@pytest.mark.parametrize("fault", [{"429": 3}, {"500": 2}, {"truncate": 2}, {"slow": 0.5, "slow_count": 1}])
def test_transient_faults_apply_correctly(ingest_db, options, replay, fault):
    replay.set_faults(**fault)
    r = ingest_source(_cfg("refashion"), options(read_timeout=0.25))
    assert r.status == "applied" and r.retries >= 1
    assert _count(ingest_db, "source = 'refashion'") == 45 - r.rows_rejected


def test_feed_broken_mid_stream_leaves_acteur_unchanged(ingest_db, options, replay):
    cfg = _cfg("refashion")
    ingest_source(cfg, options())
    before = _snapshot(ingest_db)
    replay.set_version(1)
    replay.set_faults(fail_page=3)
    with pytest.raises(IngestError, match="failed after 4 attempts: HTTP 500"):
        ingest_source(cfg, options())
    assert _snapshot(ingest_db) == before
    with ingest_db.cursor() as cur:
        cur.execute("select last_status, last_message, row_count from ingest_state where source_code = 'refashion'")
        status, message, count = cur.fetchone()
    assert status == "failed" and "HTTP 500" in message and count == 45  # last success kept
    # once the portal is fixed, the run applies the new version
    replay.set_faults()
    assert ingest_source(cfg, options()).updated >= 1


def test_mass_deletion_guard(ingest_db, options, replay):
    cfg = _cfg("ecomaison")
    ingest_source(cfg, options())
    before = _snapshot(ingest_db)
    replay.set_faults(drop_half=True)
    with pytest.raises(GuardError) as exc:
        ingest_source(cfg, options())
    message = str(exc.value)
    assert "ecomaison: the feed would mark" in message and "> max 10%" in message and "nothing applied" in message
    assert _snapshot(ingest_db) == before
    # an operator who knows better accepts it explicitly
    r = ingest_source(cfg, options(max_deleted_share=0.6))
    assert r.deleted >= 10 and _count(ingest_db, "statut = 'SUPPRIME'") == r.deleted


def test_lost_column_guard(ingest_db, options, replay):
    cfg = _cfg("batribox")
    ingest_source(cfg, options())
    before = _snapshot(ingest_db)
    replay.set_faults(rename={"adresse_format_ban": "adresse_ban"})
    with pytest.raises(GuardError, match=r"1 mapped column\(s\) missing from the schema of dataset donnees-eo-batribox: "
                       r"'adresse_format_ban' \(-> adresse_ban\); the dataset now has \['adresse_ban'"):
        ingest_source(cfg, options())
    assert _snapshot(ingest_db) == before


def test_if_modified_since_304_skips(ingest_db, options, replay):
    """Only when the metadata cannot tell (no finalizedAt, no count) is /lines asked conditionally."""
    cfg = _cfg("aliapur")
    replay.set_faults(bare_metadata=True)
    ingest_source(cfg, options())
    r = ingest_source(cfg, options())
    assert r.status == "skipped" and "HTTP 304" in r.message
    assert any(h for h in replay.state.requests if "/lines" in h)


def test_count_that_differs_means_fetch(ingest_db, options, replay):
    cfg = _cfg("aliapur")
    ingest_source(cfg, options())
    with ingest_db.cursor() as cur:  # the stored count differs from the portal's: fetch, unconditionally
        cur.execute("update ingest_state set row_count = -1 where source_code = 'aliapur'")
    ingest_db.commit()
    r = ingest_source(cfg, options())
    assert r.status == "applied" and r.message.startswith("no change") and r.rows_read == 20


def test_dates_going_backwards_mean_fetch(ingest_db, options, replay):
    """A portal restores an older publication: finalizedAt moves back, the rows change. The 304 its
    clock would give to If-Modified-Since (stored date) is not asked for: the new rows are applied."""
    cfg = _cfg("corepile")
    first = ingest_source(cfg, options())
    replay.set_version(1)
    replay.set_faults(rewind=48)
    r = ingest_source(cfg, options(max_deleted_share=1.0))
    assert r.finalized_at < first.finalized_at
    assert r.status == "applied" and r.inserted + r.updated + r.deleted > 0
    with ingest_db.cursor() as cur:
        cur.execute("select finalized_at, last_status from ingest_state where source_code = 'corepile'")
        assert cur.fetchone() == (r.finalized_at, "success")


def test_304_that_lies_is_a_failure(ingest_db, options, replay):
    cfg = _cfg("aliapur")
    ingest_source(cfg, options())
    replay.set_version(1)
    replay.set_faults(lie_304=True)
    before = _snapshot(ingest_db)
    with pytest.raises(IngestError, match="HTTP 304 Not Modified to a request without If-Modified-Since"):
        ingest_source(cfg, options(max_deleted_share=1.0))
    assert _snapshot(ingest_db) == before


def test_other_sources_untouched(ingest_db, options):
    ingest(["corepile", "sinoe"], options())
    sinoe = _snapshot(ingest_db, "sinoe")
    ingest_source(_cfg("corepile"), options(force=True, max_deleted_share=1.0))
    assert _snapshot(ingest_db, "sinoe") == sinoe


def test_dbt_models_cover_every_configured_source():
    """Adding a source file means adding its staging model and listing it in var ingest_sources, the one list
    the dbt models loop over (dbt_project.yml)."""
    import yaml

    from data_platform.ingest.pipeline import MODELS_DIR

    codes = sorted(c.code for c in load_sources())
    assert sorted(p.stem.removeprefix("ingest_stg_") for p in MODELS_DIR.glob("ingest_stg_*.sql")) == codes
    project = yaml.safe_load((MODELS_DIR.parents[1] / "dbt_project.yml").read_text())
    assert sorted(project["vars"]["ingest_sources"]) == codes
    for name in ("ingest_acteur_standard.sql", "ingest_acteur_diff.sql"):
        sql = (MODELS_DIR / name).read_text()
        assert "{%- for code in var('ingest_sources') %}" in sql, name
        assert not [c for c in codes if f"'{c}'" in sql], name  # no second list of the sources
    sources_yml = (MODELS_DIR / "_ingest_sources.yml").read_text()
    assert all(f"name: stg_{c}\n" in sources_yml for c in codes)


def test_failure_inside_apply_rolls_everything_back(ingest_db, options, replay, monkeypatch):
    """A crash after the INSERT/UPDATE statements ran, before commit: acteur and ingest_state unchanged."""
    from data_platform.ingest import pipeline

    cfg = _cfg("corepile")
    first = ingest_source(cfg, options())
    before = _snapshot(ingest_db)
    replay.set_version(1)

    def boom(_result):
        raise RuntimeError("simulated crash in the middle of the apply")

    # after the INSERT / UPDATE / mark SUPPRIME statements, before the state is recorded and committed
    monkeypatch.setattr(pipeline, "_applied_message", boom)
    with pytest.raises(IngestError, match="simulated crash"):
        ingest_source(cfg, options())
    assert _snapshot(ingest_db) == before
    with ingest_db.cursor() as cur:
        cur.execute("select last_status, finalized_at from ingest_state where source_code = 'corepile'")
        status, finalized = cur.fetchone()
    assert status == "failed" and finalized == first.finalized_at  # still the last success's publication


def test_same_source_cannot_run_twice_at_once(ingest_db, options, database_url):
    from data_platform.db.connection import connect

    with connect(database_url, autocommit=True) as other, other.cursor() as cur:
        cur.execute("select pg_advisory_lock(hashtext('data_platform.ingest.' || 'aliapur'))")
        with pytest.raises(IngestError, match="another ingestion of this source is running"):
            ingest_source(_cfg("aliapur"), options())
    assert ingest_source(_cfg("aliapur"), options()).status == "applied"


def test_csv_feed_gives_the_same_actors(ingest_db, options, replay):
    """format=csv (strings, a BOM) and JSON (numbers, nulls) clean to the same acteur rows."""
    import dataclasses

    cfg = _cfg("refashion")
    ingest_source(cfg, options())
    with ingest_db.cursor() as cur:
        cur.execute(ALL_FIELDS)
        from_json = cur.fetchall()
    replay.set_faults(bom=True)
    r = ingest_source(dataclasses.replace(cfg, format="csv"), options(force=True))
    assert (r.status, r.inserted, r.updated, r.deleted) == ("applied", 0, 0, 0)
    with ingest_db.cursor() as cur:
        cur.execute(ALL_FIELDS)
        assert cur.fetchall() == from_json
