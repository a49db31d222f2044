"""The admin's "Étiqueter des paires" page on real PostgreSQL: permission, one pair side by side,
o / n / i answers stored, the counter, retraining into match_model every RETRAIN_EVERY labels, the
labels as reviewer memory."""
from __future__ import annotations

import re

import pytest

from data_platform.suggestions import sample

PAGE = "/admin/labelling/pairlabellingpage/"
ANSWER = PAGE + "repondre/"
STREETS = ["rue des lilas", "avenue foch", "rue de la gare", "boulevard victor hugo", "rue pasteur"]
TRADES = ["garage", "boulangerie", "pharmacie", "ressourcerie", "atelier", "cordonnerie", "librairie"]


@pytest.fixture
def users(db):
    from django.contrib.auth.models import Group, Permission, User

    from data_platform.reference import REVIEWER_GROUP

    User.objects.all().delete()
    reviewer = User.objects.create(username="alice", is_staff=True)
    reviewer.groups.add(Group.objects.get(name=REVIEWER_GROUP))
    reader = User.objects.create(username="bob", is_staff=True)
    reader.user_permissions.add(*Permission.objects.filter(content_type__app_label="suggestions",
                                                           codename__startswith="view_"))
    return {"reviewer": reviewer, "reader": reader}


@pytest.fixture
def acteurs(db):
    """Businesses in two départements (Lyon, Lille); every other one has a duplicate from another
    source (same phone, its name with the city, 40 m away), some with another house number."""
    rows = []
    for e in range(60):
        dep_cp, ville, lat, lon = (("69003", "Lyon", 45.76, 4.85) if e % 3 else ("59000", "Lille", 50.63, 3.06))
        name = f"{TRADES[e % 7]} {['martin', 'bernard', 'dubois', 'thomas'][e % 4]} {e}"
        la, lo = lat + (e % 10) * 0.003, lon + (e // 10) * 0.003
        rows.append(sample.acteur(f"ecosystem_a{e}", name, source="ecosystem", code_postal=dep_cp, ville=ville,
                                  adresse=f"{e + 1} {STREETS[e % 5]}", latitude=la, longitude=lo,
                                  telephone=f"04720{e:05d}"))
        if e % 2 == 0:
            rows.append(sample.acteur(f"refashion_b{e}", f"{name} {ville.lower()}", source="refashion",
                                      code_postal=dep_cp, ville=ville,
                                      adresse=f"{e + 1 if e % 4 else e + 11} {STREETS[e % 5]}",
                                      latitude=la + 0.0003, longitude=lo, telephone=f"04720{e:05d}"))
    sample.insert_acteurs(db, rows)
    db.commit()
    return rows


def _client(user=None):
    from django.test import Client

    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def _shown_pair(body: str) -> tuple[str, str]:
    left = re.search(r'name="left_id" value="([^"]+)"', body).group(1)
    right = re.search(r'name="right_id" value="([^"]+)"', body).group(1)
    return left, right


def _labels(db):
    with db.cursor() as cur:
        cur.execute("select left_id, right_id, label, labelled_by, features from pair_label order by id")
        return cur.fetchall()


def test_login_and_reviewer_permission_required(acteurs, users):
    r = _client().get(PAGE)
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    reader = _client(users["reader"])
    assert reader.get(PAGE).status_code == 403
    assert reader.post(ANSWER, {"left_id": "ecosystem_a0", "right_id": "refashion_b0", "label": "oui"}).status_code == 403
    assert "Étiqueter des paires" not in reader.get("/admin/").content.decode()
    # the reviewer finds the page on the admin index
    index = _client(users["reviewer"]).get("/admin/").content.decode()
    assert "Étiqueter des paires" in index and PAGE in index


def test_page_shows_one_pair_and_answers_move_the_counter(acteurs, users, db):
    c = _client(users["reviewer"])
    r = c.get(PAGE)
    assert r.status_code == 200
    body = r.content.decode()
    assert 'id="nb-etiquettes">0<' in body
    for key, value in (("o", "oui"), ("n", "non"), ("i", "incertain")):
        assert f'value="{value}"' in body and f'data-key="{key}"' in body
    left, right = _shown_pair(body)
    assert left < right and left in body and right in body and 'id="cluster-table"' in body
    ids = {r["identifiant_unique"]: r for r in acteurs}
    assert ids[left]["nom"] in body and ids[right]["nom"] in body  # side by side
    asked = [(left, right)]
    for label in ("oui", "non", "incertain"):
        r = c.post(ANSWER, {"left_id": asked[-1][0], "right_id": asked[-1][1], "label": label})
        assert r.status_code == 302
        body = c.get(PAGE).content.decode()
        asked.append(_shown_pair(body))
    assert len(set(asked)) == 4  # an answered pair is never asked again
    stored = _labels(db)
    assert [(a, b, lab, who) for a, b, lab, who, _ in stored] == [
        (*asked[0], "oui", "alice"), (*asked[1], "non", "alice"), (*asked[2], "incertain", "alice")]
    assert len(stored[0][4]["levels"]) == len(stored[0][4]["comparisons"])  # the vector the person judged
    assert 'id="nb-etiquettes">2<' in body and "1 « je ne sais pas »" in body
    # an unknown answer or a pair that is not a candidate is refused, nothing stored
    c.post(ANSWER, {"left_id": asked[3][0], "right_id": asked[3][1], "label": "peut-être"})
    c.post(ANSWER, {"left_id": "ecosystem_a0", "right_id": "ecosystem_a59", "label": "oui"})
    assert len(_labels(db)) == 3


def test_retraining_every_n_labels_saves_a_model_used_by_latest(acteurs, users, db):
    from data_platform.cluster import model_store
    from data_platform.labels import pair_label as PL
    from data_platform.labels.reviewer import reviewer_links

    truth = {r["identifiant_unique"]: r["identifiant_unique"].split("_")[1][1:] for r in acteurs}
    c = _client(users["reviewer"])
    for n in range(PL.RETRAIN_EVERY):
        left, right = _shown_pair(c.get(PAGE).content.decode())
        label = "oui" if truth[left] == truth[right] else "non"
        r = c.post(ANSWER, {"left_id": left, "right_id": right, "label": label}, follow=True)
        assert r.status_code == 200
        models = model_store.list_models(db)
        assert len(models) == (1 if n == PL.RETRAIN_EVERY - 1 else 0)
    assert "Modèle réentraîné sur 10 étiquettes" in r.content.decode()
    (m,) = models
    assert m["n_labels"] == PL.RETRAIN_EVERY and m["created_by"] == "alice"
    assert m["trained_on"] == f"pair_label: {PL.RETRAIN_EVERY} labels"
    assert model_store.latest_id(db) == m["id"]  # what model=latest scores the next run with
    body = c.get(PAGE).content.decode()
    assert f"n° {m['id']}" in body and f'name="model_id" value="{m["id"]}"' in body
    # the answers are reviewer memory: non → cannot-link, oui → must-link
    cannot, must = reviewer_links(db)
    answered = {(a, b): lab for a, b, lab, _, _ in _labels(db)}
    assert {tuple(x) for x in cannot.to_numpy()} == {k for k, v in answered.items() if v == "non"}
    assert {tuple(x) for x in must.to_numpy()} == {k for k, v in answered.items() if v == "oui"}
