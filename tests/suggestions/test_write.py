"""write_suggestions on a crafted run: exact suggestions, one transaction, re-runs, rejections, dry run.

The run's dbt relations cluster_changes and cluster_selection are crafted here; dbt builds the consolidated
layer and the view cluster_suggestions (the one the writer reads) on top of them, once per test."""
import json

import psycopg2.extensions
import pytest

from data_platform.suggestions.fingerprint import data_fingerprints, members_key
from data_platform.suggestions.write import CohortExistsError, write_suggestions
from tests.dbt.helpers import dbt

RUN = "run-1"
PARAMS = {"threshold": 0.75, "departements": ["75", "69"]}

DBT_DDL = """
create schema if not exists dbt;
create table if not exists dbt.cluster_changes (
    run_id text, cluster_id text, identifiant_unique text, change_type text, change_order int,
    parent_id text, data jsonb, origine jsonb
);
create table if not exists dbt.cluster_selection (
    identifiant_unique text, source text, acteur_type text, est_parent boolean, nombre_enfants int,
    nom text, nom_commercial text, adresse text, code_postal text, ville text, siret text, telephone text,
    latitude float, longitude float, nom_norm text, nom_commercial_norm text, adresse_norm text,
    ville_norm text, code_postal_norm text, siret_norm text, siren_norm text, telephone_norm text,
    departement text
);
"""

ACTEURS = [
    # id, source, nom, adresse, code_postal, ville, lat, lon
    ("refashion_1", "refashion", "Boutique Solidaire", "3 av. Parmentier", "75011", "Paris", 48.857, 2.379),
    ("ecosystem_1", "ecosystem", "BOUTIQUE SOLIDAIRE SARL", "3 avenue Parmentier", "75011", "PARIS 11", 48.8571, 2.3791),
    ("cma_2", "cma", "Garage Martin", "1 rue Neuve", "69003", "Lyon", 45.75, 4.85),
    ("aliapur_1", "aliapur", "Garage Martin Pneus", "1 r Neuve", "69003", "Lyon", 45.7501, 4.8501),
    ("corepile_1", "corepile", "Martin Garage", "1 rue neuve", "69003", "Lyon", None, None),
]

# cluster c1: two orphans and a new parent; cluster c2: kept parent parent_p (child aliapur_1), orphan
# cma_2, parent_q deleted (its child corepile_1 moves to parent_p)
CHANGES = [
    ("c1", "parent_c1", "acteur_create_as_parent", 1, None,
     {"ville": "Paris", "nom": "Boutique Solidaire", "latitude": 48.857},
     {"nom": "refashion_1", "ville": "refashion_1", "latitude": "refashion_1"}),
    ("c1", "refashion_1", "acteur_update_parent_id", 2, "parent_c1", None, None),
    ("c1", "ecosystem_1", "acteur_update_parent_id", 2, "parent_c1", None, None),
    ("c2", "parent_q", "acteur_delete_as_parent", 3, None, None, None),
    ("c2", "corepile_1", "acteur_update_parent_id", 2, "parent_p", None, None),
    ("c2", "cma_2", "acteur_update_parent_id", 2, "parent_p", None, None),
    ("c2", "aliapur_1", "acteur_verify_in_revision", 2, "parent_p", None, None),
    ("c2", "parent_p", "acteur_keep_as_parent", 1, None, {"nom": "Garage Martin"}, {"nom": "parent_p"}),
]

PAIRS = [
    ("c1", "ecosystem_1", "refashion_1", 0.91,
     {"fields": {"nom": 0.93, "adresse": 1.0}, "matched": ["nom", "adresse"], "distance_m": 12.5}),
    ("c2", "cma_2", "parent_p", 0.88, {"fields": {"nom": 1.0}, "matched": ["nom"], "distance_m": None}),
    ("c2", "cma_2", "parent_q", 0.79, {"fields": {"nom": 0.8}, "matched": [], "distance_m": 30.0}),
]


def _selection_row(ident, source, est_parent, nom, cp, ville, dep):
    return (ident, source, "commerce", est_parent, 1 if est_parent else 0, nom, "", "", cp, ville, "", "",
            None, None, nom.lower(), "", "", ville.lower(), cp, "", "", "", dep)


SELECTION = [
    _selection_row("refashion_1", "refashion", False, "Boutique Solidaire", "75011", "Paris", "75"),
    _selection_row("ecosystem_1", "ecosystem", False, "BOUTIQUE SOLIDAIRE SARL", "75011", "PARIS 11", "75"),
    _selection_row("cma_2", "cma", False, "Garage Martin", "69003", "Lyon", "69"),
    _selection_row("parent_p", None, True, "Garage Martin", "69003", "Lyon", "69"),
    _selection_row("parent_q", None, True, "Martin", "69003", "Lyon", "69"),
]


def build_views():
    """dbt: the consolidated layer (children's context), the staging views of the pipeline's tables and the
    suggestions view over the crafted tables."""
    dbt(["run", "--select", "+vue_acteur", "stg_cluster_membership", "stg_cluster_pair", "cluster_suggestions"])


def add_run(conn, run_id, changes=CHANGES, pairs=PAIRS):
    """A cluster_run with its membership, pairs and dbt change rows (the acteurs must exist)."""
    with conn.cursor() as cur:
        cur.execute(DBT_DDL)
        cur.execute("insert into cluster_run (run_id, dag_run_id, params, stage_seconds) values (%s, %s, %s, %s)",
                    (run_id, "manual__" + run_id, json.dumps(PARAMS), json.dumps({"cluster": 1.5})))
        members = {"c1": [("refashion_1", "75"), ("ecosystem_1", "75")],
                   "c2": [("cma_2", "69"), ("parent_p", "69"), ("parent_q", "69")]}
        cur.executemany("insert into cluster_membership (run_id, cluster_id, identifiant_unique, departement) "
                        "values (%s, %s, %s, %s)",
                        [(run_id, cid, i, d) for cid, ms in members.items() for i, d in ms])
        cur.executemany("insert into cluster_pair (run_id, cluster_id, id_a, id_b, score, details) "
                        "values (%s, %s, %s, %s, %s, %s)",
                        [(run_id, c, a, b, s, json.dumps(d)) for c, a, b, s, d in pairs])
        cur.executemany("insert into dbt.cluster_changes values (%s, %s, %s, %s, %s, %s, %s, %s)",
                        [(run_id, *r[:5], None if r[5] is None else json.dumps(r[5]),
                          None if r[6] is None else json.dumps(r[6])) for r in changes])
    conn.commit()


@pytest.fixture
def world(db):
    with db.cursor() as cur:
        cur.executemany(
            "insert into acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, adresse, "
            "code_postal, ville, latitude, longitude) values (%s, %s, %s, 'commerce', %s, %s, %s, %s, %s, %s)",
            [(i, i.split("_")[1], s, n, a, cp, v, la, lo) for i, s, n, a, cp, v, la, lo in ACTEURS])
        cur.execute("insert into revision_acteur (identifiant_unique, nom, code_postal, ville, statut) values "
                    "('parent_p', 'Garage Martin', '69003', 'Lyon', 'ACTIF'), "
                    "('parent_q', 'Martin', '69003', 'Lyon', 'ACTIF')")
        cur.execute("insert into revision_acteur (identifiant_unique, parent_id) values "
                    "('aliapur_1', 'parent_p'), ('corepile_1', 'parent_q')")
        cur.execute(DBT_DDL)
        cur.executemany("insert into dbt.cluster_selection values (" + ", ".join(["%s"] * 23) + ")", SELECTION)
    db.commit()
    build_views()
    add_run(db, RUN)
    return db


def _suggestions(conn, run_id=None):
    with conn.cursor() as cur:
        cur.execute("""
            select s.cluster_id, s.statut, s.score, s.departement, s.taille, s.sources, s.membres,
                   s.empreinte_membres, s.empreinte_donnees, s.changes, s.contexte, s.id
            from suggestion s join suggestion_cohorte c on c.id = s.cohorte_id
            where %s::text is null or c.run_id = %s order by s.id""", (run_id, run_id))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def _count(conn, table):
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return cur.fetchone()[0]


def _set_statut(conn, cluster_id, statut):
    with conn.cursor() as cur:
        cur.execute("update suggestion set statut = %s where cluster_id = %s", (statut, cluster_id))
    conn.commit()


def _touch(conn, ident):
    """An actor changes after the suggestion was made (its modifie_le moves)."""
    with conn.cursor() as cur:
        cur.execute("update acteur set ville = ville, modifie_le = modifie_le + interval '1 day' "
                    "where identifiant_unique = %s", (ident,))
    conn.commit()


def test_writes_the_exact_suggestions_of_a_run(world):
    counts = write_suggestions(world, RUN, dag_run_id="manual__1", params=PARAMS)
    assert counts == {
        "clusters": 2, "suggestions": 2, "acteurs": 8,
        "changes": {"acteur_create_as_parent": 1, "acteur_keep_as_parent": 1, "acteur_update_parent_id": 4,
                    "acteur_verify_in_revision": 1, "acteur_delete_as_parent": 1},
        "departements": {"69": 1, "75": 1}, "skipped": {"pending": 0, "rejected": 0}, "stale": 0,
        "cohorte_id": counts["cohorte_id"], "dry_run": False, "replaced": False,
    }
    with world.cursor() as cur:
        cur.execute("select id, run_id, dag_id, dag_run_id, type_action, parametres, compteurs, statut "
                    "from suggestion_cohorte")
        cohorts = cur.fetchall()
    assert len(cohorts) == 1
    cid, run_id, dag_id, dag_run_id, type_action, parametres, compteurs, statut = cohorts[0]
    assert (cid, run_id, dag_id, dag_run_id, type_action, statut) == (
        counts["cohorte_id"], RUN, "cluster_acteurs", "manual__1", "clustering", "done")
    assert parametres == PARAMS
    assert compteurs == {k: v for k, v in counts.items() if k not in ("cohorte_id", "dry_run", "replaced")}

    s1, s2 = _suggestions(world)
    membres1 = ["ecosystem_1", "parent_c1", "refashion_1"]
    membres2 = ["aliapur_1", "cma_2", "corepile_1", "parent_p", "parent_q"]
    fps = data_fingerprints(world, {"c1": membres1, "c2": membres2})
    assert {k: s1[k] for k in ("cluster_id", "statut", "score", "departement", "taille", "sources", "membres",
                               "empreinte_membres", "empreinte_donnees")} == {
        "cluster_id": "c1", "statut": "to_review", "score": 0.91, "departement": "75", "taille": 3,
        "sources": ["ecosystem", "refashion"], "membres": membres1,
        "empreinte_membres": members_key(membres1), "empreinte_donnees": fps["c1"]}
    assert s1["changes"] == [
        {"order": 1, "type": "acteur_create_as_parent", "identifiant_unique": "parent_c1",
         "data": {"nom": "Boutique Solidaire", "ville": "Paris", "latitude": 48.857}},
        {"order": 2, "type": "acteur_update_parent_id", "identifiant_unique": "ecosystem_1", "parent_id": "parent_c1"},
        {"order": 2, "type": "acteur_update_parent_id", "identifiant_unique": "refashion_1", "parent_id": "parent_c1"},
    ]
    assert s1["contexte"] == {
        "membres": [
            {"identifiant_unique": "ecosystem_1", "source": "ecosystem", "est_parent": False,
             "raw": {"acteur_type": "commerce", "nom": "BOUTIQUE SOLIDAIRE SARL", "nom_commercial": "", "adresse": "",
                     "code_postal": "75011", "ville": "PARIS 11", "siret": "", "telephone": "",
                     "latitude": None, "longitude": None},
             "norm": {"nom_norm": "boutique solidaire sarl", "nom_commercial_norm": "", "adresse_norm": "",
                      "ville_norm": "paris 11", "code_postal_norm": "75011", "siret_norm": "", "siren_norm": "",
                      "telephone_norm": "", "departement": "75"}},
            {"identifiant_unique": "refashion_1", "source": "refashion", "est_parent": False,
             "raw": {"acteur_type": "commerce", "nom": "Boutique Solidaire", "nom_commercial": "", "adresse": "",
                     "code_postal": "75011", "ville": "Paris", "siret": "", "telephone": "",
                     "latitude": None, "longitude": None},
             "norm": {"nom_norm": "boutique solidaire", "nom_commercial_norm": "", "adresse_norm": "",
                      "ville_norm": "paris", "code_postal_norm": "75011", "siret_norm": "", "siren_norm": "",
                      "telephone_norm": "", "departement": "75"}},
        ],
        "paires": [{"id_a": "ecosystem_1", "id_b": "refashion_1", "score": 0.91,
                    "fields": {"nom": 0.93, "adresse": 1.0}, "matched": ["nom", "adresse"], "distance_m": 12.5}],
        "parent": {"identifiant_unique": "parent_c1", "action": "create",
                   "data": {"nom": "Boutique Solidaire", "ville": "Paris", "latitude": 48.857},
                   "origine": {"nom": "refashion_1", "ville": "refashion_1", "latitude": "refashion_1"}},
    }

    # c2: score = weakest pair; children that were not selected come from acteur ⊕ revision
    assert (s2["cluster_id"], s2["score"], s2["departement"], s2["taille"]) == ("c2", 0.79, "69", 5)
    assert s2["sources"] == ["aliapur", "cma", "corepile"]
    assert s2["membres"] == membres2 and s2["empreinte_donnees"] == fps["c2"]
    assert [(c["order"], c["type"], c["identifiant_unique"]) for c in s2["changes"]] == [
        (1, "acteur_keep_as_parent", "parent_p"), (2, "acteur_verify_in_revision", "aliapur_1"),
        (2, "acteur_update_parent_id", "cma_2"), (2, "acteur_update_parent_id", "corepile_1"),
        (3, "acteur_delete_as_parent", "parent_q")]
    membres = {m["identifiant_unique"]: m for m in s2["contexte"]["membres"]}
    assert list(membres) == membres2
    assert membres["corepile_1"] == {
        "identifiant_unique": "corepile_1", "source": "corepile", "est_parent": False,
        "raw": {"acteur_type": "commerce", "nom": "Martin Garage", "nom_commercial": "", "adresse": "1 rue neuve",
                "code_postal": "69003", "ville": "Lyon", "siret": "", "telephone": "", "latitude": None,
                "longitude": None},
        "norm": {}}
    assert membres["parent_p"]["est_parent"] is True and membres["parent_p"]["source"] == ""
    assert s2["contexte"]["parent"] == {"identifiant_unique": "parent_p", "action": "keep",
                                        "data": {"nom": "Garage Martin"}, "origine": {"nom": "parent_p"}}
    assert [(p["id_a"], p["id_b"], p["score"]) for p in s2["contexte"]["paires"]] == [
        ("cma_2", "parent_p", 0.88), ("cma_2", "parent_q", 0.79)]


def test_output_is_deterministic(world):
    write_suggestions(world, RUN, params=PARAMS)
    first = [{k: v for k, v in s.items() if k != "id"} for s in _suggestions(world)]
    with world.cursor() as cur:
        cur.execute("select changes::text, contexte::text from suggestion order by id")
        first_text = cur.fetchall()
    write_suggestions(world, RUN, params=PARAMS)  # untouched cohort: replaced
    assert [{k: v for k, v in s.items() if k != "id"} for s in _suggestions(world)] == first
    with world.cursor() as cur:
        cur.execute("select changes::text, contexte::text from suggestion order by id")
        assert cur.fetchall() == first_text


def test_a_failure_midway_leaves_nothing(world):
    write_suggestions(world, RUN, params=PARAMS)
    _touch(world, "refashion_1")  # c1's data changed: the next run would mark the old c1 stale
    bad = [("c1",) + r[1:] for r in CHANGES[:3]] + [("x" * 300, "parent_zz", "acteur_create_as_parent", 1, None,
                                                      {"nom": "Trop long"}, None)]
    add_run(world, "run-2", changes=bad, pairs=[])
    before = _suggestions(world)
    # cluster_id longer than the column: the COPY of suggestions fails after the cohort row and the
    # stale marking were written
    with pytest.raises(Exception, match="too long"):
        write_suggestions(world, "run-2", params=PARAMS)
    assert _suggestions(world) == before  # c1 still to_review, nothing new
    assert _count(world, "suggestion_cohorte") == 1
    assert _count(world, "suggestion_decision") == 0


def test_rerun_with_unchanged_input_creates_no_duplicate(world):
    write_suggestions(world, RUN, params=PARAMS)
    add_run(world, "run-2")
    counts = write_suggestions(world, "run-2", params=PARAMS)
    assert (counts["suggestions"], counts["skipped"], counts["stale"]) == (0, {"pending": 2, "rejected": 0}, 0)
    assert _count(world, "suggestion") == 2
    assert _count(world, "suggestion_cohorte") == 2  # the run still gets its cohort, with its counts
    _set_statut(world, "c2", "approved")
    add_run(world, "run-3")
    assert write_suggestions(world, "run-3", params=PARAMS)["skipped"] == {"pending": 2, "rejected": 0}


def test_rejected_cluster_not_reproposed_unless_its_data_changed(world):
    write_suggestions(world, RUN, params=PARAMS)
    _set_statut(world, "c1", "rejected")
    add_run(world, "run-2")
    counts = write_suggestions(world, "run-2", params=PARAMS)
    assert counts["skipped"] == {"pending": 1, "rejected": 1} and counts["suggestions"] == 0

    _touch(world, "ecosystem_1")
    add_run(world, "run-3")
    counts = write_suggestions(world, "run-3", params=PARAMS)
    assert counts["skipped"] == {"pending": 1, "rejected": 0} and counts["suggestions"] == 1
    (new,) = _suggestions(world, "run-3")
    assert (new["cluster_id"], new["statut"]) == ("c1", "to_review")
    assert new["empreinte_membres"] == members_key(["ecosystem_1", "parent_c1", "refashion_1"])
    old = [s for s in _suggestions(world, RUN) if s["cluster_id"] == "c1"][0]
    assert old["statut"] == "rejected" and old["empreinte_donnees"] != new["empreinte_donnees"]


def test_pending_suggestion_with_changed_data_is_marked_stale(world):
    write_suggestions(world, RUN, params=PARAMS)
    _touch(world, "cma_2")
    add_run(world, "run-2")
    counts = write_suggestions(world, "run-2", dag_id="cluster_acteurs", params=PARAMS)
    assert (counts["suggestions"], counts["stale"], counts["skipped"]["pending"]) == (1, 1, 1)
    statuses = {(s["cluster_id"], s["statut"]) for s in _suggestions(world)}
    assert statuses == {("c1", "to_review"), ("c2", "stale"), ("c2", "to_review")}
    with world.cursor() as cur:
        cur.execute("select decision, username, statut_avant, statut_apres from suggestion_decision")
        assert cur.fetchall() == [("stale", "cluster_acteurs", "to_review", "stale")]


def test_dry_run_writes_nothing(world):
    counts = write_suggestions(world, RUN, params=PARAMS, dry_run=True)
    assert counts["dry_run"] is True and counts["cohorte_id"] is None
    assert counts["suggestions"] == 2 and counts["changes"]["acteur_update_parent_id"] == 4
    world.commit()
    assert _count(world, "suggestion_cohorte") == 0 and _count(world, "suggestion") == 0


def test_same_run_replaces_an_untouched_cohort_and_refuses_a_reviewed_one(world):
    first = write_suggestions(world, RUN, params=PARAMS)
    again = write_suggestions(world, RUN, params=PARAMS)
    assert again["replaced"] is True and again["suggestions"] == 2
    assert _count(world, "suggestion_cohorte") == 1 and _count(world, "suggestion") == 2
    assert again["cohorte_id"] != first["cohorte_id"]
    _set_statut(world, "c1", "approved")
    with pytest.raises(CohortExistsError, match="run 'run-1' already has cohort .* not replaced"):
        write_suggestions(world, RUN, params=PARAMS)
    assert _count(world, "suggestion_cohorte") == 1 and _count(world, "suggestion") == 2


def test_params_default_to_the_run_and_empty_run_gets_an_empty_cohort(world):
    with world.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, dag_run_id, params) values ('empty', 'sched__1', %s)",
                    (json.dumps({"threshold": 0.9}),))
    world.commit()
    counts = write_suggestions(world, "empty")
    assert (counts["clusters"], counts["suggestions"]) == (0, 0)
    with world.cursor() as cur:
        cur.execute("select dag_run_id, parametres from suggestion_cohorte where run_id = 'empty'")
        assert cur.fetchone() == ("sched__1", {"threshold": 0.9})


class _CountingCursor(psycopg2.extensions.cursor):
    statements = 0

    def execute(self, query, vars=None):
        type(self).statements += 1
        return super().execute(query, vars)

    def copy_expert(self, sql, file, size=8192):
        type(self).statements += 1
        return super().copy_expert(sql, file, size)


def _statements(conn, run_id):
    conn.cursor_factory = _CountingCursor
    _CountingCursor.statements = 0
    try:
        counts = write_suggestions(conn, run_id, params=PARAMS)
    finally:
        conn.cursor_factory = psycopg2.extensions.cursor
    return counts["suggestions"], _CountingCursor.statements


def test_database_round_trips_do_not_grow_with_the_number_of_clusters(world):
    add_run(world, "small", changes=CHANGES[3:])  # 1 cluster
    many = [r for i in range(25) for r in [
        (f"e{i}", f"parent_e{i}", "acteur_create_as_parent", 1, None, {"nom": f"E{i}"}, {}),
        (f"e{i}", f"ecosystem_e{i}a", "acteur_update_parent_id", 2, f"parent_e{i}", None, None),
        (f"e{i}", f"refashion_e{i}b", "acteur_update_parent_id", 2, f"parent_e{i}", None, None)]]
    add_run(world, "big", changes=CHANGES[:3] + many)  # 26 clusters
    small = _statements(world, "small")
    big = _statements(world, "big")
    assert (small[0], big[0]) == (1, 26)
    assert big[1] == small[1] <= 15


def test_non_finite_coordinates_become_null_in_the_context(world):
    with world.cursor() as cur:
        cur.execute("update dbt.cluster_selection set latitude = 'NaN', longitude = 'Infinity' "
                    "where identifiant_unique = 'refashion_1'")
        cur.execute("update acteur set latitude = 'NaN' where identifiant_unique = 'corepile_1'")
    world.commit()
    write_suggestions(world, RUN, params=PARAMS)
    members = {m["identifiant_unique"]: m["raw"] for s in _suggestions(world) for m in s["contexte"]["membres"]}
    assert (members["refashion_1"]["latitude"], members["refashion_1"]["longitude"]) == (None, None)
    assert members["corepile_1"]["latitude"] is None


def test_a_failed_replacement_keeps_the_previous_cohort(world):
    first = write_suggestions(world, RUN, params=PARAMS)
    before = _suggestions(world)
    with world.cursor() as cur:
        cur.execute("insert into dbt.cluster_changes (run_id, cluster_id, identifiant_unique, change_type, change_order, "
                    "data) values (%s, %s, 'parent_long', 'acteur_create_as_parent', 1, '{}')", (RUN, "y" * 300))
    world.commit()
    with pytest.raises(Exception, match="too long"):
        write_suggestions(world, RUN, params=PARAMS)
    assert _suggestions(world) == before
    with world.cursor() as cur:
        cur.execute("select id from suggestion_cohorte")
        assert cur.fetchall() == [(first["cohorte_id"],)]


def test_outdated_to_review_is_marked_stale_even_when_the_cluster_is_skipped(world):
    write_suggestions(world, RUN, params=PARAMS)       # c1 v1 (to_review)
    _set_statut(world, "c1", "rejected")
    _touch(world, "refashion_1")
    add_run(world, "run-2")
    write_suggestions(world, "run-2", params=PARAMS)   # c1 v2 (to_review), c2 skipped
    _set_statut_of(world, "run-2", "c1", "rejected")   # v2 rejected
    with world.cursor() as cur:                        # an older to_review of c1 (v1 data) still around
        cur.execute("update suggestion s set statut = 'to_review' from suggestion_cohorte c "
                    "where c.id = s.cohorte_id and c.run_id = %s and s.cluster_id = 'c1'", (RUN,))
    world.commit()
    add_run(world, "run-3")
    counts = write_suggestions(world, "run-3", params=PARAMS)
    assert counts["skipped"] == {"pending": 1, "rejected": 1} and counts["stale"] == 1
    assert [s["statut"] for s in _suggestions(world, RUN) if s["cluster_id"] == "c1"] == ["stale"]


def _set_statut_of(conn, run_id, cluster_id, statut):
    with conn.cursor() as cur:
        cur.execute("update suggestion s set statut = %s from suggestion_cohorte c "
                    "where c.id = s.cohorte_id and c.run_id = %s and s.cluster_id = %s", (statut, run_id, cluster_id))
    conn.commit()


def _waiting_on_locks(conn, n, timeout=20.0):
    """Wait until `n` other backends of this database wait on a heavyweight lock; their wait events."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with conn.cursor() as cur:
            cur.execute("select wait_event from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid() and wait_event_type = 'Lock' order by 1")
            events = [r[0] for r in cur.fetchall()]
        conn.rollback()
        if len(events) >= n or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def test_two_writers_at_once_propose_each_cluster_once(world, database_url):
    """A clustering run's writer and the ingestion's (run id match:…) on the same clusters, each on its own
    connection, at the same moment. A third connection holds `suggestion` in SHARE mode, which lets the writers read
    it (their plan) but not write it: unserialized, both would plan, both find nothing pending, and both insert once
    it is released (checked with the writers' lock and the plan's ANALYZE removed: 4 suggestions). With the advisory
    lock the second waits before planning (READ COMMITTED: its plan's snapshot is taken after the first committed)."""
    from concurrent.futures import ThreadPoolExecutor

    from data_platform.db.connection import connect

    add_run(world, "match:ing-1")

    def writer(run_id):
        with connect(database_url) as conn:
            return write_suggestions(conn, run_id, params=PARAMS)

    # the blocker is the inner context: whatever fails, it is released before the pool waits for the writers
    with ThreadPoolExecutor(2) as pool, connect(database_url) as blocker:
        with blocker.cursor() as cur:
            cur.execute("lock table suggestion in share mode")
        futures = [pool.submit(writer, run_id) for run_id in (RUN, "match:ing-1")]
        waits = _waiting_on_locks(world, 2)
        blocker.commit()
        results = [f.result(timeout=60) for f in futures]
    assert sorted((s["cluster_id"], s["statut"]) for s in _suggestions(world)) == [("c1", "to_review"),
                                                                                     ("c2", "to_review")]
    assert sorted((r["suggestions"], r["skipped"]["pending"]) for r in results) == [(0, 2), (2, 0)]
    # one writer waited for `suggestion` (planned, then to insert), the other for the writers' lock (before planning)
    assert waits == ["advisory", "relation"]


def test_the_writer_refuses_a_transaction_whose_snapshot_would_hide_a_concurrent_writer(world, database_url):
    """Under REPEATABLE READ the lock would not help (the plan's snapshot predates the other writer's commit:
    two pending copies of each cluster): refused, nothing written."""
    from data_platform.db.connection import connect

    with connect(database_url) as conn:
        conn.set_session(isolation_level="REPEATABLE READ")
        with pytest.raises(RuntimeError, match="needs a READ COMMITTED transaction, got 'repeatable read'"):
            write_suggestions(conn, RUN, params=PARAMS)
    assert _count(world, "suggestion_cohorte") == 0 and _count(world, "suggestion") == 0
