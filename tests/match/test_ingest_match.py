"""Ingestion uses the match index: a new actor that duplicates a known one is suggested at once, in its own cohort,
and the index follows ingestion and apply."""
from __future__ import annotations

import json

import pytest

from data_platform.ingest.config import load_sources
from data_platform.ingest.pipeline import ingest_source
from data_platform.suggestions import sample
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



def _known_copy_of_a_feed_place(conn) -> str:
    """One place of the ingested feed becomes known under another source (respelled, 5 m away) and the feed's
    own copy is deleted, so that the next ingestion inserts it again; the match index rebuilt. Returns the id of
    the deleted feed copy."""
    from data_platform.match import index

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
    return dup


def test_ingested_duplicate_yields_a_suggestion_in_its_own_cohort(db, ingest_db, options, no_index_after):  # noqa: F811
    from data_platform.suggestions.apply import apply_approved

    conn = ingest_db
    with conn.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    conn.commit()
    cfg = load_sources(["ecosystem"])[0]
    first = ingest_source(cfg, options(run_id="first"))
    assert first.status == "applied" and first.match == {"index": "absent"}

    # one of the feed's places is already known under another source (respelled); the feed's copy is gone
    dup = _known_copy_of_a_feed_place(conn)
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


# -- the two writers of one merge: the ingestion's real-time match and a clustering run started by hand --------------
# Both go through suggestions.write: a cluster pending in another cohort with the same member and data fingerprints
# is skipped, whichever writer came first. The known actors are tests/match/conftest.py's (`known`).

NEW = sample.acteur("refashion_new1", "Resourcerie du Centre", source="refashion", adresse="12, rue de la Paix",
                    code_postal="75002", ville="PARIS", latitude=48.8687, longitude=2.3312, telephone="0142000001")
PAIR = ["ecosystem_e1", NEW["identifiant_unique"]]
# a second new actor of the same ingestion, and later a third copy of the same place
NEW2 = sample.acteur("refashion_new2", "Garage Dubois", source="refashion", adresse="8 boulevard Gambetta",
                     code_postal="33000", ville="Bordeaux", latitude=44.8379, longitude=-0.5792)
THIRD = sample.acteur("ecomaison_third2", "GARAGE DUBOIS", source="ecomaison", adresse="8 bd Gambetta",
                      code_postal="33000", ville="BORDEAUX", latitude=44.8378, longitude=-0.5791)
PAIR2 = ["cma_c1", NEW2["identifiant_unique"]]


def _insert_new(conn, rows):
    """Actors written as ingestion's apply writes new ones (cree_le = modifie_le = its transaction's now())."""
    sample.insert_acteurs(conn, rows)
    conn.commit()
    return _one(conn, "select modifie_le from acteur where identifiant_unique = %s", (rows[0]["identifiant_unique"],))[0]


def _after_ingest(source, applied_at, ingest_run_id):
    """The ingestion's hook for that commit: index refresh, then the real-time match and its suggestions."""
    from data_platform.match import hooks

    out = hooks.after_ingest(source, applied_at, ingest_run_id)
    assert "error" not in out and "error" not in out["suggest"], out
    return out["suggest"]


def _pending_with(conn, ids):
    """(run_id, type_action, sorted membres) of every pending suggestion holding all of `ids`, oldest first."""
    from data_platform.suggestions.write import PENDING_STATUSES

    with conn.cursor() as cur:
        cur.execute("select c.run_id, c.type_action, s.membres from suggestion s "
                    "join suggestion_cohorte c on c.id = s.cohorte_id "
                    "where s.statut = any(%s) and s.membres @> %s::jsonb order by s.id",
                    (list(PENDING_STATUSES), json.dumps(ids)))
        return [(r, t, sorted(m)) for r, t, m in cur.fetchall()]


def _cluster_of(conn, run_id, ids):
    """The members of the run's cluster holding all of `ids` (None when the run did not put them together)."""
    with conn.cursor() as cur:
        cur.execute("select array_agg(identifiant_unique::text order by identifiant_unique) from cluster_membership "
                    "where run_id = %s group by cluster_id having array_agg(identifiant_unique::text) @> %s::text[]",
                    (run_id, list(ids)))
        rows = cur.fetchall()
    return rows[0][0] if rows else None


def _parent_of(membres):
    (parent,) = [m for m in membres if m.startswith("parent_")]
    return parent


def test_a_run_after_the_ingestion_match_skips_the_pending_pair_and_proposes_a_larger_cluster(known):
    from data_platform import pipeline
    from data_platform.suggestions.apply import apply_approved

    conn = known
    suggest = _after_ingest("refashion", _insert_new(conn, [NEW, NEW2]), "ing-1")
    assert (suggest["matched"], suggest["clusters"], suggest["suggestions"]) == (2, 2, 2)
    [(run_id, type_action, membres)] = _pending_with(conn, PAIR)
    assert (run_id, type_action) == ("match:ing-1", "ingestion") and len(membres) == 3
    [(_, _, membres2)] = _pending_with(conn, PAIR2)

    # a third copy of the second place arrives without the hook (a CSV load)
    sample.insert_acteurs(conn, [THIRD])
    conn.commit()
    trio = sorted(PAIR2 + [THIRD["identifiant_unique"]])

    # a run started by hand over the same data: the first pair is the same cluster on the same data, pending in the
    # ingestion cohort, skipped. The second pair comes with the third copy: other members, so by the re-proposal policy
    # (suggestions/write.py) another cluster, proposed; the pair's suggestion stays to review (same members, same
    # data: not stale)
    summary = pipeline.run_all("by-hand-1")
    assert _cluster_of(conn, "by-hand-1", PAIR) == sorted(PAIR)
    assert _cluster_of(conn, "by-hand-1", PAIR2) == trio
    assert (summary["suggestions"]["clusters"], summary["suggestions"]["suggestions"]) == (2, 1)
    assert summary["suggestions"]["skipped"] == {"pending": 1, "rejected": 0}
    assert summary["suggestions"]["stale"] == 0
    assert _pending_with(conn, PAIR) == [("match:ing-1", "ingestion", membres)]
    [(_, _, larger)] = _pending_with(conn, trio)
    assert larger == sorted(trio + [_parent_of(larger)])
    assert _pending_with(conn, PAIR2) == [("match:ing-1", "ingestion", membres2), ("by-hand-1", "clustering", larger)]

    # all approved, the second pair is still merged once: the first applied moves its members, the larger is stale
    with conn.cursor() as cur:
        cur.execute("update suggestion set statut = 'approved' where statut = 'to_review'")
    conn.commit()
    counts = apply_approved(conn)
    assert (counts["applied"], counts["stale"]) == (2, 1)
    with conn.cursor() as cur:
        cur.execute("select c.run_id, s.membres, s.statut from suggestion s "
                    "join suggestion_cohorte c on c.id = s.cohorte_id order by s.id")
        assert sorted((r, sorted(m), st) for r, m, st in cur.fetchall()) == [
            ("by-hand-1", larger, "stale"), *sorted([("match:ing-1", membres, "applied"),
                                                     ("match:ing-1", membres2, "applied")])]
        cur.execute("select parent_id from revision_acteur where identifiant_unique = any(%s)", (PAIR2,))
        assert {r[0] for r in cur.fetchall()} == {_parent_of(membres2)}


def test_the_ingestion_match_after_a_run_skips_the_pair_the_run_proposed(known):
    from data_platform import pipeline

    conn = known
    applied_at = _insert_new(conn, [NEW])  # ingested; the run starts before the ingestion's hook
    summary = pipeline.run_all("by-hand-1")
    assert summary["suggestions"]["suggestions"] == 1
    [(run_id, type_action, membres)] = _pending_with(conn, PAIR)
    assert (run_id, type_action, len(membres)) == ("by-hand-1", "clustering", 3)

    suggest = _after_ingest("refashion", applied_at, "ing-1")
    assert (suggest["matched"], suggest["clusters"], suggest["suggestions"]) == (1, 1, 0)
    assert _one(conn, "select type_action, compteurs -> 'skipped' from suggestion_cohorte where run_id = %s",
                ("match:ing-1",)) == ("ingestion", {"pending": 1, "rejected": 0})
    assert _pending_with(conn, PAIR) == [("by-hand-1", "clustering", membres)]
