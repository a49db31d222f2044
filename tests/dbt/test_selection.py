"""dbt: cluster_selection (SPEC §3.1 step 1) — every filter, the *_apply_to_parents flags, the regex on the
normalized name, children/INACTIF excluded, the 'inconnu' partition kept, the normalization options.
Three runs with different parameters: one full build, then two rebuilds of the per-run selection only."""
from __future__ import annotations

import pytest

from tests.dbt.helpers import connect, dbt, insert_acteurs, insert_revisions, insert_run, reset, rows

CONTRACT_COLUMNS = [
    "identifiant_unique", "source", "acteur_type", "est_parent", "nombre_enfants", "nom", "nom_commercial",
    "adresse", "code_postal", "ville", "siret", "telephone", "latitude", "longitude", "nom_norm",
    "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm", "siren_norm",
    "telephone_norm", "departement"]

PASS = {"source": "refashion", "acteur_type": "commerce", "code_postal": "75011", "ville": "Paris",
            "siret": "12345678900012"}

ACTEURS = [
    dict(identifiant_unique="refashion_pass", nom="Boutique Alpha", adresse="12 av de la Gare", **PASS),
    # raw name starts with SARL; the normalized one with "boutique": the regex must see the normalized one
    dict(identifiant_unique="refashion_sarl", nom="SARL Boutique Beta", **PASS),
    dict(identifiant_unique="ecosystem_src", nom="Boutique Src", **{**PASS, "source": "ecosystem"}),
    dict(identifiant_unique="refashion_type", nom="Boutique Type", **{**PASS, "acteur_type": "artisan"}),
    dict(identifiant_unique="refashion_dep", nom="Boutique Dep", **{**PASS, "code_postal": "69003"}),
    dict(identifiant_unique="refashion_regex", nom="Garage Gamma", **PASS),
    dict(identifiant_unique="refashion_req", nom="Boutique Req", **{**PASS, "siret": ""}),
    dict(identifiant_unique="refashion_inactif", nom="Boutique Inactive", statut="INACTIF", **PASS),
    dict(identifiant_unique="refashion_inconnu", nom="Boutique Inconnue", **{**PASS, "code_postal": ""}),
    dict(identifiant_unique="refashion_sort", nom="Zeta Boutique ab Zeta Alpha", adresse="12 av de la Gare",
         **{**PASS, "code_postal": "69001"}),
    # children of the parents below
    dict(identifiant_unique="refashion_child_pass", nom="Boutique Enfant", **PASS),
    dict(identifiant_unique="ecosystem_child_nosrc", nom="Boutique Enfant", **{**PASS, "source": "ecosystem"}),
    dict(identifiant_unique="refashion_child_type", nom="Boutique Enfant", **PASS),
    dict(identifiant_unique="refashion_child_dep", nom="Boutique Enfant", **PASS),
    dict(identifiant_unique="refashion_child_regex", nom="Boutique Enfant", **PASS),
    dict(identifiant_unique="refashion_child_inactif", nom="Boutique Enfant", **PASS),
]
# values the Python normalization must treat as dbt does (source ecosystem: outside sel_1 and sel_2)
TRICKY = [
    dict(nom="Œuvre d'Émmaüs SARL", nom_commercial="n/a", adresse="3 bd Victor-Hugo", ville="PARIS CEDEX 11",
         code_postal="75011 CEDEX", siret="000 000 000 00000", telephone="+33 1 23 45 67 89"),
    dict(nom="Ets. Dupont & Fils SAS", nom_commercial="Le Garage du Coin", adresse="Bât. B, ZI des Écoles",
         ville="Lyon 3ème", code_postal="69003.0", siret="123 456 789 00012", telephone="0033 (0)4 78 00 00 01"),
    dict(nom="Ste Marie St-Étienne", adresse="12 r. de l'Église", ville="St-Étienne", code_postal="6000",
         telephone="4 78 00 00 02"),
    dict(nom="Ressourcerie", ville="Ajaccio", code_postal="20090", telephone="+262 262 12 34 56"),
    dict(nom="Repair Café", ville="Claret", code_postal="05110", telephone="null"),
    dict(nom="Monaco Shop", ville="Monaco", code_postal="98000", telephone="01 23"),
    dict(nom="La Réunion Répare", ville="Saint-Denis", code_postal="97411", telephone="02 62 12 34 56"),
    dict(nom="-", adresse="  ", ville="?", code_postal="n/a"),
]
ACTEURS += [dict(identifiant_unique=f"ecosystem_tricky_{i}", source="ecosystem", **r) for i, r in enumerate(TRICKY)]

PARENT = {"statut": "ACTIF", "acteur_type": "commerce", "code_postal": "75001"}
REVISIONS = [
    dict(identifiant_unique="parent_pass", nom="Boutique Parent", siret="", **PARENT),
    dict(identifiant_unique="parent_nosrc", nom="Boutique Parent NoSrc", siret="11111111111111", **PARENT),
    dict(identifiant_unique="parent_type", nom="Boutique Parent Type", siret="11111111111111",
         **{**PARENT, "acteur_type": None}),
    dict(identifiant_unique="parent_dep", nom="Boutique Parent Dep", siret="11111111111111",
         **{**PARENT, "code_postal": "69001"}),
    dict(identifiant_unique="parent_regex", nom="Garage Parent", siret="11111111111111", **PARENT),
    dict(identifiant_unique="parent_inactif", nom="Boutique Parent Inactif", siret="11111111111111",
         **{**PARENT, "statut": "INACTIF"}),
    {"identifiant_unique": "refashion_child_pass", "parent_id": "parent_pass"},
    {"identifiant_unique": "ecosystem_child_nosrc", "parent_id": "parent_nosrc"},
    {"identifiant_unique": "refashion_child_type", "parent_id": "parent_type"},
    {"identifiant_unique": "refashion_child_dep", "parent_id": "parent_dep"},
    {"identifiant_unique": "refashion_child_regex", "parent_id": "parent_regex"},
    {"identifiant_unique": "refashion_child_inactif", "parent_id": "parent_inactif"},
]

FILTERS = {"sources": ["refashion"], "acteur_types": ["commerce"], "departements": ["75"],
           "nom_regex": "^BOUTIQUE", "required_fields": ["siret"]}
RUNS = {
    "sel_1": {**FILTERS, "sources_apply_to_parents": True, "acteur_types_apply_to_parents": True,
              "departements_apply_to_parents": True, "nom_regex_apply_to_parents": False,
              "required_fields_apply_to_parents": False},
    "sel_2": {**FILTERS, "sources_apply_to_parents": False, "acteur_types_apply_to_parents": False,
              "departements_apply_to_parents": False, "nom_regex_apply_to_parents": True,
              "required_fields_apply_to_parents": True},
    "sel_3": {"normalize_drop_short_words": 3, "normalize_sort_words": True},
    "sel_defaults": {},
}


@pytest.fixture(scope="module")
def selections(database_url):
    conn = connect(database_url)
    reset(conn)
    insert_acteurs(conn, ACTEURS)
    insert_revisions(conn, REVISIONS)
    for run_id, params in RUNS.items():
        insert_run(conn, run_id, params)
    result = {}
    for i, run_id in enumerate(RUNS):
        if i == 0:
            dbt(["build", "--selector", "cluster_prepare"], run_id=run_id)
        else:
            dbt(["build", "--select", "cluster_run_params", "cluster_selection"], run_id=run_id)
        result[run_id] = {r["identifiant_unique"]: r for r in rows(conn, "SELECT * FROM dbt.cluster_selection")}
    result["_columns"] = [r["column_name"] for r in rows(
        conn, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'dbt' "
              "AND table_name = 'cluster_selection' ORDER BY ordinal_position")]
    result["_indexes"] = [r["indexdef"] for r in rows(
        conn, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'dbt' AND tablename = 'cluster_selection'")]
    yield result
    conn.close()


def test_columns_follow_the_contract(selections):
    assert selections["_columns"] == CONTRACT_COLUMNS
    # no run_id column (dbt_project/README.md "Run id and parameters"): the table holds the run last built
    assert "run_id" not in selections["_columns"]


def test_indexed_on_departement(selections):
    assert any("(departement)" in d for d in selections["_indexes"])


def test_filters_with_parents_filtered_by_sources_types_departements(selections):
    assert set(selections["sel_1"]) == {"refashion_pass", "refashion_sarl", "parent_pass", "parent_regex"}


def test_regex_runs_on_the_normalized_name(selections):
    # raw "SARL Boutique Beta" does not match ^BOUTIQUE, its normalized name "boutique beta" does
    assert "refashion_sarl" in selections["sel_1"]
    assert selections["sel_1"]["refashion_sarl"]["nom_norm"] == "boutique beta"
    assert "refashion_regex" not in selections["sel_1"]


def test_apply_to_parents_flags_inverted(selections):
    # sources/types/départements no longer filter parents; regex and required fields now do
    assert set(selections["sel_2"]) == {"refashion_pass", "refashion_sarl", "parent_nosrc", "parent_type",
                                        "parent_dep"}


def test_no_filter_keeps_inconnu_and_excludes_children_and_inactive(selections):
    sel = selections["sel_3"]
    assert sel["refashion_inconnu"]["departement"] == "inconnu"
    assert {"refashion_pass", "refashion_sarl", "ecosystem_src", "refashion_type", "refashion_dep",
            "refashion_regex", "refashion_req", "refashion_sort", "parent_pass", "parent_nosrc", "parent_type",
            "parent_dep", "parent_regex"} <= set(sel)
    for excluded in ["refashion_inactif", "parent_inactif", "refashion_child_pass", "ecosystem_child_nosrc",
                     "refashion_child_inactif"]:
        assert excluded not in sel
    assert not any("child" in i for i in sel)


def test_parent_rows_carry_parent_fields(selections):
    p = selections["sel_3"]["parent_nosrc"]
    assert p["est_parent"] is True and p["nombre_enfants"] == 1 and p["departement"] == "75"
    assert selections["sel_3"]["refashion_pass"]["est_parent"] is False


def test_normalization_options(selections):
    # options off: words kept in order
    assert selections["sel_1"]["refashion_pass"]["nom_norm"] == "boutique alpha"
    assert selections["sel_1"]["refashion_pass"]["adresse_norm"] == "12 avenue de la gare"
    # drop words shorter than 3 characters (numbers kept in addresses), sort unique words of the name
    assert selections["sel_3"]["refashion_sort"]["nom_norm"] == "alpha boutique zeta"
    assert selections["sel_3"]["refashion_sort"]["adresse_norm"] == "12 avenue gare"
    assert selections["sel_3"]["refashion_pass"]["nom_norm"] == "alpha boutique"


NORM_COLUMNS = ["nom_norm", "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm",
                "siret_norm", "siren_norm", "telephone_norm", "departement"]


def test_python_normalization_agrees_with_dbt(selections):
    # the match index and the records looked up are normalized in Python (cluster/normalize.py): with the
    # default options it must give what dbt gives, or a verbatim copy of a known actor would not match it
    import pandas as pd

    from data_platform.cluster.normalize import normalize_frame

    dbt_rows = pd.DataFrame(list(selections["sel_defaults"].values()))
    python = normalize_frame(dbt_rows.drop(columns=NORM_COLUMNS))
    assert len(dbt_rows) >= len(TRICKY) + 10
    for col in NORM_COLUMNS:
        assert python[col].fillna("").tolist() == dbt_rows[col].fillna("").tolist(), col
