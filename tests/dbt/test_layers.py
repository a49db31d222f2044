"""dbt: normalization (int_acteur_normalise), consolidated (vue_acteur) and displayed (displayed_acteur) layers,
built once for the module on crafted rows."""
from __future__ import annotations

import re

import pytest
import yaml

from data_platform.settings import DBT_PROJECT_DIR
from tests.dbt.helpers import (
    by_id,
    connect,
    dbt,
    insert_acteurs,
    insert_membership,
    insert_revisions,
    insert_run,
    reset,
    rows,
)

NORMALISATION = [
    # département: Corsica, overseas, Monaco, lost leading zero, CEDEX, exceptions seed
    {"identifiant_unique": "refashion_2a", "code_postal": "20090", "ville": "Ajaccio"},
    {"identifiant_unique": "refashion_2a_edge", "code_postal": "20199", "ville": "Zicavo"},
    {"identifiant_unique": "refashion_2b", "code_postal": "20200", "ville": "Bastia"},
    {"identifiant_unique": "refashion_974", "code_postal": "97400", "ville": "Saint-Denis"},
    {"identifiant_unique": "refashion_976", "code_postal": "97600", "ville": "Mamoudzou"},
    {"identifiant_unique": "refashion_monaco", "code_postal": "98000", "ville": "Monaco"},
    {"identifiant_unique": "refashion_zero", "code_postal": "1000", "ville": "Bourg-en-Bresse"},
    {"identifiant_unique": "refashion_float", "code_postal": "1000.0", "ville": "Bourg-en-Bresse"},
    {"identifiant_unique": "refashion_cedex", "code_postal": "75011 CEDEX 11", "ville": "PARIS CEDEX 11"},
    {"identifiant_unique": "refashion_claret", "code_postal": "05110", "ville": "Claret"},
    {"identifiant_unique": "refashion_claret_caps", "code_postal": "5110", "ville": "CLARET CEDEX"},
    {"identifiant_unique": "refashion_05110_other", "code_postal": "05110", "ville": "La Saulce"},
    {"identifiant_unique": "refashion_gap", "code_postal": "05000", "ville": "Gap"},
    {"identifiant_unique": "refashion_rochette", "code_postal": "06260", "ville": "La Rochette"},
    {"identifiant_unique": "refashion_no_cp", "code_postal": "", "ville": "Nulle Part"},
    {"identifiant_unique": "refashion_bad_cp", "code_postal": "ABC", "ville": "Nulle Part"},
    {"identifiant_unique": "refashion_00", "code_postal": "00100", "ville": "Nulle Part"},
    {"identifiant_unique": "refashion_paris11", "code_postal": "75011", "ville": "Paris 11e"},
    {"identifiant_unique": "refashion_lyon3", "code_postal": "69003", "ville": "Lyon 3ème"},
    {"identifiant_unique": "refashion_st_etienne", "code_postal": "42000", "ville": "St Étienne"},
    # names and addresses
    {"identifiant_unique": "ecosystem_sarl", "nom": "SARL Le Garage du Centre",
         "adresse": "12 av. du Général de Gaulle"},
    {"identifiant_unique": "ecosystem_sas", "nom": "Boutique Éco-Œuvre SAS", "adresse": "3 bd Victor Hugo",
         "nom_commercial": "Asso. Les Amis d'Emmaüs"},
    {"identifiant_unique": "ecosystem_punct", "nom": "  L'Atelier   (Réparation) -- Vélos!! ",
         "adresse": "5 r. de la Paix, ZI des Écoles"},
    {"identifiant_unique": "ecosystem_st", "nom": "Ressourcerie Ste Anne & St-Pierre", "adresse": "1 pl. Carnot"},
    {"identifiant_unique": "ecosystem_r_name", "nom": "R Services", "adresse": "Lieu-dit Fbg St Jean"},
    # identifiers
    {"identifiant_unique": "corepile_siret", "siret": "123 456 789 00012", "siren": "",
         "telephone": "+33 4 74 00 00 00"},
    {"identifiant_unique": "corepile_siren", "siret": "", "siren": "987654321", "telephone": "0033474000000"},
    {"identifiant_unique": "corepile_bad", "siret": "1234", "siren": "12", "telephone": "12"},
    {"identifiant_unique": "corepile_tel33", "telephone": "33474000000"},
    {"identifiant_unique": "corepile_tel9", "telephone": "474000000"},
    {"identifiant_unique": "corepile_tel0", "telephone": "+33 (0)4 74 00 00 00"},
    {"identifiant_unique": "corepile_tel_dom", "telephone": "+262 262 12 34 56"},
]

CONSOLIDATION = [
    {"identifiant_unique": "cma_rev", "source": "cma", "nom": "Nom importé", "adresse": "1 rue importée",
         "latitude": 48.85, "longitude": 2.35, "email": "null", "ville": "Paris"},
    {"identifiant_unique": "cma_coords", "source": "cma", "nom": "Coordonnées", "latitude": 45.75, "longitude": 4.85},
    {"identifiant_unique": "cma_child1", "source": "cma", "nom": "Enfant 1"},
    {"identifiant_unique": "sinoe_child2", "source": "sinoe", "acteur_type": "decheterie", "nom": "Enfant 2"},
    {"identifiant_unique": "cma_inactif", "source": "cma", "nom": "Inactif", "statut": "INACTIF"},
    {"identifiant_unique": "cma_rev_inactif", "source": "cma", "nom": "Révisé inactif"},
    {"identifiant_unique": "cma_child_of_inactive", "source": "cma", "nom": "Enfant d'un parent inactif"},
]

REVISIONS = [
    {"identifiant_unique": "parent_p1", "nom": "Parent P1", "statut": "ACTIF", "code_postal": "75001"},
    {"identifiant_unique": "parent_inactif", "nom": "Parent inactif", "statut": "INACTIF"},
    {"identifiant_unique": "parent_empty_statut", "nom": "Parent sans statut"},
    {"identifiant_unique": "cma_rev", "nom": "Nom révisé", "adresse": "", "latitude": None, "longitude": None},
    {"identifiant_unique": "cma_coords", "latitude": 45.76},
    {"identifiant_unique": "cma_child1", "parent_id": "parent_p1"},
    {"identifiant_unique": "sinoe_child2", "parent_id": "parent_p1", "nom": "Enfant 2 révisé"},
    {"identifiant_unique": "cma_rev_inactif", "statut": "INACTIF"},
    {"identifiant_unique": "cma_child_of_inactive", "parent_id": "parent_inactif"},
]


@pytest.fixture(scope="module")
def built(database_url):
    conn = connect(database_url)
    reset(conn)
    insert_acteurs(conn, NORMALISATION + CONSOLIDATION)
    insert_revisions(conn, REVISIONS)
    dbt(["build", "--select", "+int_acteur_normalise", "+displayed_acteur", "vue_acteur"])
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def norm(built):
    return by_id(built, "dbt.int_acteur_normalise")


@pytest.fixture(scope="module")
def vue(built):
    return by_id(built, "dbt.vue_acteur")


@pytest.mark.parametrize("ident, code_postal, departement", [
    ("refashion_2a", "20090", "2A"),
    ("refashion_2a_edge", "20199", "2A"),
    ("refashion_2b", "20200", "2B"),
    ("refashion_974", "97400", "974"),
    ("refashion_976", "97600", "976"),
    ("refashion_monaco", "98000", "inconnu"),
    ("refashion_zero", "01000", "01"),
    ("refashion_float", "01000", "01"),
    ("refashion_cedex", "75011", "75"),
    ("refashion_claret", "05110", "04"),
    ("refashion_claret_caps", "05110", "04"),
    ("refashion_05110_other", "05110", "05"),
    ("refashion_gap", "05000", "05"),
    ("refashion_rochette", "06260", "04"),
    ("refashion_no_cp", "", "inconnu"),
    ("refashion_bad_cp", "", "inconnu"),
    ("refashion_00", "00100", "inconnu"),
])
def test_postal_code_and_departement(norm, ident, code_postal, departement):
    assert (norm[ident]["code_postal_norm"], norm[ident]["departement"]) == (code_postal, departement)


@pytest.mark.parametrize("ident, ville_norm", [
    ("refashion_cedex", "paris"),
    ("refashion_paris11", "paris"),
    ("refashion_lyon3", "lyon"),
    ("refashion_st_etienne", "saint etienne"),
    ("refashion_zero", "bourg en bresse"),
])
def test_ville_norm(norm, ident, ville_norm):
    assert norm[ident]["ville_norm"] == ville_norm


@pytest.mark.parametrize("ident, nom_norm, adresse_norm", [
    ("ecosystem_sarl", "garage centre", "12 avenue du general de gaulle"),
    ("ecosystem_sas", "boutique eco oeuvre", "3 boulevard victor hugo"),
    ("ecosystem_punct", "atelier reparation velos", "5 rue de la paix zone industrielle des ecoles"),
    ("ecosystem_st", "ressourcerie sainte anne saint pierre", "1 place carnot"),
    ("ecosystem_r_name", "r services", "lieu dit faubourg saint jean"),
])
def test_names_and_addresses(norm, ident, nom_norm, adresse_norm):
    assert (norm[ident]["nom_norm"], norm[ident]["adresse_norm"]) == (nom_norm, adresse_norm)


def test_nom_commercial_norm_drops_legal_forms_and_stop_words(norm):
    assert norm["ecosystem_sas"]["nom_commercial_norm"] == "amis emmaus"
    assert norm["ecosystem_sarl"]["nom_commercial_norm"] == ""


@pytest.mark.parametrize("ident, siret, siren, telephone", [
    ("corepile_siret", "12345678900012", "123456789", "0474000000"),
    ("corepile_siren", "", "987654321", "0474000000"),
    ("corepile_bad", "", "", ""),
    ("corepile_tel33", "", "", "0474000000"),
    ("corepile_tel9", "", "", "0474000000"),
    ("corepile_tel0", "", "", "0474000000"),
    ("corepile_tel_dom", "", "", "0262123456"),
])
def test_identifiers(norm, ident, siret, siren, telephone):
    r = norm[ident]
    assert (r["siret_norm"], r["siren_norm"], r["telephone_norm"]) == (siret, siren, telephone)


def test_every_actor_of_vue_is_normalized(norm, vue):
    assert set(norm) == set(vue)


def test_revision_wins_when_not_empty(vue):
    r = vue["cma_rev"]
    assert r["nom"] == "Nom révisé"           # revision value
    assert r["adresse"] == "1 rue importée"   # '' in revision: not overridden
    assert r["email"] == ""                   # "null" from the source is cleaned
    assert (r["latitude"], r["longitude"]) == (48.85, 2.35)  # NULL revision coordinates: not overridden
    assert r["revision_modifie_le"] is not None
    assert vue["refashion_zero"]["revision_modifie_le"] is None


def test_coordinates_are_never_swapped(vue):
    # revision overrides the latitude only; the longitude stays the imported one
    assert (vue["cma_coords"]["latitude"], vue["cma_coords"]["longitude"]) == (45.76, 4.85)


def test_parents_children_and_counts(vue):
    p = vue["parent_p1"]
    assert p["est_parent"] is True and p["source"] == "" and p["statut"] == "ACTIF"
    assert p["nombre_enfants"] == 2
    assert p["source_codes"] == ["cma", "sinoe"]
    assert vue["sinoe_child2"]["parent_id"] == "parent_p1"
    assert vue["sinoe_child2"]["nom"] == "Enfant 2 révisé"
    assert vue["sinoe_child2"]["est_parent"] is False and vue["sinoe_child2"]["source_codes"] == ["sinoe"]
    assert vue["parent_empty_statut"]["statut"] == "ACTIF"
    assert vue["cma_rev"]["nombre_enfants"] == 0


def test_revision_statut_wins(vue):
    assert vue["cma_rev_inactif"]["statut"] == "INACTIF"


def test_displayed_layer_hides_children_and_inactive(built):
    displayed = by_id(built, "dbt.displayed_acteur")
    assert "parent_p1" in displayed and "cma_rev" in displayed and "parent_empty_statut" in displayed
    for hidden in ["cma_child1", "sinoe_child2", "cma_inactif", "cma_rev_inactif", "parent_inactif",
                   "cma_child_of_inactive"]:
        assert hidden not in displayed
    assert all(r["statut"] == "ACTIF" and r["parent_id"] is None for r in displayed.values())


VUE_ACTEUR_COLUMNS = [
    "identifiant_unique", "identifiant_externe", "source", "acteur_type", "nom", "nom_commercial", "siren", "siret",
    "adresse", "adresse_complement", "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url",
    "statut", "parent_id", "est_parent", "nombre_enfants", "source_codes", "cree_le", "modifie_le",
    "revision_modifie_le"]


def test_vue_acteur_columns_follow_the_contract(built):
    columns = [r["column_name"] for r in rows(
        built, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'dbt' "
               "AND table_name = 'vue_acteur' ORDER BY ordinal_position")]
    assert columns == VUE_ACTEUR_COLUMNS


def _declared_unit_tests() -> set[str]:
    names = set()
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        names |= {t["name"] for t in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])}
    return names


def test_unit_tests_beside_the_models_all_run_and_pass(built):
    """The normalization cases live as dbt unit_tests in the models' YAML; every declared one runs and passes."""
    declared = _declared_unit_tests()
    assert {"int_acteur_normalise_departement", "int_acteur_normalise_names_and_addresses"} <= declared
    proc = dbt(["test", "--select", "test_type:unit"])
    ran = set(re.findall(r"PASS (?:unit_test:\s*)?\S+::(\S+)", proc.stdout))
    assert ran == declared, proc.stdout[-4000:]


def test_a_displayed_layer_missing_a_parent_fails_its_data_test(built):
    """assert_actif_children_shown_through_their_parent can fail: drop an ACTIF parent of ACTIF children from the
    built displayed layer (as a stale or wrong build would) and the test reports it; put it back afterwards."""
    test = ["test", "--select", "assert_actif_children_shown_through_their_parent"]
    with built.cursor() as cur:
        cur.execute("DELETE FROM dbt.displayed_acteur WHERE identifiant_unique = 'parent_p1'")
    built.commit()
    try:
        proc = dbt(test, expect_success=False)
        assert proc.returncode != 0 and "Got 2 results" in proc.stdout, proc.stdout[-3000:]
    finally:
        with built.cursor() as cur:
            cur.execute("INSERT INTO dbt.displayed_acteur SELECT * FROM dbt.int_acteur_consolide "
                        "WHERE identifiant_unique = 'parent_p1'")
        built.commit()
    dbt(test)


def test_a_pair_outside_its_cluster_fails_the_staging_data_test(built):
    """assert_pairs_inside_their_cluster (over stg_cluster_pair / stg_cluster_membership) passes on pairs inside
    their cluster and fails on a pair whose actor is not a member of it."""
    build = ["build", "--select", "stg_cluster_run", "stg_cluster_membership", "stg_cluster_pair"]
    insert_run(built, "pairs", {})
    insert_membership(built, "pairs", {"c1": ["refashion_2a", "refashion_2b"], "c2": ["refashion_974"]})
    pair = "INSERT INTO cluster_pair (run_id, cluster_id, id_a, id_b, score, details) VALUES ('pairs', %s, %s, %s, 0.9, '{}')"
    try:
        with built.cursor() as cur:
            cur.execute(pair, ("c1", "refashion_2a", "refashion_2b"))
        built.commit()
        dbt(build)
        with built.cursor() as cur:
            cur.execute(pair, ("c1", "refashion_2a", "refashion_974"))
        built.commit()
        proc = dbt(build, expect_success=False)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert re.search(r"FAIL 1 assert_pairs_inside_their_cluster", proc.stdout), proc.stdout[-3000:]
    finally:
        with built.cursor() as cur:
            for table in ("cluster_pair", "cluster_membership", "cluster_run"):
                cur.execute(f"DELETE FROM {table} WHERE run_id = 'pairs'")
        built.commit()
