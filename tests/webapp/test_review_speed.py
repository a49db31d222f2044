"""Reviewing fast (issue 10 items 3 and 4, issue 8 item 8) with Django's test client on real PostgreSQL:
"… et suivant" keeping the list's filters, reject reasons, undo, remove-member's recomputed score, accent-
insensitive search, French labels, one actor count, the change kind, the member map, the pair explanation."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from data_platform.suggestions import sample
from tests.webapp.test_admin import CHANGELIST, _client, _decide_url, _statut


def _change(pk, filters=""):
    url = f"{CHANGELIST}{pk}/change/"
    return f"{url}?{urlencode({'_changelist_filters': filters})}" if filters else url


def _target(response) -> tuple[str, dict]:
    """(path, query) of a redirect."""
    assert response.status_code == 302, response.status_code
    parts = urlsplit(response["Location"])
    return parts.path, parse_qs(parts.query)


def test_changelist_links_carry_the_filters(data, users):
    body = _client(users["reviewer"]).get(CHANGELIST + "?statut__exact=to_review&o=4").content.decode()
    assert f"/{data['ids'][0]}/change/?_changelist_filters=statut__exact%3Dto_review%26o%3D4" in body


def test_approve_and_next_keeps_the_filters(data, users):
    c = _client(users["reviewer"])
    ids = data["ids"]  # scores 0.95, 0.85, 0.78, 0.91: the list (score descending) is ids 0, 3, 1, 2
    filters = "statut__exact=to_review"
    page = c.get(_change(ids[0], filters))
    assert page.context["nav"] == {"prev": None, "next": ids[3], "position": 1, "total": 4}
    assert page.context["next_url"] == _change(ids[3], filters)
    r = c.post(_decide_url(ids[0]), {"decision": "approve", "suivant": "1", "_changelist_filters": filters})
    path, query = _target(r)
    assert path == f"{CHANGELIST}{ids[3]}/change/" and query == {"_changelist_filters": [filters]}
    assert _statut(ids[0]) == "approved"
    # the approved one left the filtered list: the next page counts 3, and goes on to ids[1]
    page = c.get(_change(ids[3], filters))
    assert page.context["nav"] == {"prev": None, "next": ids[1], "position": 1, "total": 3}
    r = c.post(_decide_url(ids[3]), {"decision": "reject", "motif": "autre_site", "suivant": "1",
                                     "_changelist_filters": filters})
    assert _target(r)[0] == f"{CHANGELIST}{ids[1]}/change/"


def test_approve_and_next_follows_the_sort_and_ends_on_the_list(data, users):
    c = _client(users["reviewer"])
    ids = data["ids"]
    # sort by score ascending (column 4 of list_display): 0.78, 0.85, 0.91, 0.95 — skipping decided ones
    c.post(_decide_url(ids[1]), {"decision": "approve"})
    r = c.post(_decide_url(ids[2]), {"decision": "approve", "suivant": "1", "_changelist_filters": "o=4"})
    assert _target(r)[0] == f"{CHANGELIST}{ids[3]}/change/"  # ids[1] (0.85) is no longer to review
    filters = "score_band=ge90"
    r = c.post(_decide_url(ids[0]), {"decision": "approve", "suivant": "1", "_changelist_filters": filters})
    assert _target(r)[0] == f"{CHANGELIST}{ids[3]}/change/"
    r = c.post(_decide_url(ids[3]), {"decision": "approve", "suivant": "1", "_changelist_filters": filters},
               follow=True)
    assert r.request["PATH_INFO"] == CHANGELIST and r.request["QUERY_STRING"] == filters
    assert any("Plus de suggestion à revoir" in str(m) for m in r.context["messages"])


def test_reject_with_a_reason_stores_it(data, users):
    from data_platform.webapp.suggestions.models import SuggestionDecision

    c = _client(users["reviewer"])
    pk = data["ids"][1]
    page = c.get(_change(pk)).content.decode()
    assert 'name="motif" required' in page and "Même enseigne, autre établissement" in page
    r = c.post(_decide_url(pk), {"decision": "reject", "motif": "nope"}, follow=True)
    assert "Motif de rejet inconnu" in r.content.decode() and _statut(pk) == "to_review"
    r = c.post(_decide_url(pk), {"decision": "reject", "motif": "lieux_differents",
                                 "commentaire": "deux déchèteries distinctes"}, follow=True)
    assert _statut(pk) == "rejected"
    d = SuggestionDecision.objects.get(suggestion_id=pk)
    assert (d.decision, d.motif, d.commentaire) == ("reject", "lieux_differents", "deux déchèteries distinctes")
    body = r.content.decode()
    assert "rejetée (pas le même lieu)" in body and "Pas le même lieu" in body  # message, decision history
    # bulk rejection with a reason
    ids = [data["ids"][0], data["ids"][3]]
    c.post(CHANGELIST, {"action": "rejeter", "_selected_action": ids, "confirmation": "oui",
                        "motif": "donnees_douteuses"})
    assert sorted(SuggestionDecision.objects.filter(suggestion_id__in=ids).values_list("motif", flat=True)) == \
        ["donnees_douteuses", "donnees_douteuses"]


def test_undo_reverts_an_unapplied_decision_and_keeps_the_trail(data, users, db):
    from data_platform.labels.reviewer import reviewer_labels
    from data_platform.webapp.suggestions.models import SuggestionDecision

    c = _client(users["reviewer"])
    ids = data["ids"]
    filters = "statut__exact=to_review"
    c.post(_decide_url(ids[0]), {"decision": "approve", "suivant": "1", "_changelist_filters": filters})
    # on the next page, the undo button takes back the reviewer's last decision (on ids[0])
    page = c.get(_change(ids[3], filters))
    assert page.context["annulable"]["suggestion"] == ids[0] and 'data-touche="u"' in page.content.decode()
    assert len(reviewer_labels(db)) == 1
    db.commit()
    r = c.post("/admin/suggestions/suggestion/annuler/", {"_changelist_filters": filters})
    path, query = _target(r)
    assert path == f"{CHANGELIST}{ids[0]}/change/" and query == {"_changelist_filters": [filters]}
    assert _statut(ids[0]) == "to_review"
    rows = list(SuggestionDecision.objects.filter(suggestion_id=ids[0]).order_by("id"))
    assert [(d.decision, d.statut_avant, d.statut_apres) for d in rows] == [
        ("approve", "to_review", "approved"), ("undo", "approved", "to_review")]
    assert rows[0].annulee_le is not None and rows[1].annulee_le is None
    assert rows[1].snapshot["decision_annulee"] == rows[0].pk and rows[1].username == "alice"
    assert len(reviewer_labels(db)) == 0  # an undone approval is no label
    db.commit()
    # nothing left to undo on it; deciding again works
    r = c.post("/admin/suggestions/suggestion/annuler/", {"suggestion": ids[0]}, follow=True)
    assert "Annulation refusée" in r.content.decode()
    c.post(_decide_url(ids[0]), {"decision": "reject", "motif": "autre"})
    assert _statut(ids[0]) == "rejected"
    c.post("/admin/suggestions/suggestion/annuler/", {"suggestion": ids[0]})
    assert _statut(ids[0]) == "to_review"


def test_undo_is_refused_once_applied(data, users, db):
    from data_platform.suggestions.apply import apply_approved
    from data_platform.webapp.suggestions.models import SuggestionDecision

    c = _client(users["reviewer"])
    pk = data["ids"][0]
    c.post(_decide_url(pk), {"decision": "approve"})
    assert apply_approved(db)["applied"] == 1
    db.commit()
    page = c.get(_change(pk))
    assert page.context["annulable"] is None and 'data-touche="u"' not in page.content.decode()
    r = c.post("/admin/suggestions/suggestion/annuler/", {"suggestion": pk}, follow=True)
    assert "Annulation refusée" in r.content.decode() and "trop tard" in r.content.decode()
    assert _statut(pk) == "applied"
    assert list(SuggestionDecision.objects.filter(suggestion_id=pk).values_list("decision", "annulee_le")) == [
        ("approve", None)]
    # a reader may not undo
    assert _client(users["reader"]).post("/admin/suggestions/suggestion/annuler/", {"suggestion": pk}).status_code \
        == 403


def test_remove_member_is_confirmed_and_recomputes_the_score(db, users):
    from data_platform.webapp.suggestions.models import Suggestion

    rows = [sample.acteur("sinoe_w1", "Recyclerie Nord", source="sinoe"),
            sample.acteur("cma_w2", "Recyclerie du Nord", source="cma"),
            sample.acteur("ecomaison_w3", "Recyclerie Nord", source="ecomaison")]
    sample.insert_acteurs(db, rows)
    spec = sample.cluster_spec(rows)
    scores = {("cma_w2", "ecomaison_w3"): 0.97, ("cma_w2", "sinoe_w1"): 0.62, ("ecomaison_w3", "sinoe_w1"): 0.81}
    for p in spec["contexte"]["paires"]:
        p["score"] = scores[(p["id_a"], p["id_b"])]
    spec["score"] = 0.62
    cid = sample.create_cohorte(db, "run-w")
    [pk] = sample.add_suggestions(db, cid, [spec])
    db.commit()
    c = _client(users["reviewer"])
    page = c.get(_change(pk))
    body = page.content.decode()
    # the confirmation says what stays and the score after the removal (the weakest remaining pair)
    assert ('data-confirmation="Retirer sinoe_w1 de ce cluster ? Il restera 2 acteur(s) ; score recalculé : '
            '0,970 (paire la plus faible : cma_w2 – ecomaison_w3)."') in body
    assert "window.confirm(f.dataset.confirmation)" in body
    weakest = [p for p in page.context["paires"] if p["weakest"]]
    assert [(p["id_a"], p["id_b"]) for p in weakest] == [("cma_w2", "sinoe_w1")]
    r = c.post(f"{CHANGELIST}{pk}/retirer-membre/", {"membre": "cma_w2"}, follow=True)
    assert "score recalculé : 0,810 (paire la plus faible : ecomaison_w3 – sinoe_w1)" in r.content.decode()
    s = Suggestion.objects.get(pk=pk)
    assert s.statut == "to_review" and s.score == 0.81 and s.nb_acteurs == 2


def test_accent_insensitive_search(data, users):
    from tests.webapp.test_admin import _listed

    c = _client(users["reader"])
    ids = data["ids"]
    for q in ("emmaus", "Emmaüs", "EMMAÜS", "emmaüs bastia", "bastia emmaus"):
        assert _listed(c, "?" + urlencode({"q": q})) == [ids[3]], q
    for q in ("déchèterie", "decheterie", "DECHETTERIE claret"):
        assert _listed(c, "?" + urlencode({"q": q})) == [ids[1]], q
    assert _listed(c, "?" + urlencode({"q": "Lyon Bastia"})) == []
    assert ids[2] in _listed(c, "?" + urlencode({"q": str(ids[2])}))  # a number is also a suggestion id


def test_french_labels(data, users, db):
    c = _client(users["reviewer"])
    ids = data["ids"]
    index = c.get("/admin/").content.decode()
    assert "Cohortes de suggestions" in index and "Décisions" in index and "Suggestion cohortes" not in index
    sample.insert_acteurs(db, [sample.acteur("ecosystem_fr1", "Atelier")])
    db.commit()
    from django.contrib.auth.models import User

    admin_user = User.objects.create(username="admin-fr", is_staff=True, is_superuser=True)
    acteurs = _client(admin_user).get("/admin/acteurs/acteur/").content.decode()
    assert "Type d&#x27;acteur" in acteurs
    assert "Modifié le (heure de Paris)" in acteurs
    cohorts = c.get("/admin/suggestions/suggestioncohorte/").content.decode()
    assert "Créée le (heure de Paris)" in cohorts and ">2 / 0 / 4<" not in cohorts and ">4 / 0 / 4<" in cohorts
    listing = c.get(CHANGELIST).content.decode()
    assert "département" in listing and "À revoir" in listing and "Par type de changement" in listing
    assert 'title="04 Alpes-de-Haute-Provence">04<' in listing  # the département column names it
    c.post(_decide_url(ids[0]), {"decision": "approve"})
    decisions_page = c.get("/admin/suggestions/suggestiondecision/").content.decode()
    assert "À revoir → Approuvée" in decisions_page and "Approbation" in decisions_page
    assert "to_review → approved" not in decisions_page
    page = c.get(_change(ids[1])).content.decode()
    assert "Parent proposé (à créer)" in page and "Créer le parent" in page and "Rattacher au parent" in page
    assert "<label>Département" in page and "<label>Créée le (heure de Paris)" in page
    assert "quand (heure de Paris)" in page and "parent proposé (create" not in page.lower()


def test_one_actor_count_everywhere(data, users):
    from data_platform.webapp.suggestions.models import Suggestion

    c = _client(users["reviewer"])
    pk = data["ids"][1]  # 3 actors + the parent to create: taille 4
    s = Suggestion.objects.get(pk=pk)
    assert (s.taille, s.nb_acteurs, str(s)) == (4, 3, f"Suggestion {pk} (3 acteurs)")
    r = c.get(CHANGELIST)
    assert {x.pk: x._nb_acteurs for x in r.context["cl"].result_list}[pk] == 3
    page = c.get(_change(pk)).content.decode()
    assert '<span id="nb-acteurs">3 acteurs</span>' in page and "4 acteurs" not in page
    confirm = c.post(CHANGELIST, {"action": "approuver", "_selected_action": [pk]}).content.decode()
    assert f"{pk} — 04 — 3 acteurs" in confirm and "Elles touchent 3 acteur(s)" in confirm


def test_change_kind_column_and_filter_and_departement_select(data, users, db):
    from tests.webapp.test_admin import _listed

    members = [sample.acteur("ecosystem_k1", "Atelier vélo"), sample.acteur("refashion_k2", "Atelier velo",
                                                                          source="refashion")]
    sample.insert_acteurs(db, members)
    keep, old = sample.parent("parent_kk", "Atelier vélo"), sample.parent("parent_old", "Atelier vélo (ancien)")
    sample.insert_revisions(db, [keep, old])
    cid = sample.create_cohorte(db, "run-kinds")
    keep_pk, merge_pk = sample.add_suggestions(db, cid, [
        sample.cluster_spec(members[:1], existing_parent=keep, departement="75"),
        sample.cluster_spec(members[1:], existing_parent=keep, other_parents=[old], departement="75")])
    db.commit()
    c = _client(users["reader"])
    assert _listed(c, "?type_changement=creation") == sorted(data["ids"])
    assert _listed(c, "?type_changement=rattachement") == [keep_pk]
    assert _listed(c, "?type_changement=fusion_parents") == [merge_pk]
    listing = c.get(CHANGELIST).content.decode()
    assert "Fusion de parents (un parent supprimé)" in listing and "Rattachement à un parent existant" in listing
    # the département filter is one drop-down with the départements' names
    assert re.search(r'<select class="filtre-select" aria-label="département"', listing)
    assert ">2B Haute-Corse</option>" in listing and ">75 Paris</option>" in listing
    assert 'href="?departement=2B"' not in listing
    # a parent that will be deleted: a banner
    page = c.get(_change(merge_pk)).content.decode()
    assert 'id="bandeau-parent-supprime"' in page and "parent_old « Atelier vélo (ancien) »" in page
    assert "sera supprimé" in page
    assert 'id="bandeau-parent-supprime"' not in c.get(_change(keep_pk)).content.decode()
    # the kept parent cannot be removed (decisions.remove_member refuses it): no button for it
    page = _client(users["reviewer"]).get(_change(keep_pk)).content.decode()
    assert 'name="membre" value="ecosystem_k1"' in page and 'name="membre" value="parent_kk"' not in page
    # the cohort filter is a drop-down too
    assert re.search(r'<select class="filtre-select" aria-label="cohorte"', listing)


def test_member_map_has_one_point_per_member(data, users, db):
    from data_platform.webapp.suggestions.models import Suggestion

    c = _client(users["reader"])
    pk = data["ids"][2]  # 4 members, all with coordinates
    page = c.get(_change(pk))
    body = page.content.decode()
    svg = re.search(r'<svg [^>]*id="carte-membres".*?</svg>', body, re.DOTALL).group(0)
    assert len(re.findall(r'<circle class="membre"', svg)) == 4 == page.context["carte"]["points"]
    for ident in ("corepile_p1", "batribox_b1", "aliapur_a1", "cma_c2"):
        assert f'data-id="{ident}"' in svg
    assert svg.count('class="parent-propose"') == 1 and ">A</text>" in svg and ">D</text>" in svg
    # a member without coordinates is listed, not drawn
    s = Suggestion.objects.get(pk=pk)
    ctx = s.contexte
    ctx["membres"][0]["raw"]["latitude"] = None
    s.contexte = ctx
    s.save(update_fields=["contexte"])
    page = c.get(_change(pk))
    assert page.context["carte"]["points"] == 3 and len(page.context["carte"]["sans_coordonnees"]) == 1
    assert "Sans coordonnées : A " in page.content.decode()


def test_pair_table_explains_each_field(data, users, db):
    """Issue 8 item 8: the pair table shows each comparison's contribution (cluster_pair.details.weights)."""
    from data_platform.webapp.suggestions.models import Suggestion

    pk = data["ids"][1]
    s = Suggestion.objects.select_related("cohorte").get(pk=pk)
    weights = {("cma_c1", "ecomaison_m1"): {"nom": 6.2, "place": 9.5, "code_postal": 1.1, "ville": 0.8},
               ("cma_c1", "sinoe_s1"): {"nom": 5.0, "place": -3.2, "code_postal": 1.1, "ville": 0.8},
               ("ecomaison_m1", "sinoe_s1"): {"nom": 4.1, "place": 7.5, "code_postal": 1.1, "telephone": -2.0}}
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, params, stage_seconds) values (%s, '{}', '{}')",
                    (s.cohorte.run_id,))
        for (a, b), w in weights.items():
            details = {"fields": {k: 1.0 for k in w}, "matched": [k for k, v in w.items() if v > 0],
                       "distance_m": 10.0, "weights": w, "match_weight": round(sum(w.values()) - 12.0, 3)}
            cur.execute("insert into cluster_pair (run_id, cluster_id, id_a, id_b, score, details)"
                        " values (%s, %s, %s, %s, 0.9, %s)", (s.cohorte.run_id, s.cluster_id, a, b, json.dumps(details)))
    db.commit()
    c = _client(users["reader"])
    page = c.get(_change(pk))
    body = page.content.decode()
    assert page.context["paires_entete"] == ["A priori", "Nom", "Adresse et position", "Code postal", "Ville",
                                             "Téléphone"]
    row = next(p for p in page.context["paires"] if (p["id_a"], p["id_b"]) == ("cma_c1", "sinoe_s1"))
    bars = {b["label"]: b for b in row["bars"]}
    assert bars["Adresse et position"]["sign"] == "neg" and bars["Adresse et position"]["text"] == "-3,2"
    assert bars["Nom"]["text"] == "+5,0" and bars["A priori"]["text"] == "-12,0"
    assert bars["Téléphone"]["text"] == "—"  # no information for that pair
    assert abs(row["probability"] - 1 / (1 + 2 ** -(3.7 - 12.0))) < 1e-9
    assert "<th>Adresse et position</th>" in body and "paire la plus faible" in body and 'class="barre neg"' in body
