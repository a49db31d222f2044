"""Comparison levels of pairs (data_platform.cluster.comparisons)."""
from __future__ import annotations

import numpy as np

from data_platform.cluster.comparisons import (
    COL,
    COMPARISONS,
    compare,
    house_number_level,
    phonetic_key,
    split_address,
    strip_city,
)
from data_platform.cluster.scoring import Arrays

LEVELS = {name: levels for name, levels in COMPARISONS}


def _levels(make_selection, a: dict, b: dict) -> dict:
    arr = Arrays.from_frame(make_selection([{"identifiant_unique": "a", **a}, {"identifiant_unique": "b", **b}]))
    c = compare(arr, np.array([0]), np.array([1]))
    return {name: (LEVELS[name][lev] if lev >= 0 else None) for name, lev in zip(LEVELS, c.levels[0].tolist())}


def test_missing_values_are_no_information_never_a_mismatch(make_selection):
    lv = _levels(make_selection, {"nom_norm": "garage martin"}, {"nom_norm": "garage martin"})
    assert lv["nom"] == "exact"
    assert all(lv[name] is None for name in LEVELS if name != "nom"), lv
    # '' == '' is not an agreement either
    lv = _levels(make_selection, {"adresse_norm": "1 rue x"}, {"telephone_norm": "0102030405"})
    assert all(v is None for v in lv.values()), lv


def test_house_number_typos_are_tolerated():
    a = np.array(["215", "2n5", "12o", "59", "14", "12", "1", "36", ""], dtype=object)
    b = np.array(["251", "215", "126", "599", "114", "12", "2", "1", "12"], dtype=object)
    assert house_number_level(a, b).tolist() == [1, 1, 1, 1, 1, 0, 2, 2, -1]


def test_split_address_and_place(make_selection):
    number, street = split_address(np.array(["12 bis rue victor hugo 69003 lyon", "rue pasteur", "2n5 av foch"],
                                            dtype=object))
    assert number.tolist() == ["12", "", "2n5"]
    assert street.tolist() == ["rue victor hugo", "rue pasteur", "av foch"]
    here = {"latitude": "45.7600", "longitude": "4.8500"}
    lv = _levels(make_selection, {"adresse_norm": "215 rue pasteur", **here}, {"adresse_norm": "251 rue pasteur"})
    assert lv["place"] == "address_typo"
    lv = _levels(make_selection, {"adresse_norm": "36 rue pasteur", **here},
                 {"adresse_norm": "1 rue pasteur", "latitude": "45.7700", "longitude": "4.8500"})
    assert lv["place"] == "street_other_number"
    lv = _levels(make_selection, {"adresse_norm": "36 rue pasteur", **here},
                 {"adresse_norm": "1 rue pasteur", "latitude": "45.7601", "longitude": "4.8500"})
    assert lv["place"] == "lt_30m"  # the coordinates say one place whatever the numbers
    lv = _levels(make_selection, {**here}, {"latitude": "45.7800", "longitude": "4.8500"})
    assert lv["place"] == "lt_5km"


def test_name_with_city_glued_words_and_phonetic_key(make_selection):
    assert strip_city(np.array(["norauto lorient", "leroy merlin paris 2e arrondissement", "lorient"], dtype=object),
                      np.array(["lorient", "paris", "lorient"], dtype=object)).tolist() == [
        "norauto", "leroy merlin", "lorient"]
    lv = _levels(make_selection, {"nom_norm": "norauto lorient", "ville_norm": "lorient"}, {"nom_norm": "norauto"})
    assert lv["nom"] == "fuzzy_0.92"
    lv = _levels(make_selection, {"nom_norm": "merceriecolin"}, {"nom_norm": "mercerie colin"})
    assert lv["nom"] == "fuzzy_0.92"
    assert phonetic_key("farmacie du centre") == phonetic_key("pharmacie du centre")
    lv = _levels(make_selection, {"nom_norm": "sarl dupont", "nom_commercial_norm": "bricomarche"},
                 {"nom_norm": "bricomarche"})
    assert lv["nom"] == "exact"


def test_identifiers_postal_code_city(make_selection):
    lv = _levels(make_selection, {"siret_norm": "12345678900011", "code_postal_norm": "69003", "ville_norm": "lyon",
                                  "telephone_norm": "0478000000"},
                 {"siret_norm": "12345678900029", "code_postal_norm": "69100", "ville_norm": "lyon 3e",
                  "telephone_norm": "0478000001"})
    # two SIRETs of one SIREN: two establishments of one company
    assert (lv["siret"], lv["code_postal"], lv["ville"], lv["telephone"]) == (
        "other_establishment", "same_departement", "exact", "other")
    # one side without its establishment number: the same company, the place unknown
    lv = _levels(make_selection, {"siret_norm": "12345678900011"}, {"siren_norm": "123456789"})
    assert lv["siret"] == "siren"
    lv = _levels(make_selection, {"siren_norm": "123456789"}, {"siren_norm": "123456789"})
    assert lv["siret"] == "siren"
    lv = _levels(make_selection, {"siret_norm": "12345678900011"}, {"siret_norm": "12345678900011"})
    assert lv["siret"] == "siret"
    lv = _levels(make_selection, {"siret_norm": "12345678900011"}, {"siren_norm": "987654321"})
    assert lv["siret"] == "other"


def test_term_frequency_of_the_exact_name(make_selection):
    rows = [{"identifiant_unique": f"c{k}", "nom_norm": "carrefour"} for k in range(4)]
    rows += [{"identifiant_unique": "r1", "nom_norm": "ruche martin"}, {"identifiant_unique": "r2", "nom_norm": "ruche martin"}]
    rows += [{"identifiant_unique": f"x{k}", "nom_norm": f"autre {k}"} for k in range(4)]
    arr = Arrays.from_frame(make_selection(rows))
    c = compare(arr, np.array([0, 4]), np.array([1, 5]))
    assert c.levels[:, COL["nom"]].tolist() == [0, 0]
    assert c.tf[:, 0].tolist() == [0.4, 0.2]  # the chain's name is held by 4 of 10 actors
