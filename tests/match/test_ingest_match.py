"""Ingestion uses the match index: a new actor that duplicates a known one is suggested at once, in its own cohort,
and the index follows ingestion and apply."""
from __future__ import annotations

import pytest

from data_platform.ingest.config import load_sources
from data_platform.ingest.pipeline import ingest_source
from tests.ingest.conftest import ingest_db, options, replay  # noqa: F401 - fixtures


def _one(conn, query, params=None):
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()


@pytest.fixture
def no_index_after(ingest_db):  # noqa: F811
    """The match index is dropped after the test, whatever happens: other tests' ingestions must not find one."""
    yield
    ingest_db.rollback()
    with ingest_db.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    ingest_db.commit()


def test_ingested_duplicate_yields_a_suggestion_in_its_own_cohort(db, ingest_db, options, no_index_after):  # noqa: F811
    from data_platform.match import index
    from data_platform.suggestions.apply import apply_approved

    conn = ingest_db
    with conn.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    conn.commit()
    cfg = load_sources(["ecosystem"])[0]
    first = ingest_source(cfg, options(run_id="first"))
    assert first.status == "applied" and first.match == {"index": "absent"}

    # one of the feed's places is already known under another source (respelled); the feed's copy is gone
    with conn.cursor() as cur:
        cur.execute("""select identifiant_unique from acteur where nom <> '' and adresse <> '' and code_postal <> ''
                       and latitude is not null order by identifiant_unique limit 1""")
        (dup,) = cur.fetchone()
        cur.execute("""insert into acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, adresse,
                           code_postal, ville, latitude, longitude, telephone, statut, cree_le, modifie_le)
                       select 'cma_known1', 'known1', 'cma', acteur_type, upper(nom), adresse, code_postal, ville,
                              latitude + 0.00005, longitude, telephone, 'ACTIF', now(), now()
                       from acteur where identifiant_unique = %s""", (dup,))
        cur.execute("delete from acteur where identifiant_unique = %s", (dup,))
    conn.commit()
    index.rebuild(conn, refresh_dbt=True)
    conn.commit()
    assert _one(conn, "select count(*) from match.acteur_index where identifiant_unique = %s", (dup,)) == (0,)

    again = ingest_source(cfg, options(run_id="second", force=True))
    assert again.inserted == 1
    suggest = again.match["suggest"]
    assert (suggest["new"], suggest["matched"], suggest["clusters"], suggest["suggestions"]) == (1, 1, 1, 1)
    assert again.match["refresh"]["indexed"] == 1  # the new actor is known from now on
    assert _one(conn, "select count(*) from match.acteur_index where identifiant_unique = %s", (dup,)) == (1,)

    cohort = _one(conn, "select id, run_id, type_action, dag_id, compteurs -> 'suggestions' from suggestion_cohorte")
    assert cohort[1:] == ("match:second", "ingestion", "ingest_sources", 1)
    sid, statut, membres, score, changes = _one(
        conn, "select id, statut, membres, score, changes from suggestion where cohorte_id = %s", (cohort[0],))
    assert statut == "to_review" and score >= 0.75
    parent = [c["identifiant_unique"] for c in changes if c["type"] == "acteur_create_as_parent"]
    assert sorted(membres) == sorted([dup, "cma_known1", *parent]) and len(parent) == 1
    assert _one(conn, "select count(*) from cluster_membership where run_id = 'match:second'") == (2,)

    # the next clustering run's report counts the suggestions made at ingestion since the previous run
    from data_platform.report.run_report import gather, render

    with conn.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, dag_run_id, params, status, error, stage_seconds, report_path,"
                    " started_at) values ('nightly', '', '{}', 'running', '', '{}', '', clock_timestamp())")
    conn.commit()
    data = gather(conn, "nightly")
    assert data["at_ingestion"] == {"suggestions": 1, "cohorts": 1}
    assert "suggérées dès l&#x27;ingestion" in render("nightly", data) or "suggérées dès l'ingestion" in render(
        "nightly", data)

    # approved and applied: the two actors are now hidden behind their new parent, which the index knows
    with conn.cursor() as cur:
        cur.execute("update suggestion set statut = 'approved' where id = %s", (sid,))
    conn.commit()
    counts = apply_approved(conn)
    assert counts["applied"] == 1 and counts["match_index"]["refreshed"] == 3
    with conn.cursor() as cur:
        cur.execute("select identifiant_unique from match.acteur_index where identifiant_unique = any(%s) order by 1",
                    ([dup, "cma_known1", parent[0]],))
        assert [r[0] for r in cur.fetchall()] == parent
