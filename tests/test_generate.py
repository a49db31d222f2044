"""The demo data generator: determinism, ground truth, hard negatives, existing clusters, loading."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from stdnum.fr import siret as stdnum_siret

from data_platform.acteur_csv import derive_identifiant_unique
from data_platform.cli import main
from data_platform.generate.output import load_database, write_csv
from data_platform.generate.population import generate


@pytest.fixture(scope="module")
def pop():
    return generate(20_000, 11)


def _rows(conn, query, params=None):
    with conn.cursor() as cur:
        cur.execute(query, params)
        out = cur.fetchall()
    conn.commit()  # no lock kept while the code under test truncates
    return out


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_csv(generate(3000, 5), str(a))
    write_csv(generate(3000, 5), str(b))
    write_csv(generate(3000, 6), str(c))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert len(a.read_text(encoding="utf-8").splitlines()) == 3001


def test_exact_count_and_realistic_entity_sizes(pop):
    assert len(pop.acteurs) == 20_000
    assert pop.acteurs["identifiant_unique"].is_unique
    sizes = pop.acteurs.groupby("entity_id").size()
    assert 0.4 <= (sizes == 1).mean() <= 0.6
    assert ((sizes >= 2) & (sizes <= 3)).mean() > 0.3
    assert (sizes >= 4).sum() > 100
    statut = pop.acteurs["statut"].value_counts(normalize=True)
    assert 0.01 < statut["INACTIF"] < 0.06 and 0.005 < statut["SUPPRIME"] < 0.04


def test_records_of_one_entity_come_from_different_sources(pop):
    a = pop.acteurs
    assert not a.duplicated(["entity_id", "source"]).any()
    multi = a.groupby("entity_id")["source"].nunique()
    assert (multi >= 2).sum() > 3000


def test_identifiant_unique_follows_the_spec(pop):
    a = pop.acteurs
    assert (derive_identifiant_unique(a["source"], a["identifiant_externe"]) == a["identifiant_unique"]).all()
    assert a["identifiant_externe"].str.contains(" ").any() and a["identifiant_externe"].str.contains("/").any()
    assert not a["identifiant_unique"].str.contains(r"[ /]").any()


def test_sirets_are_valid_and_shared_within_an_entity(pop):
    a = pop.acteurs
    given = a[a["siret"] != ""]
    assert len(given) > 5000
    assert all(stdnum_siret.is_valid(s) for s in given["siret"])
    assert (given.groupby("entity_id")["siret"].nunique() == 1).all()
    with_siren = a[(a["siren"] != "") & (a["siret"] != "")]
    assert (with_siren["siret"].str[:9] == with_siren["siren"]).all()


def test_sources_show_their_habits(pop):
    a = pop.acteurs
    sinoe = a[a["source"] == "sinoe"]
    assert (sinoe["nom"] == sinoe["nom"].str.upper()).all() and (sinoe["siret"] == "").all()
    assert a["code_postal"].str.fullmatch(r"\d{4}").any()          # leading zero lost
    assert a["code_postal"].str.endswith("CEDEX").any() or a["ville"].str.upper().str.endswith("CEDEX").any()
    assert a["adresse"].str.contains(r"\b(?:av|bd|r|pl|St)\b", case=False).any()
    assert a["nom"].str.match(r"(SARL|SAS|EURL|SASU) ").any()
    assert a["nom"].str.fullmatch(r"DARTY [A-Z' -]+(?: \d+)?").any()
    phones = a["telephone"]
    assert phones.str.match(r"\+33 \d").any() and phones.str.fullmatch(r"0\d{9}").any()
    assert phones.str.fullmatch(r"33\d{9}").any()
    assert a["latitude"].isna().any()
    assert a["ville"].str.fullmatch(r"(?i)paris \d+(e|er)?").any()


def test_coordinates_of_one_place_are_close(pop):
    a = pop.acteurs.dropna(subset=["latitude"])
    g = a.groupby("entity_id")
    spread_m = (g["latitude"].max() - g["latitude"].min()) * 111_320
    assert spread_m.max() < 250
    assert (spread_m[g.size() > 1] > 1).mean() > 0.9  # jittered, not copied


def test_real_communes_including_corsica_overseas_and_exceptions(pop):
    cp = set(pop.acteurs["code_postal"].str.replace(" CEDEX", "").str.zfill(5))
    assert {"20000", "20200"} & cp and any(c.startswith("201") for c in cp)
    assert {c[:3] for c in cp if c.startswith("97")} == {"971", "972", "973", "974", "976"}
    assert "05110" in cp  # Claret / Curbans: postal code of the 05, département 04
    assert {"75011", "69003", "13008"} <= cp


def test_hard_negatives_are_present(pop):
    a, e = pop.acteurs, pop.entities
    # several businesses at one mall address, different names
    malls = e[e["kind"] == "mall"].groupby(["adresse", "code_postal"])
    assert (malls["entity_id"].nunique() >= 3).sum() > 10
    assert (malls["nom"].nunique() >= 3).sum() > 10
    # the same chain twice in one town at different addresses
    chains = e[e["kind"] == "chain"].groupby(["nom", "ville"])
    assert ((chains["entity_id"].nunique() >= 2) & (chains["adresse"].nunique() >= 2)).sum() > 20
    # generic names in different towns
    generic = e[e["kind"] == "generic"].groupby("nom")["ville"].nunique()
    assert (generic >= 5).sum() >= 3
    # a déchèterie and a ressourcerie on one site with the same phone
    shared = e[(e["kind"] == "shared_site") & (e["telephone"] != "")].groupby(["telephone", "adresse"])
    pairs = shared["acteur_type"].agg(lambda t: set(t) == {"decheterie", "ess"})
    assert pairs.sum() > 10
    assert set(a["kind"]) >= {"chain", "mall", "generic", "shared_site", "decheterie"}


def test_existing_clusters_complete_partial_and_split(pop):
    r, truth = pop.revisions, pop.ground_truth.set_index("identifiant_unique")["entity_id"]
    parents = r[r["identifiant_unique"].str.startswith("parent_")]
    children = r[r["parent_id"].notna()]
    assert parents["source"].isna().all() and (parents["statut"] == "ACTIF").all() and (parents["nom"] != "").all()
    assert (children[["nom", "adresse", "siret"]] == "").all().all() and children["source"].isna().all()
    assert set(children["parent_id"]) <= set(parents["identifiant_unique"])
    # every child belongs to the entity of its parent; parents are in the ground truth
    assert (truth[children["identifiant_unique"]].to_numpy() == truth[children["parent_id"]].to_numpy()).all()
    assert set(pop.scenarios) == {"complete", "partial", "split"}
    records = pop.acteurs.set_index("identifiant_unique")
    child_of = children.set_index("identifiant_unique")["parent_id"]
    for entity_id, scenario in pop.scenarios.items():
        ids = records.index[records["entity_id"] == entity_id]
        linked = child_of.reindex(ids)
        if scenario == "complete":
            assert linked.notna().all() and linked.nunique() == 1
        elif scenario == "partial":
            assert linked.isna().sum() == 1 and linked.nunique() == 1
        else:
            assert linked.notna().all() and linked.nunique() == 2
        assert (records.loc[ids, "statut"] == "ACTIF").all()
    # a few human corrections without parent
    corrections = r[r["parent_id"].isna() & ~r["identifiant_unique"].str.startswith("parent_")]
    assert len(corrections) > 50 and (corrections["nom"] != "").all()


def test_load_replaces_actors_in_one_transaction(db):
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, params) values ('old', '{}')")
        cur.execute("insert into acteur (identifiant_unique, source, acteur_type, nom) "
                    "values ('refashion_old', 'refashion', 'commerce', 'Ancien')")
    db.commit()
    p = generate(3000, 21)
    counts = load_database(db, p)
    db.commit()
    assert counts == {"acteur": 3000, "revision_acteur": len(p.revisions), "ground_truth": len(p.ground_truth)}
    assert _rows(db, "select count(*) from acteur")[0][0] == 3000
    assert _rows(db, "select count(*) from cluster_run")[0][0] == 0
    assert _rows(db, "select count(*) from acteur where identifiant_unique = 'refashion_old'")[0][0] == 0
    # foreign keys and the ground truth hold
    assert _rows(db, """select count(*) from revision_acteur c left join revision_acteur p
                        on p.identifiant_unique = c.parent_id where c.parent_id is not null
                        and (p.identifiant_unique is null or p.source is not null or p.parent_id is not null)""")[0][0] == 0
    assert _rows(db, """select count(*) from revision_acteur r where r.parent_id is not null and not exists
                        (select 1 from acteur a where a.identifiant_unique = r.identifiant_unique)""")[0][0] == 0
    assert _rows(db, """select count(*) from acteur a left join ground_truth g using (identifiant_unique)
                        where g.entity_id is null""")[0][0] == 0
    assert _rows(db, """select count(*) from revision_acteur r left join ground_truth g using (identifiant_unique)
                        where r.identifiant_unique like 'parent\\_%%' and g.entity_id is null""")[0][0] == 0
    # the indexes and constraints dropped for the bulk load are back
    assert _rows(db, "select count(*) from pg_constraint where conrelid = 'acteur'::regclass and contype = 'f'")[0][0] == 2
    assert _rows(db, "select count(*) from pg_indexes where tablename = 'acteur' and indexname = 'acteur_pkey'")[0][0] == 1
    nulls = _rows(db, "select count(*) filter (where latitude is null), count(*) filter (where nom = '') from acteur")
    assert nulls[0][0] > 0 and nulls[0][1] == 0


def test_append_adds_a_seed_and_refuses_the_same_seed_twice(db):
    load_database(db, generate(1000, 1))
    db.commit()
    load_database(db, generate(500, 2), append=True)
    db.commit()
    assert _rows(db, "select count(*) from acteur")[0][0] == 1500
    with pytest.raises(ValueError, match="already exist"):
        load_database(db, generate(500, 2), append=True)
    db.rollback()
    assert _rows(db, "select count(*) from acteur")[0][0] == 1500


def test_cli_loads_the_database_and_writes_csv(db, tmp_path, capsys):
    assert main(["generate", "--actors", "800", "--seed", "4"]) == 0
    assert _rows(db, "select count(*) from acteur")[0][0] == 800
    out = tmp_path / "demo.csv"
    assert main(["generate", "--actors", "800", "--seed", "4", "--out", str(out)]) == 0
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(df) == 800 and {"entity_id", "kind"} <= set(df.columns)
    ids = [r[0] for r in _rows(db, "select identifiant_unique from acteur order by 1")]
    assert ids == sorted(df["identifiant_unique"])
    assert main(["generate", "--actors", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_numbers_in_csv_are_plain_decimals(tmp_path):
    out = tmp_path / "g.csv"
    write_csv(generate(500, 3), str(out))
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    lat = df.loc[df["latitude"] != "", "latitude"]
    assert lat.str.fullmatch(r"-?\d+\.\d{6}").all()
    assert np.isfinite(lat.astype(float)).all()


def test_text_values_are_trimmed_and_never_null(pop):
    from data_platform.acteur_csv import TEXT_COLUMNS

    for name in TEXT_COLUMNS:
        values = pop.acteurs[name]
        assert values.notna().all(), name
        assert (values == values.str.strip()).all(), name


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_tiny_populations(n):
    p = generate(n, 3)
    assert len(p.acteurs) == n and p.acteurs["identifiant_unique"].is_unique
    assert set(p.acteurs["identifiant_unique"]) <= set(p.ground_truth["identifiant_unique"])
    if (p.entities["size"] >= 2).sum() >= 3:
        assert set(p.scenarios) == {"complete", "partial", "split"}
