"""cluster_batch / plan_batches / evaluate against PostgreSQL (a hand-made dbt.cluster_selection)."""
from __future__ import annotations

import json

import pandas as pd

from data_platform.cluster.params import RunParams
from data_platform.cluster.partition import SELECTION_COLUMNS, balance, cluster_batch, plan_batches
from data_platform.db.connection import copy_dataframe
from data_platform.evaluate import evaluate_run, pairwise_scores

TEXT = [c for c in SELECTION_COLUMNS if c not in ("est_parent", "nombre_enfants", "latitude", "longitude")]


def _create_selection(conn, df: pd.DataFrame, run_id="run1", params=None):
    cols = ", ".join(f"{c} text not null default ''" for c in TEXT)
    with conn.cursor() as cur:
        cur.execute("create schema if not exists dbt")
        cur.execute(f"create table dbt.cluster_selection ({cols}, est_parent boolean, nombre_enfants int, "
                    "latitude double precision, longitude double precision)")
        cur.execute("insert into cluster_run (run_id, params) values (%s, %s)", (run_id, json.dumps(params or {})))
    out = df.copy()
    out["latitude"] = out["latitude"].replace("", None)
    out["longitude"] = out["longitude"].replace("", None)
    out["est_parent"] = out["est_parent"].map({"t": "true", "f": "false"})
    copy_dataframe(conn, "cluster_selection", out[SELECTION_COLUMNS], schema="dbt")
    conn.commit()


def _rows(make_selection):
    rows = []
    for dept, cp, city in [("69", "69003", "lyon"), ("2A", "20000", "ajaccio"), ("971", "97110", "pointe a pitre")]:
        for e, (nom, adr) in enumerate([("ressourcerie la fabrique", "12 rue victor hugo"),
                                        ("garage martin", "3 avenue foch"), ("cordonnerie dupont", "8 rue pasteur")]):
            for k, src in enumerate(["refashion", "ecosystem"]):
                rows.append({"identifiant_unique": f"{src}_{dept}_{e}", "source": src, "nom_norm": nom,
                             "nom": nom.upper(), "adresse_norm": adr, "ville_norm": city, "code_postal_norm": cp,
                             "latitude": "45.1", "longitude": "4.2", "departement": dept})
    rows.append({"identifiant_unique": "refashion_none", "source": "refashion", "nom_norm": "friperie solidaire",
                 "adresse_norm": "5 rue des lilas", "ville_norm": "paris", "departement": "inconnu"})
    rows.append({"identifiant_unique": "parent_1", "source": "", "est_parent": "t", "nombre_enfants": "2",
                 "nom_norm": "friperie solidaire", "adresse_norm": "5 rue des lilas",
                 "ville_norm": "paris", "departement": "inconnu"})
    return make_selection(rows)


def _fetch(conn, q, args=None):
    with conn.cursor() as cur:
        cur.execute(q, args)
        return cur.fetchall()


def test_cluster_batch_round_trip_and_idempotent(db, make_selection):
    _create_selection(db, _rows(make_selection))
    batches = plan_batches(db, "run1", 2)
    assert sorted(d for b in batches for d in b) == ["2A", "69", "971", "inconnu"]
    assert plan_batches(db, "run1", 2) == batches

    result = cluster_batch("run1", ["69", "2A", "inconnu"], RunParams.load(db, "run1"))
    assert result["actors"] == 14 and result["clusters"] == 7 and result["memberships"] == 14
    assert set(result["partition_seconds"]) == {"2A", "69", "inconnu"}
    members = _fetch(db, "select cluster_id, identifiant_unique, departement from cluster_membership "
                         "where run_id = 'run1' order by 1, 2")
    assert len(members) == 14
    assert {m[2] for m in members} == {"69", "2A", "inconnu"}
    assert all(m[0].startswith(m[2] + "_") for m in members)
    pairs = _fetch(db, "select cluster_id, id_a, id_b, score, details from cluster_pair where run_id = 'run1' order by 1, 2, 3")
    assert len(pairs) == 7
    assert all(p[3] >= 0.75 and set(p[4]) == {"fields", "matched", "distance_m", "weights", "match_weight"}
               for p in pairs)
    # the parent and the friperie (no département) are one cluster
    assert ("parent_1", "refashion_none") in {(p[1], p[2]) for p in pairs}

    # idempotent: again, and with another batch next to it
    cluster_batch("run1", ["69", "2A", "inconnu"], RunParams())
    cluster_batch("run1", ["971"], RunParams())
    again = _fetch(db, "select cluster_id, identifiant_unique, departement from cluster_membership "
                       "where run_id = 'run1' and departement <> '971' order by 1, 2")
    assert again == members
    assert _fetch(db, "select count(*) from cluster_membership where run_id = 'run1'")[0][0] == 20
    assert _fetch(db, "select count(*) from cluster_pair where run_id = 'run1'")[0][0] == 10

    # run parameters come from cluster_run: an exact-match field both lack → no match
    with db.cursor() as cur:
        cur.execute("update cluster_run set params = %s where run_id = 'run1'",
                    (json.dumps({"exact_match_fields": ["siret_norm"]}),))
    db.commit()
    result = cluster_batch("run1", ["inconnu"], RunParams.load(db, "run1"))
    assert result["memberships"] == 0


def test_balance_is_greedy_and_deterministic():
    sizes = {"75": 1000, "13": 900, "69": 500, "01": 450, "2A": 10, "inconnu": 5}
    batches = balance(sizes, 2)
    assert batches == balance(dict(reversed(list(sizes.items()))), 2)
    assert sorted(d for b in batches for d in b) == sorted(sizes)
    assert "75" in batches[0] and "13" in batches[1]
    assert balance(sizes, 10) and len(balance(sizes, 10)) == 6
    assert balance({}, 3) == []


def test_pairwise_scores_known_case():
    ids = ["a", "b", "c", "d", "e"]
    truth = pd.Series({"a": "E1", "b": "E1", "c": "E1", "d": "E2", "e": "E2"})
    pred = pd.Series({"a": "k1", "b": "k1", "d": "k2", "e": "k2", "c": ""})
    r = pairwise_scores(ids, pred, truth)
    # true pairs: ab ac bc de = 4; predicted: ab de = 2, both right
    assert (r["true_pairs"], r["predicted_pairs"], r["true_positive_pairs"]) == (4, 2, 2)
    assert r["precision"] == 1.0 and r["recall"] == 0.5 and abs(r["f1"] - 0.6667) < 1e-4
    pred = pd.Series({"a": "k", "b": "k", "c": "k", "d": "k"})  # d wrongly joined
    r = pairwise_scores(ids, pred, truth)
    assert r["predicted_pairs"] == 6 and r["true_positive_pairs"] == 3
    # an actor missing from the ground truth is its own entity; ids outside the universe are ignored
    r = pairwise_scores(["a", "b", "z"], pd.Series({"a": "k", "z": "k", "q": "k"}), truth)
    assert r["true_pairs"] == 1 and r["predicted_pairs"] == 1 and r["true_positive_pairs"] == 0


def test_evaluate_run_on_database(db, make_selection):
    _create_selection(db, _rows(make_selection))
    cluster_batch("run1", ["69", "2A", "971", "inconnu"], RunParams())
    truth = pd.DataFrame({"identifiant_unique": [f"{s}_{d}_{e}" for d in ["69", "2A", "971"] for e in range(3)
                                                 for s in ["refashion", "ecosystem"]] + ["refashion_none", "parent_1"],
                          "entity_id": [f"{d}{e}" for d in ["69", "2A", "971"] for e in range(3) for _ in range(2)]
                          + ["f", "f"]})
    copy_dataframe(db, "ground_truth", truth)
    db.commit()
    r = evaluate_run(db, None, thresholds=[0.5, 0.75, 0.99])
    assert r["run_id"] == "run1"
    assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0)
    assert [row["threshold"] for row in r["thresholds"]] == [0.5, 0.75, 0.99]
    assert r["thresholds"][1]["f1"] == 1.0
    json.dumps(r)


def test_reviewer_decisions_bind_the_next_run(db, make_selection):
    """Admin decision → next run: a member a reviewer removed is not clustered with the others again
    although it scores high; a pair a reviewer approved stays together although it scores low."""
    from django.contrib.auth.models import User

    from data_platform.cluster.partition import cluster_frame
    from data_platform.suggestions import sample
    from data_platform.suggestions.decisions import decide, remove_member
    from data_platform.webapp.setup import setup_django

    setup_django()
    User.objects.all().delete()
    alice = User.objects.create(username="alice", is_staff=True)
    same = [("refashion_1", "refashion"), ("ecosystem_1", "ecosystem"), ("ecomaison_1", "ecomaison")]
    other = [("cma_2", "cma", "garage martin"), ("corepile_2", "corepile", "carrosserie dupont")]
    acteurs = [sample.acteur(i, "Ressourcerie la Fabrique", source=s, adresse="12 rue Victor Hugo") for i, s in same]
    acteurs += [sample.acteur(i, n.title(), source=s, adresse="3 avenue Foch") for i, s, n in other]
    sample.insert_acteurs(db, acteurs)
    cid = sample.create_cohorte(db, "manual__2026-12-01T00:00:00+00:00")
    s_fab, s_gar = sample.add_suggestions(db, cid, [sample.cluster_spec(acteurs[:3]), sample.cluster_spec(acteurs[3:])])
    db.commit()
    remove_member(s_fab, "ecomaison_1", alice)
    decide([s_gar], "approve", alice)

    rows = [{"identifiant_unique": i, "source": s, "nom_norm": "ressourcerie fabrique", "adresse_norm": "12 rue victor hugo",
             "ville_norm": "paris", "code_postal_norm": "75011", "latitude": "48.857", "longitude": "2.379",
             "departement": "75"} for i, s in same]
    rows += [{"identifiant_unique": i, "source": s, "nom_norm": n, "adresse_norm": "3 avenue foch", "ville_norm": "paris",
              "code_postal_norm": "75011", "latitude": "48.857", "longitude": "2.379", "departement": "75"}
             for i, s, n in other]
    df = make_selection(rows)
    # without the reviewers' memory: the three are one cluster, the garage pair is none
    m, _ = cluster_frame(df, RunParams())
    assert m.groupby("cluster_id")["identifiant_unique"].apply(sorted).tolist() == [
        ["ecomaison_1", "ecosystem_1", "refashion_1"]]

    _create_selection(db, df)
    result = cluster_batch("run1", ["75"], RunParams())
    assert result["clusters"] == 2
    members = _fetch(db, "select cluster_id, identifiant_unique from cluster_membership where run_id = 'run1' order by 2")
    groups = sorted(sorted(i for c2, i in members if c2 == c) for c in {c for c, _ in members})
    assert groups == [["cma_2", "corepile_2"], ["ecosystem_1", "refashion_1"]]
    # the approved pair's stored score is its real (low) score: the suggestion shows the weakest pair
    score = _fetch(db, "select score from cluster_pair where run_id = 'run1' and id_a = 'cma_2'")[0][0]
    assert score < 0.75
