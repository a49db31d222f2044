"""Typed change records: validation of each type, load_changes on crafted dbt.cluster_changes rows."""
import json

import pytest

from data_platform.changes import (
    ChangeSetError,
    ChangeValidationError,
    CreateAsParent,
    DeleteAsParent,
    KeepAsParent,
    UpdateParentId,
    VerifyInRevision,
    change_from_json,
    load_changes,
    make_change,
)

CHANGES_DDL = """
create schema if not exists dbt;
create table dbt.cluster_changes (
    run_id text, cluster_id text, identifiant_unique text, change_type text, change_order int,
    parent_id text, data jsonb, origine jsonb
);
"""


def insert_changes(conn, rows):
    """rows: (run_id, cluster_id, identifiant_unique, change_type, change_order, parent_id, data, origine)."""
    with conn.cursor() as cur:
        cur.execute(CHANGES_DDL)
        cur.executemany(
            "insert into dbt.cluster_changes values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [r[:6] + tuple(None if v is None else json.dumps(v) for v in r[6:]) for r in rows])
    conn.commit()


# ---------------------------------------------------------------- records


def test_each_type_serializes_to_the_contract_shape():
    create = CreateAsParent("c1", "parent_abc", data={"ville": "Lyon", "nom": "Ressourcerie"},
                            origine={"nom": "refashion_1"})
    assert create.to_json() == {"order": 1, "type": "acteur_create_as_parent", "identifiant_unique": "parent_abc",
                                "data": {"nom": "Ressourcerie", "ville": "Lyon"}}
    # keys in a stable order: record keys, then data keys in the canonical field order
    assert list(create.to_json()) == ["order", "type", "identifiant_unique", "data"]
    assert list(create.to_json()["data"]) == ["nom", "ville"]
    assert KeepAsParent("c1", "p1", data={}).to_json() == {
        "order": 1, "type": "acteur_keep_as_parent", "identifiant_unique": "p1", "data": {}}
    assert UpdateParentId("c1", "a1", parent_id="p1").to_json() == {
        "order": 2, "type": "acteur_update_parent_id", "identifiant_unique": "a1", "parent_id": "p1"}
    assert list(VerifyInRevision("c1", "a2", parent_id="p1").to_json()) == [
        "order", "type", "identifiant_unique", "parent_id"]
    assert DeleteAsParent("c1", "p2").to_json() == {
        "order": 3, "type": "acteur_delete_as_parent", "identifiant_unique": "p2"}


def test_round_trip_through_json():
    for change in [CreateAsParent("c", "p", data={"nom": "X", "latitude": 45.1}),
                   UpdateParentId("c", "a", parent_id="p"), DeleteAsParent("c", "q")]:
        assert change_from_json("c", change.to_json()) == change


@pytest.mark.parametrize("field_name", ["identifiant_unique", "identifiant_externe", "source", "statut",
                                        "parent_id", "cree_le", "modifie_le"])
def test_identity_field_in_data_is_refused_naming_cluster_actor_and_field(field_name):
    with pytest.raises(ChangeValidationError) as exc:
        CreateAsParent("c9", "parent_x", data={"nom": "A", field_name: "v"})
    msg = str(exc.value)
    assert "'c9'" in msg and "'parent_x'" in msg and repr(field_name) in msg and "identity field" in msg
    assert exc.value.field == field_name


def test_parent_types_require_data():
    for cls in (CreateAsParent, KeepAsParent):
        with pytest.raises(ChangeValidationError, match=r"cluster 'c1', acteur 'p', field 'data': .* requires data"):
            cls("c1", "p")
    with pytest.raises(ChangeValidationError, match="field 'data': must be an object"):
        KeepAsParent("c1", "p", data=["nom"])


def test_data_fields_and_values_are_checked():
    with pytest.raises(ChangeValidationError, match="field 'couleur': unknown field"):
        CreateAsParent("c1", "p", data={"couleur": "bleu"})
    with pytest.raises(ChangeValidationError, match="field 'nom': value must be a string or null, got dict"):
        CreateAsParent("c1", "p", data={"nom": {"x": 1}})
    with pytest.raises(ChangeValidationError, match="field 'siret': value must be a string or null, got int"):
        CreateAsParent("c1", "p", data={"siret": 12345678900011})
    with pytest.raises(ChangeValidationError, match="field 'longitude': value must be a number or null, got str"):
        CreateAsParent("c1", "p", data={"longitude": "2.3"})
    assert CreateAsParent("c1", "p", data={"nom": None, "latitude": 45}).data == {"nom": None, "latitude": 45}
    with pytest.raises(ChangeValidationError, match="field 'latitude': value nan is not a finite number"):
        CreateAsParent("c1", "p", data={"latitude": float("nan")})
    with pytest.raises(ChangeValidationError, match="field 'origine.ville': origin given for a field not in data"):
        CreateAsParent("c1", "p", data={"nom": "A"}, origine={"ville": "a1"})


def test_link_types_require_a_parent_other_than_themselves():
    for cls in (UpdateParentId, VerifyInRevision):
        with pytest.raises(ChangeValidationError, match=r"cluster 'c1', acteur 'a1', field 'parent_id': .* requires"):
            cls("c1", "a1")
        with pytest.raises(ChangeValidationError, match="field 'parent_id': an actor cannot be its own parent"):
            cls("c1", "a1", parent_id="a1")
        with pytest.raises(ChangeValidationError, match="field 'parent_id': must be a non-empty string"):
            cls("c1", "a1", parent_id="  ")


def test_order_must_match_the_type():
    assert UpdateParentId("c", "a", 2, parent_id="p").order == 2
    with pytest.raises(ChangeValidationError,
                       match="acteur 'a', field 'order': acteur_update_parent_id must have order 2, got 1"):
        UpdateParentId("c", "a", 1, parent_id="p")
    with pytest.raises(ChangeValidationError, match="acteur_delete_as_parent must have order 3, got 2"):
        DeleteAsParent("c", "p", 2)
    with pytest.raises(ChangeValidationError, match="acteur_create_as_parent must have order 1"):
        CreateAsParent("c", "p", 3, data={})


def test_ids_must_be_non_empty():
    with pytest.raises(ChangeValidationError, match="field 'identifiant_unique': must be a non-empty string"):
        DeleteAsParent("c", "")
    with pytest.raises(ChangeValidationError, match="field 'cluster_id': must be a non-empty string"):
        DeleteAsParent("", "p")


def test_make_change_refuses_fields_the_type_does_not_carry():
    with pytest.raises(ChangeValidationError, match="field 'type': unknown change type 'acteur_merge'"):
        make_change("acteur_merge", "c", "a")
    with pytest.raises(ChangeValidationError, match="field 'data': acteur_update_parent_id must not carry data"):
        make_change("acteur_update_parent_id", "c", "a", 2, parent_id="p", data={"nom": "x"})
    with pytest.raises(ChangeValidationError, match="field 'parent_id': acteur_delete_as_parent must not carry"):
        make_change("acteur_delete_as_parent", "c", "a", 3, parent_id="p")
    with pytest.raises(ChangeValidationError, match="acteur_keep_as_parent must not point to another parent"):
        make_change("acteur_keep_as_parent", "c", "p", 1, parent_id="q", data={})
    # empty values of absent fields are fine
    assert make_change("acteur_delete_as_parent", "c", "a", 3, parent_id="", data={}) == DeleteAsParent("c", "a")


# ---------------------------------------------------------------- load_changes

RUN = "run-1"


def _rows():
    return [
        # cluster k1: two orphans, a new parent
        (RUN, "k1", "refashion_2", "acteur_update_parent_id", 2, "parent_k1", None, None),
        (RUN, "k1", "parent_k1", "acteur_create_as_parent", 1, None, {"nom": "Boutique", "ville": "Paris"},
         {"nom": "refashion_2", "ville": "ecosystem_1"}),
        (RUN, "k1", "ecosystem_1", "acteur_update_parent_id", 2, "parent_k1", None, None),
        # cluster k0: a kept parent, its child, another parent deleted and its child moved
        (RUN, "k0", "parent_old", "acteur_delete_as_parent", 3, "parent_keep", None, None),
        (RUN, "k0", "cma_9", "acteur_update_parent_id", 2, "parent_keep", None, None),
        (RUN, "k0", "parent_keep", "acteur_keep_as_parent", 1, "parent_keep", {"nom": "Garage"}, {}),
        (RUN, "k0", "aliapur_3", "acteur_verify_in_revision", 2, "parent_keep", {}, None),
        # another run: ignored
        ("run-0", "k7", "x", "acteur_delete_as_parent", 3, None, None, None),
    ]


def test_load_changes_groups_validates_and_orders(db):
    insert_changes(db, _rows())
    clusters = load_changes(db, RUN)
    assert list(clusters) == ["k0", "k1"]
    assert [c.to_json() for c in clusters["k0"]] == [
        {"order": 1, "type": "acteur_keep_as_parent", "identifiant_unique": "parent_keep", "data": {"nom": "Garage"}},
        {"order": 2, "type": "acteur_verify_in_revision", "identifiant_unique": "aliapur_3",
         "parent_id": "parent_keep"},
        {"order": 2, "type": "acteur_update_parent_id", "identifiant_unique": "cma_9", "parent_id": "parent_keep"},
        {"order": 3, "type": "acteur_delete_as_parent", "identifiant_unique": "parent_old"},
    ]
    assert [c.identifiant_unique for c in clusters["k1"]] == ["parent_k1", "ecosystem_1", "refashion_2"]
    assert clusters["k1"][0].origine == {"nom": "refashion_2", "ville": "ecosystem_1"}
    assert load_changes(db, "no-such-run") == {}


def _errors(db, rows):
    insert_changes(db, rows)
    with pytest.raises(ChangeSetError) as exc:
        load_changes(db, RUN)
    return exc.value


def test_load_changes_requires_exactly_one_parent(db):
    err = _errors(db, [
        (RUN, "k1", "a", "acteur_update_parent_id", 2, "p", None, None),
        (RUN, "k2", "p1", "acteur_create_as_parent", 1, None, {}, None),
        (RUN, "k2", "p2", "acteur_keep_as_parent", 1, None, {}, None),
    ])
    msgs = [str(e) for e in err.errors]
    assert msgs == [
        "cluster 'k1', acteur None, field 'type': a cluster needs exactly one create/keep parent, found none",
        "cluster 'k2', acteur 'p2', field 'type': a cluster needs exactly one create/keep parent, found p1, p2",
    ]


def test_load_changes_requires_links_to_the_chosen_parent_and_no_actor_twice(db):
    err = _errors(db, [
        (RUN, "k1", "p", "acteur_create_as_parent", 1, None, {"nom": "A"}, None),
        (RUN, "k1", "a", "acteur_update_parent_id", 2, "other", None, None),
        (RUN, "k1", "b", "acteur_verify_in_revision", 2, "p", None, None),
        (RUN, "k1", "b", "acteur_update_parent_id", 2, "p", None, None),
        (RUN, "k2", "q", "acteur_keep_as_parent", 1, None, {}, None),
        (RUN, "k2", "a", "acteur_update_parent_id", 2, "q", None, None),
    ])
    msgs = [str(e) for e in err.errors]
    assert ("cluster 'k1', acteur 'a', field 'parent_id': acteur_update_parent_id points to 'other', "
            "not to the cluster's parent 'p'") in msgs
    assert "cluster 'k1', acteur 'b', field 'identifiant_unique': the actor appears twice in the cluster" in msgs
    assert "cluster 'k2', acteur 'a', field 'identifiant_unique': the actor is also in cluster 'k1'" in msgs
    assert "3 invalid change record(s)" in str(err)


def test_load_changes_reports_record_errors_with_cluster_actor_field(db):
    err = _errors(db, [
        (RUN, "k1", "p", "acteur_create_as_parent", 1, None, {"nom": "A", "source": "cma"}, None),
        (RUN, "k1", "a", "acteur_update_parent_id", 3, "p", None, None),
    ])
    msgs = [str(e) for e in err.errors]
    assert "cluster 'k1', acteur 'p', field 'source': identity field must not be in the data of " \
           "acteur_create_as_parent" in msgs
    assert "cluster 'k1', acteur 'a', field 'order': acteur_update_parent_id must have order 2, got 3" in msgs
