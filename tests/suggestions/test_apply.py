"""The apply step on real PostgreSQL: each change type, staleness, failures, crash recovery, concurrency."""
from __future__ import annotations

import threading

import pytest

from data_platform.suggestions import sample
from data_platform.suggestions.apply import apply_approved, apply_changes


def _rev(conn, ident):
    with conn.cursor() as cur:
        cur.execute("select identifiant_unique, parent_id, nom, adresse, statut, source, latitude, modifie_le"
                    " from revision_acteur where identifiant_unique = %s", (ident,))
        row = cur.fetchone()
    conn.commit()
    return row


def _status(conn, sid):
    with conn.cursor() as cur:
        cur.execute("select statut, erreur, applique_le from suggestion where id = %s", (sid,))
        row = cur.fetchone()
    conn.commit()
    return row


def _orphans(conn, prefix="a", n=3, source_cycle=("ecosystem", "refashion", "sinoe", "cma")):
    rows = [sample.acteur(f"{source_cycle[i % len(source_cycle)]}_{prefix}{i}", f"Recyclerie {prefix} {i}",
                          source=source_cycle[i % len(source_cycle)], adresse=f"{i} rue de la Paix")
            for i in range(n)]
    sample.insert_acteurs(conn, rows)
    return rows


def test_create_parent_and_repoint_orphans(db):
    members = _orphans(db, "x", 3)
    cid = sample.create_cohorte(db, "run-1")
    spec = sample.cluster_spec(members)
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()

    counts = apply_approved(db)
    assert counts["applied"] == 1 and counts["failed"] == 0 and counts["stale"] == 0

    pid = spec["contexte"]["parent"]["identifiant_unique"]
    parent = _rev(db, pid)
    assert parent is not None
    assert parent[1] is None and parent[2] == members[0]["nom"] and parent[4] == "ACTIF" and parent[5] is None
    for m in members:
        row = _rev(db, m["identifiant_unique"])
        assert row[1] == pid
        assert row[2] == ""  # created with only identifiant_unique + parent_id
        assert row[7] is not None
    statut, erreur, applique_le = _status(db, sid)
    assert statut == "applied" and erreur == "" and applique_le is not None


def test_keep_parent_updates_data_verifies_children_and_deletes_other_parent(db):
    members = _orphans(db, "k", 2)
    kids = _orphans(db, "kid", 4, source_cycle=("ecomaison", "corepile"))
    keep = sample.parent("parent_keep", "Ancien nom", adresse="")
    other = sample.parent("parent_other", "Autre parent")
    sample.insert_revisions(db, [keep, other,
                                 {"identifiant_unique": kids[0]["identifiant_unique"], "parent_id": "parent_keep"},
                                 {"identifiant_unique": kids[1]["identifiant_unique"], "parent_id": "parent_keep"},
                                 {"identifiant_unique": kids[2]["identifiant_unique"], "parent_id": "parent_other",
                                  "nom": "Nom corrigé"},
                                 {"identifiant_unique": kids[3]["identifiant_unique"], "parent_id": "parent_other"}])
    cid = sample.create_cohorte(db, "run-keep")
    spec = sample.cluster_spec(members, existing_parent=keep, other_parents=[other], parent_children={
        "parent_keep": [kids[0]["identifiant_unique"], kids[1]["identifiant_unique"]],
        "parent_other": [kids[2]["identifiant_unique"], kids[3]["identifiant_unique"]]})
    # the chosen data: the kept parent's name, an address from a member
    spec["changes"][0]["data"].update({"nom": "Nouveau nom", "adresse": "1 rue de la Paix"})
    types = [c["type"] for c in spec["changes"]]
    assert types.count("acteur_verify_in_revision") == 2 and types[-1] == "acteur_delete_as_parent"
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()

    counts = apply_approved(db)
    assert counts["applied"] == 1, _status(db, sid)

    kept = _rev(db, "parent_keep")
    assert kept[2] == "Nouveau nom" and kept[3] == "1 rue de la Paix"
    assert _rev(db, "parent_other") is None
    for a in members + kids:
        assert _rev(db, a["identifiant_unique"])[1] == "parent_keep"
    assert _rev(db, kids[2]["identifiant_unique"])[2] == "Nom corrigé"  # existing revision kept, only repointed


def test_verify_mismatch_fails_and_rolls_back_everything(db):
    members = _orphans(db, "v", 2)
    kid = _orphans(db, "vkid", 1, source_cycle=("aliapur",))[0]
    keep = sample.parent("parent_v", "Parent V")
    sample.insert_revisions(db, [keep, sample.parent("parent_elsewhere", "Ailleurs"),
                                 {"identifiant_unique": kid["identifiant_unique"], "parent_id": "parent_elsewhere"}])
    cid = sample.create_cohorte(db, "run-v")
    spec = sample.cluster_spec(members, existing_parent=keep,
                               parent_children={"parent_v": [kid["identifiant_unique"]]})
    spec["changes"][0]["data"]["nom"] = "Ne doit pas être écrit"
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()

    counts = apply_approved(db)
    assert counts == {**counts, "applied": 0, "failed": 1}
    statut, erreur, _ = _status(db, sid)
    assert statut == "failed" and "parent_elsewhere" in erreur
    assert _rev(db, "parent_v")[2] == "Parent V"  # keep_as_parent rolled back
    for m in members:
        assert _rev(db, m["identifiant_unique"]) is None  # repoints rolled back


def test_create_fails_when_parent_id_exists_and_run_goes_on(db):
    bad_members = _orphans(db, "b", 2)
    good_members = _orphans(db, "g", 2)
    cid = sample.create_cohorte(db, "run-b")
    bad, good = sample.cluster_spec(bad_members), sample.cluster_spec(good_members)
    sample.insert_revisions(db, [sample.parent(bad["contexte"]["parent"]["identifiant_unique"], "Déjà là")])
    sid_bad, sid_good = sample.add_suggestions(db, cid, [bad, good], statut="approved")
    db.commit()

    counts = apply_approved(db)
    assert counts["failed"] == 1 and counts["applied"] == 1
    assert _status(db, sid_bad)[0] == "failed" and "existe déjà" in _status(db, sid_bad)[1]
    assert _status(db, sid_good)[0] == "applied"
    assert _rev(db, bad_members[0]["identifiant_unique"]) is None


def test_delete_refused_while_children_remain(db):
    members = _orphans(db, "d", 2)
    kid = _orphans(db, "dkid", 1, source_cycle=("aliapur",))[0]
    other = sample.parent("parent_d_old", "Vieux parent")
    sample.insert_revisions(db, [other, {"identifiant_unique": kid["identifiant_unique"], "parent_id": "parent_d_old"}])
    cid = sample.create_cohorte(db, "run-d")
    spec = sample.cluster_spec(members, other_parents=[other])  # the child is not repointed: invalid
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()
    apply_approved(db)
    statut, erreur, _ = _status(db, sid)
    assert statut == "failed" and "enfant" in erreur
    assert _rev(db, "parent_d_old") is not None
    assert _rev(db, spec["contexte"]["parent"]["identifiant_unique"]) is None


def test_stale_when_a_member_changed(db):
    members = _orphans(db, "s", 2)
    cid = sample.create_cohorte(db, "run-s")
    [sid] = sample.add_suggestions(db, cid, [sample.cluster_spec(members)], statut="approved")
    db.commit()
    with db.cursor() as cur:
        cur.execute("update acteur set nom = 'changé', modifie_le = now() + interval '1 second'"
                    " where identifiant_unique = %s", (members[0]["identifiant_unique"],))
    db.commit()
    counts = apply_approved(db)
    assert counts["stale"] == 1 and counts["applied"] == 0
    assert _status(db, sid)[0] == "stale"
    assert _rev(db, members[1]["identifiant_unique"]) is None


def test_stale_when_a_field_changed_without_modifie_le(db):
    """An UPDATE that leaves modifie_le alone still makes the suggestion stale; the message names
    the member and the field."""
    members = _orphans(db, "t", 2)
    cid = sample.create_cohorte(db, "run-t")
    [sid] = sample.add_suggestions(db, cid, [sample.cluster_spec(members)], statut="approved")
    db.commit()
    changed = members[1]["identifiant_unique"]
    with db.cursor() as cur:
        cur.execute("update acteur set nom = 'Autre nom' where identifiant_unique = %s", (changed,))
    db.commit()
    counts = apply_approved(db)
    assert counts["stale"] == 1 and counts["applied"] == 0
    statut, erreur, _ = _status(db, sid)
    assert statut == "stale"
    assert f"{changed} : nom « {members[1]['nom']} » → « Autre nom »" in erreur
    assert members[0]["identifiant_unique"] not in erreur
    assert _rev(db, changed) is None


@pytest.mark.parametrize("update", ["update acteur set siret = '12345678901234'",
                                    "update acteur set email = 'x@example.org'",
                                    "update acteur set statut = 'INACTIF'"])
def test_stale_on_any_field_a_suggestion_depends_on(db, update):
    members = _orphans(db, "u", 2)
    cid = sample.create_cohorte(db, "run-u")
    [sid] = sample.add_suggestions(db, cid, [sample.cluster_spec(members)], statut="approved")
    db.commit()
    with db.cursor() as cur:
        cur.execute(update + " where identifiant_unique = %s", (members[0]["identifiant_unique"],))
    db.commit()
    assert apply_approved(db)["stale"] == 1
    assert _status(db, sid)[0] == "stale"


def test_only_approved_are_applied_and_limit(db):
    cid = sample.create_cohorte(db, "run-l")
    specs = [sample.cluster_spec(_orphans(db, f"l{i}_", 2)) for i in range(4)]
    ids = sample.add_suggestions(db, cid, specs, statut="approved")
    with db.cursor() as cur:
        cur.execute("update suggestion set statut = 'to_review' where id = %s", (ids[0],))
    db.commit()
    assert apply_approved(db, limit=2)["applied"] == 2
    assert apply_approved(db)["applied"] == 1
    assert _status(db, ids[0])[0] == "to_review"


def test_recovers_suggestion_left_applying_by_dead_run(db):
    members = _orphans(db, "r", 2)
    cid = sample.create_cohorte(db, "run-r")
    [sid] = sample.add_suggestions(db, cid, [sample.cluster_spec(members)], statut="applying")
    db.commit()
    counts = apply_approved(db)
    assert counts["recovered"] == 1 and counts["applied"] == 1
    assert _status(db, sid)[0] == "applied"


def test_crash_mid_suggestion_leaves_nothing_half_written(db, database_url, monkeypatch):
    members = _orphans(db, "c", 3)
    cid = sample.create_cohorte(db, "run-c")
    spec = sample.cluster_spec(members)
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()

    from data_platform.suggestions.apply import runner

    def crashing(cur, changes, *args):
        cur.execute("insert into revision_acteur (identifiant_unique, parent_id) values (%s, null)",
                    (spec["contexte"]["parent"]["identifiant_unique"],))
        raise KeyboardInterrupt("process killed mid-suggestion")  # not an Exception: the run dies

    monkeypatch.setattr(runner, "apply_changes", crashing)
    with pytest.raises(KeyboardInterrupt):
        apply_approved(database_url)
    assert _status(db, sid)[0] == "approved"  # not stuck in applying
    assert _rev(db, spec["contexte"]["parent"]["identifiant_unique"]) is None

    monkeypatch.setattr(runner, "apply_changes", apply_changes)
    assert apply_approved(database_url)["applied"] == 1


def test_two_concurrent_runs_apply_each_suggestion_once(db, database_url):
    cid = sample.create_cohorte(db, "run-conc")
    specs = [sample.cluster_spec(_orphans(db, f"p{i}_", 2)) for i in range(60)]
    ids = sample.add_suggestions(db, cid, specs, statut="approved")
    db.commit()

    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(apply_approved(database_url))
        except Exception as exc:  # noqa: BLE001 - any error fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r["applied"] for r in results) == len(ids)
    assert sum(r["failed"] for r in results) == 0  # a second apply would fail on the existing parent id
    with db.cursor() as cur:
        cur.execute("select statut, count(*) from suggestion group by statut")
        assert dict(cur.fetchall()) == {"applied": len(ids)}
    db.commit()


def test_overlapping_suggestions_second_worker_sees_the_first_and_is_stale(db, database_url):
    """Two suggestions sharing a member, applied by two workers at once: the second one waits for the
    member's row lock, then reads the state the first committed: stale, not applied over it."""
    import time

    import psycopg2

    from data_platform.suggestions.apply import runner
    from data_platform.suggestions.apply.changes import Savepoint
    from data_platform.suggestions.apply.statements import CANDIDATES, CLAIM_AND_STATE, FINISH

    m = _orphans(db, "ov", 3)
    cid = sample.create_cohorte(db, "run-ov")
    s1, s2 = sample.add_suggestions(db, cid, [sample.cluster_spec(m[:2]), sample.cluster_spec(m[1:])],
                                    statut="approved")
    db.commit()
    with db.cursor() as cur:
        cur.execute(CANDIDATES, {"after": 0, "batch": 10})
        cand = {c[0]: c for c in cur.fetchall()}
    db.commit()
    shared = m[1]["identifiant_unique"]
    a, b = psycopg2.connect(database_url), psycopg2.connect(database_url)
    a.autocommit = b.autocommit = True
    outcome = []
    try:
        with a.cursor() as cur:  # worker A: s1 claimed and applied, not committed yet
            ids = list(cand[s1][1])
            cur.execute("begin; set constraints all immediate; " + CLAIM_AND_STATE,
                        {"id": s1, "keys": ["s"] * len(ids), "ids": ids})
            assert cur.fetchall()[0][0] == 1
            apply_changes(cur, cand[s1][3], Savepoint())
            cur.execute(FINISH, {"id": s1, "statut": "applied", "erreur": ""})
            worker_b = threading.Thread(target=lambda: outcome.append(runner.apply_one(b, cand[s2])))
            worker_b.start()
            time.sleep(1.0)
            assert worker_b.is_alive()  # waiting for the shared member's lock, before its stale check
            cur.execute("commit")
        worker_b.join(30)
    finally:
        a.close()
        b.close()
    assert outcome == ["stale"]
    assert [_status(db, s1)[0], _status(db, s2)[0]] == ["applied", "stale"]
    assert "lien parent" in _status(db, s2)[1]
    assert _rev(db, shared)[1] == sample.new_parent_id(x["identifiant_unique"] for x in m[:2])


# The displayed layer rebuilt after applying (dbt) is checked by tests/dags/test_apply_dag.py and
# tests/webapp/test_browser.py (dbt takes ~15 s per build).


def test_fingerprint_in_apply_matches_the_shared_one(db):
    from data_platform.suggestions.apply.statements import CLAIM_AND_STATE
    from data_platform.suggestions.fingerprint import data_fingerprints, state_digest

    members = _orphans(db, "fp", 3)
    sample.insert_revisions(db, [{"identifiant_unique": members[0]["identifiant_unique"], "nom": "corrigé"}])
    db.commit()
    ids = sorted(m["identifiant_unique"] for m in members) + ["missing_id"]
    expected = data_fingerprints(db, {"k": ids})["k"]
    with db.cursor() as cur:
        # apply's own statement (claim + members' state), digested as apply does
        cur.execute(CLAIM_AND_STATE, {"id": -1, "keys": ["k"] * len(ids), "ids": ids})
        rows = cur.fetchall()
        assert rows[0][0] == 0  # nothing claimed: no such suggestion
        assert state_digest([r[2:] for r in rows if r[1] is not None]) == expected
    db.rollback()


def test_one_statement_per_change_type_of_the_records():
    from data_platform.changes.records import CHANGE_TYPES
    from data_platform.suggestions.apply import group_changes, statements

    assert list(statements.BY_TYPE) == list(CHANGE_TYPES)
    assert list(group_changes([])) == list(CHANGE_TYPES)


def test_tampered_change_fails_naming_actor_and_field(db):
    members = _orphans(db, "t", 2)
    cid = sample.create_cohorte(db, "run-t")
    spec = sample.cluster_spec(members)
    spec["changes"][0]["data"]["identifiant_externe"] = "pirate"  # an identity field in a parent's data
    [sid] = sample.add_suggestions(db, cid, [spec], statut="approved")
    db.commit()

    counts = apply_approved(db)
    assert counts["failed"] == 1 and counts["applied"] == 0
    statut, erreur, _ = _status(db, sid)
    pid = spec["contexte"]["parent"]["identifiant_unique"]
    assert statut == "failed" and pid in erreur and "identifiant_externe" in erreur
    assert _rev(db, pid) is None and _rev(db, members[0]["identifiant_unique"]) is None


def test_apply_keeps_the_servers_synchronous_commit(db, database_url, monkeypatch):
    """Issue 13 item 9: against a server whose default is durable (as in production) the suggestion
    is committed with synchronous_commit on; only the embedded server's own configuration turns it off."""
    members = _orphans(db, "sc", 2)
    cid = sample.create_cohorte(db, "run-sc")
    [sid] = sample.add_suggestions(db, cid, [sample.cluster_spec(members)], statut="approved")
    db.commit()

    from data_platform.suggestions.apply import runner

    seen = []

    def spying(cur, changes, *args):
        cur.execute("select current_setting('synchronous_commit')")
        seen.append(cur.fetchone()[0])
        return apply_changes(cur, changes, *args)

    monkeypatch.setattr(runner, "apply_changes", spying)
    durable_url = database_url + ("&" if "?" in database_url else "?") + "options=-c%20synchronous_commit%3Don"
    assert apply_approved(durable_url)["applied"] == 1
    assert seen == ["on"]
    assert _status(db, sid)[0] == "applied"
