"""dbt: cluster_parent_choice, cluster_parent_data, cluster_changes (SPEC §3.1 steps 4–6) for clusters written
in public.cluster_membership. Two runs: keep_parent_data true (full build), then false (per-run models only)."""
from __future__ import annotations

import hashlib

import pytest

from tests.dbt.helpers import (
    connect,
    dbt,
    insert_acteurs,
    insert_membership,
    insert_revisions,
    insert_run,
    reset,
    rows,
)

IDENTITY_FIELDS = {"identifiant_unique", "identifiant_externe", "source", "statut", "parent_id", "parent",
                   "cree_le", "modifie_le"}

ACTEURS = [
    # c_create: orphans only
    {"identifiant_unique": "refashion_a", "source": "refashion", "nom": "Boutique A", "telephone": "0102030405",
         "latitude": 48.1, "longitude": 2.1, "siret": "123 456 789 00012"},
    {"identifiant_unique": "sinoe_a", "source": "sinoe", "acteur_type": "decheterie", "nom": "Déchèterie A",
         "adresse": "1 rue A", "latitude": 48.9, "longitude": None},
    {"identifiant_unique": "ecosystem_a", "source": "ecosystem", "nom": "Eco A", "adresse": "2 rue B", "email": "a@b.fr",
         "latitude": 48.2, "longitude": 2.2, "code_postal": "1000"},
    {"identifiant_unique": "cma_a", "source": "cma", "nom": "CMA A", "url": "http://cma", "nom_commercial": "Enseigne CMA"},
    {"identifiant_unique": "cyclamed_a", "source": "cyclamed", "nom": "Cyclamed A", "url": "http://cyclamed"},
    {"identifiant_unique": "communaute_a", "source": "communaute", "nom": "Communauté A", "url": "http://communaute"},
    # c_keep_one
    {"identifiant_unique": "refashion_k1", "source": "refashion", "nom": "Enfant K1", "ville": "Lyon 1er"},
    {"identifiant_unique": "sinoe_k2", "source": "sinoe", "nom": "Sinoe K2", "adresse": "9 rue K", "ville": "Villeurbanne"},
    # c_keep_many
    {"identifiant_unique": "refashion_m1a", "source": "refashion", "nom": "M1a"},
    {"identifiant_unique": "refashion_m1b", "source": "refashion", "nom": "M1b"},
    {"identifiant_unique": "ecosystem_m2a", "source": "ecosystem", "nom": "M2a"},
    {"identifiant_unique": "sinoe_m3", "source": "sinoe", "nom": "M3"},
    # c_tie (ids differ by case: code-point order, not the locale's)
    {"identifiant_unique": "refashion_tac", "source": "refashion", "nom": "Ta child"},
    {"identifiant_unique": "refashion_tbc", "source": "refashion", "nom": "TB child"},
    # c_actif
    {"identifiant_unique": "refashion_x1", "source": "refashion", "nom": "X1"},
    {"identifiant_unique": "refashion_x2", "source": "refashion", "nom": "X2"},
    {"identifiant_unique": "refashion_x3", "source": "refashion", "nom": "X3", "statut": "INACTIF"},
    {"identifiant_unique": "refashion_y1", "source": "refashion", "nom": "Y1"},
]

REVISIONS = [
    {"identifiant_unique": "parent_k", "nom": "Parent K", "ville": "Lyon", "statut": "ACTIF"},
    {"identifiant_unique": "parent_m1", "nom": "Parent M1", "statut": "ACTIF"},
    {"identifiant_unique": "parent_m2", "nom": "Parent M2", "statut": "ACTIF"},
    {"identifiant_unique": "parent_ta", "nom": "Parent ta", "statut": "ACTIF"},
    {"identifiant_unique": "parent_tB", "nom": "Parent tB", "statut": "ACTIF"},
    {"identifiant_unique": "parent_x_inactif", "nom": "Parent X", "statut": "INACTIF"},
    {"identifiant_unique": "parent_y", "nom": "Parent Y", "statut": "ACTIF"},
    {"identifiant_unique": "refashion_k1", "parent_id": "parent_k"},
    {"identifiant_unique": "refashion_m1a", "parent_id": "parent_m1"},
    {"identifiant_unique": "refashion_m1b", "parent_id": "parent_m1"},
    {"identifiant_unique": "ecosystem_m2a", "parent_id": "parent_m2"},
    {"identifiant_unique": "refashion_tac", "parent_id": "parent_ta"},
    {"identifiant_unique": "refashion_tbc", "parent_id": "parent_tB"},
    {"identifiant_unique": "refashion_x1", "parent_id": "parent_x_inactif"},
    {"identifiant_unique": "refashion_x2", "parent_id": "parent_x_inactif"},
    {"identifiant_unique": "refashion_x3", "parent_id": "parent_x_inactif"},
    {"identifiant_unique": "refashion_y1", "parent_id": "parent_y"},
]

CREATE_MEMBERS = ["refashion_a", "sinoe_a", "ecosystem_a", "cma_a", "cyclamed_a", "communaute_a"]
CLUSTERS = {
    "c_create": CREATE_MEMBERS,
    "c_keep_one": ["parent_k", "sinoe_k2"],
    "c_keep_many": ["parent_m1", "parent_m2", "sinoe_m3"],
    "c_tie": ["parent_ta", "parent_tB"],
    "c_actif": ["parent_x_inactif", "parent_y"],
}
PRIORITY = ["sinoe", "refashion", "ecosystem", "cma"]
RUNS = {
    "par_1": {"parent_source_priority": PRIORITY, "parent_excluded_sources": ["cma"], "keep_parent_data": True},
    "par_2": {"parent_source_priority": ["refashion"], "parent_excluded_sources": [], "keep_parent_data": False},
}

NEW_PARENT = "parent_" + hashlib.md5("|".join(sorted(CREATE_MEMBERS)).encode()).hexdigest()[:24]


@pytest.fixture(scope="module")
def runs(database_url):
    conn = connect(database_url)
    reset(conn)
    insert_acteurs(conn, ACTEURS)
    insert_revisions(conn, REVISIONS)
    result = {}
    for i, (run_id, params) in enumerate(RUNS.items()):
        insert_run(conn, run_id, params)
        insert_membership(conn, run_id, CLUSTERS)
        if i == 0:
            # cluster_selection too: the suggestions view of the cluster_parents selector reads it
            dbt(["build", "--select", "+cluster_changes", "+cluster_selection"], run_id=run_id)
        else:
            dbt(["build", "--selector", "cluster_parents"], run_id=run_id)
        result[run_id] = {
            "choice": {r["cluster_id"]: r for r in rows(conn, "SELECT * FROM dbt.cluster_parent_choice")},
            "data": {r["cluster_id"]: r for r in rows(conn, "SELECT * FROM dbt.cluster_parent_data")},
            "changes": rows(conn, "SELECT * FROM dbt.cluster_changes "
                                  "ORDER BY cluster_id, change_order, identifiant_unique COLLATE \"C\""),
        }
    yield result
    conn.close()


def changes_of(run, cluster_id):
    return [(c["change_order"], c["change_type"], c["identifiant_unique"], c["parent_id"])
            for c in run["changes"] if c["cluster_id"] == cluster_id]


# --- parent choice -------------------------------------------------------------------------------------------

def test_no_existing_parent_creates_a_deterministic_id(runs):
    choice = runs["par_1"]["choice"]["c_create"]
    assert (choice["action"], choice["parent_id"], choice["run_id"]) == ("create", NEW_PARENT, "par_1")
    assert runs["par_2"]["choice"]["c_create"]["parent_id"] == NEW_PARENT  # same members, same id


def test_exactly_one_existing_parent_is_kept(runs):
    choice = runs["par_1"]["choice"]["c_keep_one"]
    assert (choice["action"], choice["parent_id"]) == ("keep", "parent_k")


def test_several_parents_keep_the_one_with_most_children(runs):
    assert runs["par_1"]["choice"]["c_keep_many"]["parent_id"] == "parent_m1"


def test_tie_broken_by_identifiant_unique_in_code_point_order(runs):
    # 'parent_tB' < 'parent_ta' in code-point order (a locale-aware sort would say the opposite)
    assert runs["par_1"]["choice"]["c_tie"]["parent_id"] == "parent_tB"


def test_actif_parent_wins_over_inactive_with_more_children(runs):
    assert runs["par_1"]["choice"]["c_actif"]["parent_id"] == "parent_y"


# --- parent data ---------------------------------------------------------------------------------------------

def test_data_by_source_priority_with_excluded_sources(runs):
    d = runs["par_1"]["data"]["c_create"]
    assert d["action"] == "create" and d["parent_id"] == NEW_PARENT
    data, origine = d["data"], d["origine"]
    assert data["nom"] == "Déchèterie A" and origine["nom"] == "sinoe_a"           # first in priority
    assert data["acteur_type"] == "decheterie" and origine["acteur_type"] == "sinoe_a"
    assert data["telephone"] == "0102030405" and origine["telephone"] == "refashion_a"  # sinoe has none
    assert data["email"] == "a@b.fr" and origine["email"] == "ecosystem_a"
    # cma is excluded: its url and nom_commercial are never used; sources not listed come after, by id
    assert data["url"] == "http://communaute" and origine["url"] == "communaute_a"
    assert "nom_commercial" not in data and "nom_commercial" not in origine
    # normalized identifiers when usable
    assert data["code_postal"] == "01000" and data["siret"] == "12345678900012" and data["siren"] == "123456789"


def test_coordinates_come_together_from_one_member(runs):
    d = runs["par_1"]["data"]["c_create"]
    # sinoe_a has a latitude but no longitude: the pair comes from refashion_a, never mixed
    assert (d["data"]["latitude"], d["data"]["longitude"]) == (48.1, 2.1)
    assert d["origine"]["latitude"] == d["origine"]["longitude"] == "refashion_a"


def test_keep_parent_data_puts_the_parents_own_values_first(runs):
    d = runs["par_1"]["data"]["c_keep_one"]
    assert d["data"]["nom"] == "Parent K" and d["origine"]["nom"] == "parent_k"
    assert d["data"]["ville"] == "Lyon" and d["origine"]["ville"] == "parent_k"
    assert d["data"]["adresse"] == "9 rue K" and d["origine"]["adresse"] == "sinoe_k2"  # parent's is empty


def test_without_keep_parent_data_members_win(runs):
    d = runs["par_2"]["data"]["c_keep_one"]
    # priority ["refashion"]: the existing child refashion_k1 first, then the others by id
    assert d["data"]["nom"] == "Enfant K1" and d["origine"]["nom"] == "refashion_k1"
    assert d["data"]["ville"] == "Lyon 1er"
    assert d["data"]["adresse"] == "9 rue K"
    assert runs["par_2"]["data"]["c_create"]["data"]["nom"] == "Boutique A"
    # cma no longer excluded, and before unlisted sources by id
    assert runs["par_2"]["data"]["c_create"]["data"]["nom_commercial"] == "Enseigne CMA"


def test_never_identity_fields_and_origine_matches_data(runs):
    for run in runs.values():
        for d in run["data"].values():
            assert not IDENTITY_FIELDS & set(d["data"])
            assert set(d["origine"]) == set(d["data"])


def test_inactive_children_do_not_feed_the_parent(runs):
    d = runs["par_1"]["data"]["c_actif"]
    assert "refashion_x3" not in d["origine"].values()


# --- changes -------------------------------------------------------------------------------------------------

def test_changes_create(runs):
    assert changes_of(runs["par_1"], "c_create") == [
        (1, "acteur_create_as_parent", NEW_PARENT, None),
        *[(2, "acteur_update_parent_id", m, NEW_PARENT) for m in sorted(CREATE_MEMBERS)],
    ]


def test_changes_keep_one(runs):
    assert changes_of(runs["par_1"], "c_keep_one") == [
        (1, "acteur_keep_as_parent", "parent_k", None),
        (2, "acteur_verify_in_revision", "refashion_k1", "parent_k"),
        (2, "acteur_update_parent_id", "sinoe_k2", "parent_k"),
    ]


def test_changes_keep_many_moves_children_of_deleted_parent(runs):
    got = {(o, t, i, p) for o, t, i, p in changes_of(runs["par_1"], "c_keep_many")}
    assert got == {
        (1, "acteur_keep_as_parent", "parent_m1", None),
        (2, "acteur_verify_in_revision", "refashion_m1a", "parent_m1"),
        (2, "acteur_verify_in_revision", "refashion_m1b", "parent_m1"),
        (2, "acteur_update_parent_id", "ecosystem_m2a", "parent_m1"),
        (2, "acteur_update_parent_id", "sinoe_m3", "parent_m1"),
        (3, "acteur_delete_as_parent", "parent_m2", None),
    }


def test_changes_inactive_parent_children_all_move(runs):
    got = {(o, t, i, p) for o, t, i, p in changes_of(runs["par_1"], "c_actif")}
    assert got == {
        (1, "acteur_keep_as_parent", "parent_y", None),
        (2, "acteur_verify_in_revision", "refashion_y1", "parent_y"),
        (2, "acteur_update_parent_id", "refashion_x1", "parent_y"),
        (2, "acteur_update_parent_id", "refashion_x2", "parent_y"),
        (2, "acteur_update_parent_id", "refashion_x3", "parent_y"),  # INACTIF children move too
        (3, "acteur_delete_as_parent", "parent_x_inactif", None),
    }


def test_data_only_on_create_and_keep_rows(runs):
    for c in runs["par_1"]["changes"]:
        if c["change_order"] == 1:
            assert c["data"] == runs["par_1"]["data"][c["cluster_id"]]["data"]
            assert c["origine"] == runs["par_1"]["data"][c["cluster_id"]]["origine"]
        else:
            assert c["data"] is None and c["origine"] is None
    assert all(c["run_id"] == "par_1" for c in runs["par_1"]["changes"])


# --- the same rule outside dbt (remove-member, data_platform.suggestions.parent_rules) ------------------------

def _context_members(conn, ids, kept=None):
    """Members in the shape of suggestion.contexte.membres, with every copyable field in raw."""
    fields = ["nom", "nom_commercial", "siren", "siret", "adresse", "adresse_complement", "code_postal", "ville",
              "latitude", "longitude", "telephone", "email", "url", "acteur_type"]
    found = rows(conn, "SELECT * FROM dbt.int_acteur_normalise WHERE identifiant_unique = ANY(%s)", (ids,))
    return [{"identifiant_unique": r["identifiant_unique"], "source": r["source"] or "",
             "est_parent": r["identifiant_unique"] == kept, "raw": {f: r[f] for f in fields},
             "norm": {f: r[f] for f in ("code_postal_norm", "siret_norm", "siren_norm")}} for r in found]


@pytest.mark.parametrize("run_id", list(RUNS))
@pytest.mark.parametrize("cluster_id, actors, kept", [
    ("c_create", CREATE_MEMBERS, None),
    ("c_keep_one", ["parent_k", "sinoe_k2", "refashion_k1"], "parent_k"),
])
def test_remove_member_rule_is_the_dbt_rule(runs, database_url, run_id, cluster_id, actors, kept):
    import json

    from data_platform.suggestions.parent_rules import rebuild_sql

    params = RUNS[run_id]
    conn = connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(rebuild_sql(), {
                "priority": params["parent_source_priority"], "excluded": params["parent_excluded_sources"],
                "keep": params["keep_parent_data"], "kept": kept,
                "membres": json.dumps(_context_members(conn, actors, kept)), "ids": CREATE_MEMBERS})
            data, origine, created_id = cur.fetchone()
        conn.rollback()
    finally:
        conn.close()
    expected = runs[run_id]["data"][cluster_id]
    assert (data, origine) == (expected["data"], expected["origine"])
    assert created_id == NEW_PARENT
