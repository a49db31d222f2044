"""The review admin on real PostgreSQL: permissions, CSRF, decisions (single, bulk), trail, remove member."""
from __future__ import annotations

import re

import pytest

from data_platform.suggestions import sample
from data_platform.suggestions.fingerprint import members_key


@pytest.fixture(scope="module", autouse=True)
def _django():
    from django.test.utils import setup_test_environment

    from data_platform.webapp.setup import setup_django

    setup_django()
    try:
        setup_test_environment()
    except RuntimeError:  # already set up by another module
        pass


@pytest.fixture
def users(db):
    from django.contrib.auth.models import Group, Permission, User

    from data_platform.reference import REVIEWER_GROUP

    User.objects.all().delete()
    # no password: the tests log in with force_login (password hashing would cost seconds)
    reviewer = User.objects.create(username="alice", is_staff=True)
    reviewer.groups.add(Group.objects.get(name=REVIEWER_GROUP))
    reader = User.objects.create(username="bob", is_staff=True)
    reader.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="suggestions", codename__startswith="view_"))
    return {"reviewer": reviewer, "reader": reader}


def _client(user=None, csrf=False):
    from django.test import Client

    c = Client(enforce_csrf_checks=csrf)
    if user is not None:
        c.force_login(user)
    return c


@pytest.fixture
def data(db):
    """A cohort with four suggestions of 2, 3, 4 and 2 orphans, various scores/sources/départements."""
    groups = [
        ([("ecosystem_e1", "Ressourcerie du Centre", "ecosystem"), ("refashion_r1", "Ressourcerie Centre", "refashion")],
         0.95, "75"),
        ([("sinoe_s1", "Déchèterie de Claret", "sinoe"), ("cma_c1", "Decheterie Claret", "cma"),
          ("ecomaison_m1", "Déchetterie Claret", "ecomaison")], 0.85, "04"),
        ([("corepile_p1", "Mairie de Lyon", "corepile"), ("batribox_b1", "Mairie Lyon", "batribox"),
          ("aliapur_a1", "Mairie de Lyon 3", "aliapur"), ("cma_c2", "MAIRIE LYON", "cma")], 0.78, "69"),
        ([("ecosystem_e2", "Emmaüs Bastia", "ecosystem"), ("refashion_r2", "Emmaus Bastia", "refashion")], 0.91, "2B"),
    ]
    specs, acteurs = [], []
    for i, (members, score, dep) in enumerate(groups):
        rows = [sample.acteur(ident, nom, source=src, adresse=f"{i} place de la Mairie",
                              latitude=45.0 + i + j * 0.001, longitude=4.0 + j * 0.001)
                for j, (ident, nom, src) in enumerate(members)]
        acteurs += rows
        specs.append(sample.cluster_spec(rows, score=score, departement=dep))
    sample.insert_acteurs(db, acteurs)
    cid = sample.create_cohorte(db, "manual__2026-11-22T00:00:00+00:00", compteurs={"clusters": 4})
    ids = sample.add_suggestions(db, cid, specs)
    db.commit()
    return {"cohorte": cid, "ids": ids, "specs": specs}


def _statut(pk):
    from data_platform.webapp.suggestions.models import Suggestion

    return Suggestion.objects.get(pk=pk).statut


def _decide_url(pk):
    return f"/admin/suggestions/suggestion/{pk}/decider/"


CHANGELIST = "/admin/suggestions/suggestion/"


def test_anonymous_is_sent_to_login(data):
    c = _client()
    for url in (CHANGELIST, f"{CHANGELIST}{data['ids'][0]}/change/", "/admin/suggestions/suggestioncohorte/"):
        r = c.get(url)
        assert r.status_code == 302 and "/admin/login/" in r["Location"]
    r = c.post(_decide_url(data["ids"][0]), {"decision": "approve"})
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert _statut(data["ids"][0]) == "to_review"


def test_staff_without_permission_reads_but_cannot_decide(data, users):
    c = _client(users["reader"])
    pk = data["ids"][0]
    r = c.get(CHANGELIST)
    assert r.status_code == 200
    assert 'value="approuver"' not in r.content.decode()  # the bulk actions are not offered
    r = c.get(f"{CHANGELIST}{pk}/change/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "Ressourcerie du Centre" in body and "btn-approuver" not in body and "Retirer du cluster" not in body
    assert c.post(_decide_url(pk), {"decision": "approve"}).status_code == 403
    assert c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "ecosystem_e1"}).status_code == 403
    c.post(CHANGELIST, {"action": "approuver", "_selected_action": [pk], "confirmation": "oui"})
    assert _statut(pk) == "to_review"
    from data_platform.webapp.suggestions.models import SuggestionDecision

    assert SuggestionDecision.objects.count() == 0


def test_csrf_is_enforced(data, users):
    c = _client(users["reviewer"], csrf=True)
    pk = data["ids"][0]
    assert c.post(_decide_url(pk), {"decision": "approve"}).status_code == 403
    assert _statut(pk) == "to_review"
    # with the token from the page, it works
    page = c.get(f"{CHANGELIST}{pk}/change/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = c.post(_decide_url(pk), {"decision": "approve", "csrfmiddlewaretoken": token})
    assert r.status_code == 302 and _statut(pk) == "approved"


def test_reviewer_approves_one_and_trail_keeps_snapshot(data, users):
    from data_platform.webapp.suggestions.models import SuggestionDecision

    c = _client(users["reviewer"])
    pk = data["ids"][1]
    page = c.get(f"{CHANGELIST}{pk}/change/")
    body = page.content.decode()
    assert "btn-approuver" in body and "btn-rejeter" in body
    # side by side: differing names highlighted, parent origin, pair scores, distances, changes
    assert 'class="differe"' in body and "← sinoe_s1" in body
    assert page.context["cluster"]["rows"][1]["field"] in ("acteur_type", "nom")
    nom_row = next(r for r in page.context["cluster"]["rows"] if r["field"] == "nom")
    assert nom_row["differs"] and nom_row["origine"]
    assert len(page.context["paires"]) == 3 and page.context["distances"]["rows"][0]["cells"][1].endswith(" m")
    assert page.context["changes_list"][0]["type"] == "acteur_create_as_parent"

    r = c.post(_decide_url(pk), {"decision": "approve", "commentaire": "évident"}, follow=True)
    assert r.status_code == 200 and "approuvée" in r.content.decode()
    assert _statut(pk) == "approved"
    d = SuggestionDecision.objects.get(suggestion_id=pk)
    assert (d.decision, d.username, d.statut_avant, d.statut_apres, d.commentaire) == \
        ("approve", "alice", "to_review", "approved", "évident")
    assert d.user_id == users["reviewer"].pk and d.decide_le is not None
    assert d.snapshot["membres"] == data["specs"][1]["membres"]
    assert d.snapshot["changes"] == data["specs"][1]["changes"] and d.snapshot["score"] == 0.85

    # deciding again is refused and nothing changes
    r = c.post(_decide_url(pk), {"decision": "reject"}, follow=True)
    assert "refusée" in r.content.decode()
    assert _statut(pk) == "approved" and SuggestionDecision.objects.filter(suggestion_id=pk).count() == 1
    # the buttons are gone once decided
    assert "btn-approuver" not in c.get(f"{CHANGELIST}{pk}/change/").content.decode()


def test_two_reviewers_at_once_only_one_wins(data, users):
    from data_platform.suggestions import decisions

    pk = data["ids"][0]
    first = decisions.decide([pk], "approve", users["reviewer"])
    second = decisions.decide([pk], "reject", users["reviewer"])
    assert first.done == [pk] and second.refused == [pk] and second.done == []
    assert _statut(pk) == "approved"


def test_bulk_approve_with_confirmation(data, users):
    from data_platform.webapp.suggestions.models import SuggestionDecision

    c = _client(users["reviewer"])
    ids = data["ids"]
    c.post(_decide_url(ids[3]), {"decision": "reject"})
    r = c.post(CHANGELIST, {"action": "approuver", "_selected_action": ids})
    assert r.status_code == 200
    body = r.content.decode()
    assert "<strong>3</strong> suggestion(s) seront approuvée(s)" in body
    assert "1 des 4 suggestion(s)" in body
    assert all(_statut(pk) == "to_review" for pk in ids[:3])  # nothing decided before confirming

    r = c.post(CHANGELIST, {"action": "approuver", "_selected_action": ids, "confirmation": "oui"}, follow=True)
    assert r.status_code == 200
    msgs = [str(m) for m in r.context["messages"]]
    assert any("3 suggestion(s) approuvée(s)" in m for m in msgs)
    assert any("1 suggestion(s) refusée(s)" in m for m in msgs)
    assert [_statut(pk) for pk in ids] == ["approved", "approved", "approved", "rejected"]
    assert SuggestionDecision.objects.filter(decision="approve").count() == 3


def test_bulk_reject(data, users):
    c = _client(users["reviewer"])
    r = c.post(CHANGELIST, {"action": "rejeter", "_selected_action": data["ids"][:2]})
    assert "<strong>2</strong> suggestion(s) seront rejetée(s)" in r.content.decode()
    c.post(CHANGELIST, {"action": "rejeter", "_selected_action": data["ids"][:2], "confirmation": "oui"})
    assert [_statut(pk) for pk in data["ids"]] == ["rejected", "rejected", "to_review", "to_review"]


def _listed(client, query):
    r = client.get(CHANGELIST + query)
    assert r.status_code == 200, r.content[:500]
    return sorted(s.pk for s in r.context["cl"].result_list)


def test_filters_and_search(data, users):
    c = _client(users["reader"])
    ids = data["ids"]
    assert _listed(c, "") == sorted(ids)
    assert _listed(c, "?score_band=ge90") == sorted([ids[0], ids[3]])
    assert _listed(c, "?score_band=80-90") == [ids[1]]
    assert _listed(c, "?score_band=lt80") == [ids[2]]
    assert _listed(c, "?taille_band=2") == sorted([ids[0], ids[3]])
    assert _listed(c, "?taille_band=3") == [ids[1]]
    assert _listed(c, "?taille_band=4%2B") == [ids[2]]
    assert _listed(c, "?source=sinoe") == [ids[1]]
    assert _listed(c, "?source=refashion&taille_band=2") == sorted([ids[0], ids[3]])
    assert _listed(c, "?departement=2B") == [ids[3]]
    assert _listed(c, f"?cohorte__id__exact={data['cohorte']}") == sorted(ids)
    assert _listed(c, "?statut__exact=to_review") == sorted(ids)
    assert _listed(c, "?q=claret") == [ids[1]]  # by member name (context)
    assert _listed(c, "?q=batribox_b1") == [ids[2]]  # by identifiant
    assert _listed(c, "?q=bastia&score_band=lt80") == []
    page = c.get(CHANGELIST).content.decode()
    assert "Ressourcerie du Centre" in page and "2B" in page


def test_cohort_page_links(data, users):
    c = _client(users["reader"])
    r = c.get("/admin/suggestions/suggestioncohorte/")
    body = r.content.decode()
    assert r.status_code == 200
    assert "/dags/cluster_acteurs/runs/manual__2026-11-22T00%3A00%3A00%2B00%3A00" in body
    assert f"?cohorte__id__exact={data['cohorte']}" in body
    r = c.get("/admin/suggestions/suggestioncohorte/par-run/", {"run_id": "manual__2026-11-22T00:00:00+00:00"})
    assert r.status_code == 302 and r["Location"].endswith(f"/suggestioncohorte/{data['cohorte']}/change/")
    assert c.get(r["Location"]).status_code == 200
    r = c.get("/admin/suggestions/suggestioncohorte/par-run/", {"run_id": "nope"})
    assert r.status_code == 302 and r["Location"].endswith("/suggestioncohorte/")


def test_remove_member_recomputes_then_rejects(data, users, db):
    from data_platform.suggestions.fingerprint import data_fingerprints
    from data_platform.webapp.suggestions.models import Suggestion, SuggestionDecision

    c = _client(users["reviewer"])
    pk = data["ids"][1]  # sinoe_s1, cma_c1, ecomaison_m1; parent name from sinoe_s1
    before = Suggestion.objects.get(pk=pk)
    assert before.contexte["parent"]["origine"]["nom"] == "sinoe_s1"
    r = c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "sinoe_s1"}, follow=True)
    assert r.status_code == 200 and "retiré" in r.content.decode()
    s = Suggestion.objects.get(pk=pk)
    new_pid = sample.new_parent_id(["cma_c1", "ecomaison_m1"])
    # membres: every actor of the changes, the parent to create included (the writer's convention)
    assert s.statut == "to_review" and s.membres == sorted(["cma_c1", "ecomaison_m1", new_pid]) and s.taille == 3
    assert s.empreinte_membres == members_key(s.membres)
    assert s.empreinte_donnees == data_fingerprints(db, {"k": s.membres})["k"]
    db.commit()
    assert [(ch["type"], ch["identifiant_unique"], ch.get("parent_id")) for ch in s.changes] == [
        ("acteur_create_as_parent", new_pid, None),
        ("acteur_update_parent_id", "cma_c1", new_pid),
        ("acteur_update_parent_id", "ecomaison_m1", new_pid)]
    parent = s.contexte["parent"]
    assert parent["identifiant_unique"] == new_pid
    assert "sinoe_s1" not in parent["origine"].values()
    # by priority (… ecomaison before cma): the name now comes from ecomaison_m1
    assert parent["origine"]["nom"] == "ecomaison_m1" and parent["data"]["nom"] == "Déchetterie Claret"
    assert s.changes[0]["data"] == parent["data"]
    assert [m["identifiant_unique"] for m in s.contexte["membres"]] == ["cma_c1", "ecomaison_m1"]
    assert all("sinoe_s1" not in (p["id_a"], p["id_b"]) for p in s.contexte["paires"])
    assert s.sources == ["cma", "ecomaison"]
    d = SuggestionDecision.objects.get(suggestion_id=pk)
    assert d.decision == "remove_member" and d.snapshot["membre_retire"] == "sinoe_s1"
    assert d.snapshot["membres"] == before.membres

    # one more: fewer than two remain → rejected
    c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "cma_c1"})
    s.refresh_from_db()
    assert s.statut == "rejected" and [c["identifiant_unique"] for c in s.changes if "parent_id" in c] == ["ecomaison_m1"]
    assert SuggestionDecision.objects.filter(suggestion_id=pk).count() == 2
    # and then nothing more can be done
    r = c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "ecomaison_m1"}, follow=True)
    assert "Retrait refusé" in r.content.decode()


def test_removed_suggestion_still_applies(data, users, db):
    from data_platform.suggestions.apply import apply_approved

    c = _client(users["reviewer"])
    pk = data["ids"][2]
    c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "aliapur_a1"})
    c.post(_decide_url(pk), {"decision": "approve"})
    assert apply_approved(db)["applied"] == 1
    new_pid = sample.new_parent_id(["batribox_b1", "cma_c2", "corepile_p1"])
    with db.cursor() as cur:
        cur.execute("select identifiant_unique, parent_id from revision_acteur order by 1")
        rows = cur.fetchall()
    db.commit()
    assert rows == sorted([(new_pid, None), ("batribox_b1", new_pid), ("cma_c2", new_pid), ("corepile_p1", new_pid)])


def test_remove_kept_parent_is_refused(db, users):
    from data_platform.webapp.suggestions.models import Suggestion

    members = [sample.acteur("ecosystem_k1", "A"), sample.acteur("refashion_k2", "A bis", source="refashion")]
    sample.insert_acteurs(db, members)
    keep = sample.parent("parent_kk", "Parent")
    sample.insert_revisions(db, [keep])
    cid = sample.create_cohorte(db, "run-kk")
    [pk] = sample.add_suggestions(db, cid, [sample.cluster_spec(members, existing_parent=keep)])
    db.commit()
    c = _client(users["reviewer"])
    r = c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "parent_kk"}, follow=True)
    assert "parent existant conservé" in r.content.decode()
    assert Suggestion.objects.get(pk=pk).taille == 3


def test_remove_a_parent_to_delete_keeps_its_children_with_it(db, users):
    from data_platform.suggestions.apply import apply_approved
    from data_platform.webapp.suggestions.models import Suggestion

    members = [sample.acteur("ecosystem_q1", "Q"), sample.acteur("refashion_q2", "Q bis", source="refashion")]
    kids = [sample.acteur("cma_qk1", "Q enfant", source="cma"), sample.acteur("sinoe_qk2", "Q autre", source="sinoe")]
    sample.insert_acteurs(db, members + kids)
    keep, other = sample.parent("parent_qkeep", "Q parent"), sample.parent("parent_qold", "Q vieux")
    sample.insert_revisions(db, [keep, other, {"identifiant_unique": "cma_qk1", "parent_id": "parent_qkeep"},
                                 {"identifiant_unique": "sinoe_qk2", "parent_id": "parent_qold"}])
    cid = sample.create_cohorte(db, "run-q")
    spec = sample.cluster_spec(members, existing_parent=keep, other_parents=[other],
                               parent_children={"parent_qkeep": ["cma_qk1"], "parent_qold": ["sinoe_qk2"]})
    [pk] = sample.add_suggestions(db, cid, [spec])
    db.commit()
    c = _client(users["reviewer"])
    # a child that only follows its parent cannot be removed alone
    r = c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "sinoe_qk2"}, follow=True)
    assert "suit" in r.content.decode()
    c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "parent_qold"})
    s = Suggestion.objects.get(pk=pk)
    assert s.statut == "to_review"
    assert s.membres == sorted(["parent_qkeep", "cma_qk1", "ecosystem_q1", "refashion_q2"])
    assert {c_["type"] for c_ in s.changes} == {"acteur_keep_as_parent", "acteur_verify_in_revision",
                                                "acteur_update_parent_id"}
    c.post(_decide_url(pk), {"decision": "approve"})
    assert apply_approved(db)["applied"] == 1
    with db.cursor() as cur:
        cur.execute("select identifiant_unique, parent_id from revision_acteur order by 1")
        rows = dict(cur.fetchall())
    db.commit()
    assert rows == {"parent_qkeep": None, "parent_qold": None, "cma_qk1": "parent_qkeep",
                    "sinoe_qk2": "parent_qold", "ecosystem_q1": "parent_qkeep", "refashion_q2": "parent_qkeep"}


def test_remove_refused_when_stale(data, users, db):
    from data_platform.webapp.suggestions.models import Suggestion

    pk = data["ids"][1]
    with db.cursor() as cur:
        cur.execute("update acteur set nom = 'x', modifie_le = now() + interval '1 second'"
                    " where identifiant_unique = 'cma_c1'")
    db.commit()
    r = _client(users["reviewer"]).post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "sinoe_s1"}, follow=True)
    assert "ont changé" in r.content.decode()
    assert Suggestion.objects.get(pk=pk).taille == 4  # 3 actors + the parent to create: unchanged
