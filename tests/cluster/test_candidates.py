"""Exact blocking keys: block pairs with a sorted-neighbourhood cap, coordinate grids, phonetic key."""
from __future__ import annotations

import numpy as np

from data_platform.cluster.candidates import (
    GRID_SHIFTS,
    BlockingKey,
    block_pairs,
    candidate_pairs,
    grid_codes,
    phonetic_fr,
    value_codes,
)
from data_platform.cluster.partition import BLOCKING_KEYS, blocking_texts, prepare


def test_block_pairs_all_pairs_of_small_values_capped_in_large_ones():
    codes = value_codes(["a", "", "a", "b", "a", "b", "c", None])
    assert codes[1] == codes[7] == -1  # no key: never paired
    i, j = block_pairs(codes, window=5)
    assert list(zip(i.tolist(), j.tolist())) == [(0, 2), (0, 4), (2, 4), (3, 5)]
    # a value shared by 100 rows: each row with its next 3 in name order, not 4,950 pairs
    names = [f"name {k:03d}" for k in range(100)][::-1]
    i, j = block_pairs(np.zeros(100, np.int64), names, window=3)
    assert len(i) == 99 + 98 + 97 and (i < j).all()
    keys = i * 100 + j
    assert (np.diff(keys) > 0).all()  # sorted, unique
    # neighbours in name order: row 99 ("name 000") with rows 98, 97, 96
    assert {(96, 99), (97, 99), (98, 99)} <= set(zip(i.tolist(), j.tolist()))
    assert (95, 99) not in set(zip(i.tolist(), j.tolist()))
    # int ranks give the same pairs as the texts they rank
    from data_platform.cluster.candidates import text_ranks

    i2, j2 = block_pairs(np.zeros(100, np.int64), text_ranks(names), window=3)
    assert (i2 == i).all() and (j2 == j).all()
    assert not len(block_pairs(np.full(5, -1), window=3)[0])


def test_grid_cells_put_close_points_together_and_far_ones_apart():
    # Paris: a point, one 40 m north-east of it, one 500 m away, one without coordinates
    lat = np.array([48.85660, 48.85660 + 28 / 111_195, 48.86110, np.nan])
    lon = np.array([2.35220, 2.35220 + 28 / 73_000, 2.35220, np.nan])
    close, far = False, False
    for shift in GRID_SHIFTS:
        c = grid_codes(lat, lon, 150.0, shift)
        assert c[3] == -1
        close |= c[0] == c[1]
        far |= c[0] == c[2]
    assert close and not far
    # any two points closer than half a cell on both axes share a cell in one of the four grids
    rng = np.random.default_rng(0)
    base_lat, base_lon = 45.0 + rng.random(500) * 0.1, 4.0 + rng.random(500) * 0.1
    dlat = (rng.random(500) - 0.5) * 2 * 74 / 111_195
    dlon = (rng.random(500) - 0.5) * 2 * 74 / (111_195 * np.cos(np.radians(45.05)))
    lat2, lon2 = np.r_[base_lat, base_lat + dlat], np.r_[base_lon, base_lon + dlon]
    shared = np.zeros(500, bool)
    for shift in GRID_SHIFTS:
        c = grid_codes(lat2, lon2, 150.0, shift)
        shared |= c[:500] == c[500:]
    assert shared.all()


def test_phonetic_key_absorbs_vowel_typos_and_french_spellings():
    k = phonetic_fr(["muller", "mller", "lyon", "lyno", "conforama", "conforaam", "pharmacie", "farmacie",
                     "leclerc", "leclerk", "garage martin", ""])
    assert k[0] == k[1] and k[2] == k[3] and k[4] == k[5] and k[6] == k[7] and k[8] == k[9]
    assert k[10] != k[0] and k[11] == ""
    assert (phonetic_fr(["garage martin"]) == k[10]).all()  # deterministic


def test_exact_key_recovers_a_pair_lost_by_top_k_in_a_dense_block():
    # 40 namesakes at one address: top-2 neighbours of a row are arbitrary namesakes; the shared phone finds it
    texts = ["pharmacie du centre 1 place carnot"] * 40
    phones = [""] * 40
    phones[3] = phones[37] = "0102030405"
    keys = [BlockingKey("text", k=2), BlockingKey("telephone", kind="exact", window=5)]
    i, j, cos = candidate_pairs([texts], keys[:1])
    assert (3, 37) not in set(zip(i.tolist(), j.tolist()))
    stats: dict = {}
    i, j, cos = candidate_pairs([texts, (phones, texts)], keys, stats=stats)
    pairs = dict(zip(zip(i.tolist(), j.tolist()), cos.tolist()))
    assert (3, 37) in pairs and pairs[(3, 37)] == 0.0  # found by the exact key only: no cosine
    assert stats["telephone"]["pairs"] == 1 and stats["text"]["pairs"] > 0
    assert (i < j).all() and (np.diff(i * 40 + j) > 0).all()


def test_a_name_matches_the_other_ones_commercial_name():
    # two values per row (name key, commercial name key): row 0's name is row 2's commercial name
    values = np.array([["renaud|94500", ""], ["garage|94500", ""], ["cycles renaud|94500", "renaud|94500"]],
                      dtype=object)
    i, j, _ = candidate_pairs([(values, None)], [BlockingKey("noms", kind="exact", window=5)])
    assert list(zip(i.tolist(), j.tolist())) == [(0, 2)]


def test_blocking_texts_cover_every_key(make_selection):
    arr = prepare(make_selection([
        {"identifiant_unique": "a", "nom_norm": "garage martin", "adresse_norm": "12 bis rue victor hugo",
         "siret_norm": "12345678900011", "telephone_norm": "0102030405", "latitude": "45.1", "longitude": "4.2"},
        {"identifiant_unique": "b", "nom_norm": "garage martn", "adresse_norm": "12 rue victor hugo",
         "latitude": "45.1002", "longitude": "4.2001"},
        {"identifiant_unique": "c", "nom_norm": "boulangerie", "adresse_norm": "rue victor hugo"}]))
    inputs = blocking_texts(arr)
    assert len(inputs) == len(BLOCKING_KEYS)
    by_name = dict(zip([k.name for k in BLOCKING_KEYS], inputs))
    assert list(by_name["numero_rue"][0]) == ["12 rue victor hugo", "12 rue victor hugo", ""]
    phon = by_name["nom_phonetique"][0]  # name, commercial name: one column each
    assert phon.shape == (3, 2) and phon[0, 0] == phon[1, 0] != "" and (phon[:, 1] == "").all()
    # every exact key alone: a and b share the street number, the phonetic name and a grid cell
    for name in ["numero_rue", "nom_phonetique"]:
        key = next(k for k in BLOCKING_KEYS if k.name == name)
        i, j, _ = candidate_pairs([by_name[name]], [key])
        assert list(zip(i.tolist(), j.tolist())) == [(0, 1)]
    grids = [k for k in BLOCKING_KEYS if k.name.startswith("grille")]
    i, j, _ = candidate_pairs([by_name[k.name] for k in grids], grids)
    assert list(zip(i.tolist(), j.tolist())) == [(0, 1)]
