"""Per-field similarity and the combined score (data_platform.cluster.scoring)."""
from __future__ import annotations

import math

import numpy as np

from data_platform.cluster.params import validate_params
from data_platform.cluster.scoring import FIELDS, Arrays, haversine_m, score_pairs

PARAMS = validate_params({})
F = {name: k for k, name in enumerate(FIELDS)}


def _score(make_selection, a: dict, b: dict, **params):
    arr = Arrays.from_frame(make_selection([{"identifiant_unique": "a", **a}, {"identifiant_unique": "b", **b}]))
    return score_pairs(arr, np.array([0]), np.array([1]), validate_params(params))


def test_identical_actor_scores_one(make_selection):
    actor = {"nom_norm": "ressourcerie fabrique", "adresse_norm": "12 rue victor hugo", "ville_norm": "lyon",
             "code_postal_norm": "69003", "siret_norm": "12345678900011", "telephone_norm": "0478000000",
             "latitude": "45.75", "longitude": "4.85"}
    s = _score(make_selection, actor, actor)
    assert s.score[0] == 1.0
    assert not np.isnan(s.fields[0]).any()
    assert s.distance_m[0] == 0.0


def test_empty_fields_are_no_information_never_a_match(make_selection):
    s = _score(make_selection, {"nom_norm": "garage martin"}, {"nom_norm": "garage martin"})
    fields = s.fields[0]
    for name in ["adresse", "ville", "code_postal", "siret", "telephone", "distance"]:
        assert math.isnan(fields[F[name]]), name
    assert fields[F["nom"]] == 1.0
    # '' == '' must not count: no name on either side → no name information, score capped low
    s = _score(make_selection, {"adresse_norm": "1 rue x", "telephone_norm": "0102030405"},
               {"adresse_norm": "1 rue x", "telephone_norm": "0102030405"})
    assert math.isnan(s.fields[0][F["nom"]])
    assert s.score[0] < PARAMS["threshold"]


def test_shared_phone_and_site_alone_do_not_match(make_selection):
    site = {"adresse_norm": "zone industrielle route nationale", "ville_norm": "claret", "code_postal_norm": "04000",
            "telephone_norm": "0492000000", "latitude": "44.1", "longitude": "5.9"}
    s = _score(make_selection, {"nom_norm": "decheterie claret", **site},
               {"nom_norm": "ressourcerie tremplin", **site})
    assert s.fields[0][F["telephone"]] == 1.0 and s.fields[0][F["adresse"]] == 1.0
    assert s.score[0] < PARAMS["threshold"]


def test_name_spelling_variants_match(make_selection):
    common = {"adresse_norm": "12 rue victor hugo", "ville_norm": "lyon", "code_postal_norm": "69003"}
    s = _score(make_selection, {"nom_norm": "emmaus connect", **common},
               {"nom_norm": "emaus connect lyon", "adresse_norm": "12 rue victor hugo", "ville_norm": "lyon 3e",
                "code_postal_norm": "69003"})
    assert s.score[0] >= PARAMS["threshold"]


def test_name_alone_or_far_apart_does_not_decide(make_selection):
    s = _score(make_selection, {"nom_norm": "borne refashion", "ville_norm": "paris 13", "code_postal_norm": "75013"},
               {"nom_norm": "borne refashion", "ville_norm": "paris 13", "code_postal_norm": "75013"})
    assert s.fields[0][F["nom"]] == 1.0 and s.score[0] < PARAMS["threshold"]
    s = _score(make_selection, {"nom_norm": "boulanger", "adresse_norm": "rue de paris", "latitude": "48.89", "longitude": "2.29"},
               {"nom_norm": "boulanger", "adresse_norm": "rue de paris", "latitude": "48.85", "longitude": "2.29"})
    assert s.distance_m[0] > 4000 and s.score[0] < PARAMS["threshold"]


def test_nom_commercial_compared_with_nom(make_selection):
    s = _score(make_selection, {"nom_norm": "sarl dupont freres", "nom_commercial_norm": "bricomarche"},
               {"nom_norm": "bricomarche"})
    assert s.fields[0][F["nom"]] == 1.0


def test_siret_siren_and_phone(make_selection):
    s = _score(make_selection, {"nom_norm": "x", "siret_norm": "12345678900011"},
               {"nom_norm": "x", "siret_norm": "12345678900011"})
    assert s.fields[0][F["siret"]] == 1.0
    s = _score(make_selection, {"nom_norm": "x", "siret_norm": "12345678900011"},
               {"nom_norm": "x", "siret_norm": "12345678900029"})
    assert 0 < s.fields[0][F["siret"]] < 1  # same company, another establishment
    s = _score(make_selection, {"nom_norm": "x", "siret_norm": "12345678900011", "telephone_norm": "0102030405"},
               {"nom_norm": "x", "siret_norm": "98765432100011", "telephone_norm": "0607080910"})
    assert s.fields[0][F["siret"]] == 0.0 and s.fields[0][F["telephone"]] == 0.0
    s = _score(make_selection, {"nom_norm": "x", "siret_norm": "12345678900011"}, {"nom_norm": "x"})
    assert math.isnan(s.fields[0][F["siret"]])


def test_postal_code_equal_or_same_departement(make_selection):
    s = _score(make_selection, {"nom_norm": "x", "code_postal_norm": "69003"}, {"nom_norm": "x", "code_postal_norm": "69003"})
    assert s.fields[0][F["code_postal"]] == 1.0
    s = _score(make_selection, {"nom_norm": "x", "code_postal_norm": "69003"}, {"nom_norm": "x", "code_postal_norm": "69100"})
    assert 0 < s.fields[0][F["code_postal"]] < 1


def test_haversine_and_distance_field(make_selection):
    paris_lyon = haversine_m(48.8566, 2.3522, 45.7640, 4.8357)
    assert abs(paris_lyon - 392_000) < 3_000
    near = _score(make_selection, {"nom_norm": "x", "latitude": "48.8566", "longitude": "2.3522"},
                  {"nom_norm": "x", "latitude": "48.8567", "longitude": "2.3523"})
    assert near.distance_m[0] < 20 and near.fields[0][F["distance"]] == 1.0
    far = _score(make_selection, {"nom_norm": "x", "latitude": "48.8566", "longitude": "2.3522"},
                 {"nom_norm": "x", "latitude": "48.9", "longitude": "2.5"})
    assert far.fields[0][F["distance"]] == 0.0
    missing = _score(make_selection, {"nom_norm": "x", "latitude": "48.8566", "longitude": "2.3522"}, {"nom_norm": "x"})
    assert math.isnan(missing.distance_m[0]) and math.isnan(missing.fields[0][F["distance"]])


def test_exact_match_fields(make_selection):
    a = {"nom_norm": "garage martin", "adresse_norm": "3 avenue foch", "code_postal_norm": "69003"}
    assert _score(make_selection, a, {**a},
                  exact_match_fields=["code_postal_norm"]).score[0] == 1.0
    assert _score(make_selection, a, {**a, "code_postal_norm": "69004"},
                  exact_match_fields=["code_postal_norm"]).score[0] == 0.0
    # both empty is not equal
    b = {"nom_norm": "garage martin", "adresse_norm": "3 avenue foch"}
    assert _score(make_selection, b, b).score[0] == 1.0
    assert _score(make_selection, b, b, exact_match_fields=["code_postal_norm"]).score[0] == 0.0


def test_max_distance(make_selection):
    a = {"nom_norm": "garage martin", "adresse_norm": "3 avenue foch", "latitude": "48.8566", "longitude": "2.3522"}
    b = {**a, "latitude": "48.8620"}  # ~600 m
    assert _score(make_selection, a, b).score[0] > 0.75
    assert _score(make_selection, a, b, max_distance_m=500).score[0] == 0.0
    assert _score(make_selection, a, b, max_distance_m=5000).score[0] > 0.75
    # unknown coordinates: the rule does not apply
    assert _score(make_selection, a, {**a, "latitude": "", "longitude": ""}, max_distance_m=500).score[0] > 0.75


def test_weights_renormalized_over_informative_fields(make_selection):
    a = {"nom_norm": "garage martin", "telephone_norm": "0102030405"}
    s = _score(make_selection, a, a, fuzzy_fields={"nom": 1.0, "adresse": 5.0, "telephone": 1.0})
    assert s.score[0] == 1.0


def test_same_street_other_house_number_is_not_the_same_address(make_selection):
    a = {"nom_norm": "decheterie lyon", "adresse_norm": "36 rue gabriel peri", "ville_norm": "lyon"}
    s = _score(make_selection, a, {**a, "adresse_norm": "1 rue gabriel peri"})
    assert s.fields[0][F["adresse"]] == 0.0
    s = _score(make_selection, a, {**a, "adresse_norm": "rue gabriel peri"})  # number missing: fuzzy only
    assert s.fields[0][F["adresse"]] > 0.5
