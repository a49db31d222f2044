"""`data-platform match` on real PostgreSQL: the index of the displayed layer, look-ups, the CLI, refreshes."""
from __future__ import annotations

import json

import pytest

from data_platform.match import index, records, search


def _match(conn, recs, **kw):
    frame, errors = records.from_json(recs)
    assert errors == []
    return search.match_records(conn, frame, **kw)["results"]


def test_index_holds_the_displayed_layer(known):
    with known.cursor() as cur:
        cur.execute("select identifiant_unique, est_parent, departement, nom_norm from match.acteur_index order by 1")
        rows = cur.fetchall()
        cur.execute("select identifiant_unique from dbt.displayed_acteur order by 1")
        displayed = [r[0] for r in cur.fetchall()]
    assert [r[0] for r in rows] == displayed
    assert displayed == ["cma_c1", "ecosystem_e1", "parent_bastia", "refashion_r1", "sinoe_s1"]
    by = {r[0]: r for r in rows}
    assert by["parent_bastia"][1] is True and by["parent_bastia"][2] == "2B"
    assert by["ecosystem_e1"][3] == "ressourcerie centre"


def test_respelled_copy_finds_the_known_actor_and_a_stranger_nothing(known):
    respelled = {"nom": "Resourcerie du Centre", "adresse": "12, rue de la Paix", "code_postal": "75002",
                 "ville": "PARIS", "telephone": "+33 1 42 00 00 01"}
    stranger = {"nom": "Boulangerie Zéphyr", "adresse": "40 rue des Lilas", "code_postal": "59000", "ville": "Lille",
                "latitude": 50.6292, "longitude": 3.0573}
    hidden_child = {"nom": "Emaus Bastia", "adresse": "5 quai de la Marne", "code_postal": "20200", "ville": "Bastia"}
    found, none, parent = _match(known, [respelled, stranger, hidden_child])
    assert [m["identifiant_unique"] for m in found["matches"]] == ["ecosystem_e1"]
    best = found["matches"][0]
    assert best["probability"] >= search.DEFAULT_THRESHOLD
    assert best["levels"]["telephone"] == "exact" and best["weights"]["telephone"] > 0
    assert best["levels"]["place"] == "same_address" and set(best["weights"]) >= {"nom", "place", "code_postal"}
    assert none["matches"] == []
    # a child's duplicate is answered with its parent (children are hidden behind it)
    assert [m["identifiant_unique"] for m in parent["matches"]] == ["parent_bastia"]
    assert parent["matches"][0]["est_parent"] is True


def test_threshold_top_k_and_own_id(known):
    rec = {"nom": "Ressourcerie du Centre", "adresse": "12 rue de la Paix", "code_postal": "75002", "ville": "Paris"}
    [r] = _match(known, [rec], threshold=1.0)
    assert r["matches"] == []
    # the phone of Lyon's cobbler: two candidates, both answered below any threshold, best first
    [r] = _match(known, [{**rec, "telephone": "0142000001", "siret": "", "nom": "Cordonnerie Martin"}],
                 threshold=0.0, top_k=5)
    [top] = _match(known, [{**rec, "telephone": "0142000001", "nom": "Cordonnerie Martin"}], threshold=0.0, top_k=1)
    assert len(top["matches"]) == 1
    probs = [m["probability"] for m in r["matches"]]
    assert probs == sorted(probs, reverse=True)
    # a known actor looked up by its own id never matches itself
    [r] = _match(known, [{**rec, "identifiant_unique": "ecosystem_e1"}], threshold=0.0)
    assert "ecosystem_e1" not in [m["identifiant_unique"] for m in r["matches"]]


def test_bulk_path_matches_the_bound_arrays_path(known, monkeypatch):
    recs = [{"nom": "Cordonerie Martin", "adresse": "3 av Jean Jaures", "code_postal": "69003", "ville": "Lyon"},
            {"nom": "Garage Duboi", "code_postal": "33000", "ville": "Bordeaux", "latitude": 44.8379,
             "longitude": -0.5792}]
    small = _match(known, recs)
    monkeypatch.setattr(search, "BULK_RECORDS", 1)
    bulk = _match(known, recs)
    assert bulk == small
    assert [m["identifiant_unique"] for r in bulk for m in r["matches"]] == ["refashion_r1", "cma_c1"]


def test_input_errors_name_record_field_and_reason(tmp_path):
    _, errors = records.from_json([{"nom": "x", "latitude": 123}, {"nom": ["a"]}, {"colour": "red"}, 3])
    got = [(e.record, e.field) for e in errors]
    assert got == [(0, "latitude"), (1, "nom"), (1, ""), (2, "colour"), (2, ""), (3, "")]
    assert "outside" in errors[0].reason
    path = tmp_path / "in.csv"
    path.write_text("nom,latitude\nA,48.1\nB,abc\n,\n", encoding="utf-8")
    frame, errors = records.from_csv(path)
    assert [(e.record, e.field) for e in errors] == [("3", "latitude"), ("4", "")]
    assert len(frame) == 3


def test_cli_one_record_csv_and_errors(known, tmp_path, capsys):
    from data_platform.cli import main

    assert main(["match", json.dumps({"nom": "Dechetterie Claret", "adresse": "route de Lyon",
                                      "code_postal": "4000", "ville": "Digne les Bains"})]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["identifiant_unique"] for m in out["results"][0]["matches"]] == ["sinoe_s1"]
    path = tmp_path / "new.csv"
    path.write_text("identifiant_unique,nom,adresse,code_postal,ville,entity_id\n"
                    "n1,Garage Dubois,8 boulevard Gambetta,33000,Bordeaux,7\n"
                    "n2,Fleuriste Rose,2 rue Neuve,33000,Bordeaux,8\n", encoding="utf-8")
    assert main(["match", "--csv", str(path), "--top-k", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["identifiant_unique"], [m["identifiant_unique"] for m in r["matches"]]) for r in out["results"]] == [
        ("n1", ["cma_c1"]), ("n2", [])]
    assert main(["match", '{"nom": 1.5}']) == 2
    assert json.loads(capsys.readouterr().out)["errors"][0]["field"] == "nom"


def test_refresh_follows_revisions_and_equals_a_rebuild(known):
    from data_platform.dbt_runner import run_dbt
    from data_platform.suggestions import sample

    db = known
    with db.cursor() as cur:
        # a new actor, a renamed one (revision), one that gets a parent, one deleted
        sample.insert_acteurs(db, [sample.acteur("cma_new", "Atelier Vélo Rennes", source="cma",
                                                 adresse="4 rue Pasteur", code_postal="35000", ville="Rennes",
                                                 latitude=48.1173, longitude=-1.6778)])
        sample.insert_revisions(db, [{"identifiant_unique": "refashion_r1", "nom": "Cordonnerie Martin et Fils"},
                                     {"identifiant_unique": "cma_c1", "parent_id": "parent_bastia"}])
        cur.execute("update acteur set statut = 'SUPPRIME', modifie_le = now() where identifiant_unique = 'sinoe_s1'")
    db.commit()
    touched = ["cma_new", "refashion_r1", "cma_c1", "sinoe_s1"]
    assert index.refresh_ids(db, touched) == {"refreshed": 4, "indexed": 2}
    db.commit()
    cols = ", ".join(index.COLUMNS)
    with db.cursor() as cur:
        cur.execute(f"select {cols} from match.acteur_index order by identifiant_unique")
        refreshed = cur.fetchall()
        cur.execute("select * from match.departement_size order by 1")
        sizes = cur.fetchall()
    run_dbt(["build", "--selector", "displayed"])
    index.rebuild(db, refresh_dbt=False)
    db.commit()
    with db.cursor() as cur:
        cur.execute(f"select {cols} from match.acteur_index order by identifiant_unique")
        rebuilt = cur.fetchall()
        cur.execute("select * from match.departement_size order by 1")
        rebuilt_sizes = cur.fetchall()
    assert refreshed == rebuilt
    assert [r for r in sizes if r[1]] == rebuilt_sizes
    assert [r[0] for r in rebuilt] == ["cma_new", "ecosystem_e1", "parent_bastia", "refashion_r1"]
    [r] = _match(db, [{"nom": "Cordonnerie Martin et Fils", "adresse": "3 avenue Jean Jaurès",
                       "code_postal": "69003", "ville": "Lyon"}])
    assert r["matches"][0]["identifiant_unique"] == "refashion_r1"


def test_no_index_is_a_clear_error_and_refresh_does_nothing(db):
    with db.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    db.commit()
    assert index.refresh_ids(db, ["x"])["skipped"] == "no index"
    frame, _ = records.from_json({"nom": "x"})
    with pytest.raises(search.IndexMissing, match="match-index rebuild"):
        search.match_records(db, frame)
