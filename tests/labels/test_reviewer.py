"""Reviewer decisions (through the real decision functions) become labelled pairs, in one query."""
from __future__ import annotations

import pytest

from data_platform.labels.reviewer import reviewer_labels, reviewer_links
from data_platform.suggestions import sample


@pytest.fixture(scope="module", autouse=True)
def _django():
    from data_platform.webapp.setup import setup_django

    setup_django()


@pytest.fixture
def reviewer(db):
    from django.contrib.auth.models import User

    User.objects.all().delete()
    return User.objects.create(username="alice", is_staff=True)


def _cluster(prefix, n, nom, k):
    sources = ["ecosystem", "refashion", "ecomaison", "corepile", "cma"]
    return [sample.acteur(f"{sources[j]}_{prefix}{j}", nom, source=sources[j], adresse=f"{k} rue de la paix",
                          latitude=45.0 + k, longitude=4.0 + j * 0.0001) for j in range(n)]


def _world(db):
    groups = [_cluster("rm", 3, "Ressourcerie la Fabrique", 1), _cluster("ok", 2, "Garage Martin", 2),
              _cluster("rp", 2, "Cordonnerie Dupont", 3), _cluster("rc", 4, "Pharmacie du Centre", 4)]
    sample.insert_acteurs(db, [a for g in groups for a in g])
    cid = sample.create_cohorte(db, "manual__2026-12-01T00:00:00+00:00")
    ids = sample.add_suggestions(db, cid, [sample.cluster_spec(g) for g in groups])
    db.commit()
    return ids


def test_decisions_become_labels_and_links(db, reviewer):
    from data_platform.suggestions.decisions import decide, remove_member

    s_rm, s_ok, s_rp, s_rc = _world(db)
    assert reviewer_labels(db).empty  # nothing decided yet
    remove_member(s_rm, "ecomaison_rm2", reviewer)
    decide([s_ok], "approve", reviewer)
    decide([s_rp, s_rc], "reject", reviewer)
    labels = reviewer_labels(db)
    got = {(r.id_a, r.id_b): (r.label, round(r.weight, 3), r.kind) for r in labels.itertuples()}
    assert got == {
        # the removed member matches none of the others; the two others are not labelled by it
        ("ecomaison_rm2", "ecosystem_rm0"): (0, 1.0, "removed"),
        ("ecomaison_rm2", "refashion_rm1"): (0, 1.0, "removed"),
        ("ecosystem_ok0", "refashion_ok1"): (1, 1.0, "approved"),
        ("ecosystem_rp0", "refashion_rp1"): (0, 1.0, "rejected_pair"),
        # a rejected cluster of four: six weak negatives of weight 2/4
        **{(a, b): (0, 0.5, "rejected_cluster") for a, b in [
            ("corepile_rc3", "ecomaison_rc2"), ("corepile_rc3", "ecosystem_rc0"), ("corepile_rc3", "refashion_rc1"),
            ("ecomaison_rc2", "ecosystem_rc0"), ("ecomaison_rc2", "refashion_rc1"),
            ("ecosystem_rc0", "refashion_rc1")]},
    }
    assert labels.loc[labels.kind == "removed", "suggestion_id"].tolist() == [s_rm, s_rm]
    assert (labels["id_a"] < labels["id_b"]).all()
    # restricted to some actors: only pairs whose two actors are among them
    some = reviewer_labels(db, ["ecomaison_rm2", "ecosystem_rm0", "ecosystem_ok0"])
    assert list(zip(some.id_a, some.id_b)) == [("ecomaison_rm2", "ecosystem_rm0")]
    # links: strong labels only (weak negatives are never cannot-links)
    cannot, must = reviewer_links(db)
    assert sorted(zip(cannot.id_a, cannot.id_b)) == [("ecomaison_rm2", "ecosystem_rm0"),
                                                     ("ecomaison_rm2", "refashion_rm1"),
                                                     ("ecosystem_rp0", "refashion_rp1")]
    assert list(zip(must.id_a, must.id_b)) == [("ecosystem_ok0", "refashion_ok1")]


def test_latest_strong_label_wins(db, reviewer):
    from data_platform.suggestions.decisions import decide

    # rejected as a pair first, the same pair approved later in another cohort
    pair = _cluster("lt", 2, "Emmaus Bastia", 5)
    sample.insert_acteurs(db, pair)
    first = sample.add_suggestions(db, sample.create_cohorte(db, "run-a"), [sample.cluster_spec(pair)])
    db.commit()
    decide(first, "reject", reviewer)
    assert reviewer_labels(db)["kind"].tolist() == ["rejected_pair"]
    second = sample.add_suggestions(db, sample.create_cohorte(db, "run-b"), [sample.cluster_spec(pair)])
    db.commit()
    decide(second, "approve", reviewer)
    labels = reviewer_labels(db)
    assert list(zip(labels.id_a, labels.id_b, labels.kind, labels.label)) == [
        ("ecosystem_lt0", "refashion_lt1", "approved", 1)]
    cannot, must = reviewer_links(db)
    assert cannot.empty and len(must) == 1
