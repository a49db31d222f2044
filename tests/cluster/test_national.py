"""The national channel (data_platform.cluster.national): duplicates across partitions, `inconnu`
included, regrouped with the clusters already formed; in memory and through the whole pipeline."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_platform.cluster.model import default_model
from data_platform.cluster.national import home_partition, national_frame
from data_platform.cluster.params import RunParams
from data_platform.cluster.partition import cluster_frame
from data_platform.generate.faults import FAULT_KINDS, postal_code_faults


def _place(uid, source, cp, dept, **extra):
    row = {"identifiant_unique": uid, "source": source, "nom_norm": "ressourcerie la fabrique",
           "adresse_norm": "12 rue victor hugo", "ville_norm": "paris", "code_postal_norm": cp,
           "latitude": "48.86000", "longitude": "2.38000", "departement": dept}
    row.update(extra)
    return row


def _fillers(n=24):
    """Unrelated actors, so that each partition has a realistic size and no filler matches another."""
    streets = ["avenue foch", "rue pasteur", "boulevard voltaire", "rue de la paix", "place carnot", "quai sud"]
    names = ["garage", "cordonnerie", "pharmacie", "boulangerie", "librairie", "fleuriste"]
    rows = []
    for k in range(n):
        rows.append({"identifiant_unique": f"refashion_f{k:02d}", "source": "refashion",
                     "nom_norm": f"{names[k % 6]} {['martin', 'durand', 'petit', 'leroy'][k % 4]}",
                     "adresse_norm": f"{k + 1} {streets[k % 6]}", "ville_norm": ["paris", "marseille", "lyon"][k % 3],
                     "code_postal_norm": ["75011", "13001", "69003"][k % 3],
                     "latitude": str(44.0 + k * 0.13), "longitude": str(1.0 + k * 0.11),
                     "departement": ["75", "13", "69"][k % 3]})
    return rows


def _run(make_selection, rows, params=None):
    params = params or RunParams()
    df = make_selection(rows)
    model = default_model()
    m, p = cluster_frame(df, params, model=model)
    stats: dict = {}
    nm, npairs, replaced = national_frame(df, m[["cluster_id", "identifiant_unique"]], params, model, stats=stats)
    # the stage's result: partition clusters it replaces dropped, its own added
    keep = ~m["identifiant_unique"].isin(replaced["actors"]) & ~m["cluster_id"].isin(replaced["clusters"])
    final = pd.concat([m[keep], nm], ignore_index=True)
    pairs = pd.concat([p[~p["cluster_id"].isin(replaced["clusters"])], npairs], ignore_index=True)
    return final, pairs, stats


def _clusters(members: pd.DataFrame) -> set:
    return {tuple(sorted(g)) for _, g in members.groupby("cluster_id")["identifiant_unique"]}


def test_blank_and_typo_postal_codes_join_the_located_record(make_selection):
    rows = _fillers() + [
        _place("refashion_a", "refashion", "75011", "75"),
        _place("ecosystem_b", "ecosystem", "", "inconnu", latitude="48.86004", longitude="2.38005"),
        _place("corepile_c", "corepile", "13011", "13", adresse_norm="12 r victor hugo", latitude="48.86002"),
    ]
    members, pairs, stats = _run(make_selection, rows)
    assert ("corepile_c", "ecosystem_b", "refashion_a") in _clusters(members)
    cid = members.loc[members["identifiant_unique"] == "refashion_a", "cluster_id"].iloc[0]
    # the cluster spans three partitions; each member keeps its own; every pair is stored
    assert sorted(members.loc[members["cluster_id"] == cid, "departement"]) == ["13", "75", "inconnu"]
    assert len(pairs[pairs["cluster_id"] == cid]) == 3
    assert cid.startswith("13_")  # one member in 75, one in 13: the tie goes to the smaller code
    assert stats["clusters_across"] == 1 and stats["pairs_with_inconnu"] == 2


def test_two_records_blank_and_typo_only(make_selection):
    """The issue's case: two records of one place, neither with its true postal code."""
    rows = _fillers() + [
        _place("ecosystem_b", "ecosystem", "", "inconnu"),
        _place("corepile_c", "corepile", "13011", "13", latitude="48.86003", longitude="2.38004"),
    ]
    members, _, _ = _run(make_selection, rows)
    assert ("corepile_c", "ecosystem_b") in _clusters(members)


def test_chain_with_one_siren_in_two_towns_is_not_merged(make_selection):
    rows = _fillers() + [
        {"identifiant_unique": "refashion_n1", "source": "refashion", "nom_norm": "norauto",
         "adresse_norm": "5 avenue foch", "ville_norm": "lyon", "code_postal_norm": "69003",
         "siret_norm": "55555555500011", "siren_norm": "555555555", "telephone_norm": "0800123456",
         "latitude": "45.7600", "longitude": "4.8500", "departement": "69"},
        {"identifiant_unique": "ecosystem_n2", "source": "ecosystem", "nom_norm": "norauto",
         "adresse_norm": "8 rue pasteur", "ville_norm": "lille", "code_postal_norm": "59000",
         "siret_norm": "55555555500029", "siren_norm": "555555555", "telephone_norm": "0800123456",
         "latitude": "50.6300", "longitude": "3.0600", "departement": "59"},
    ]
    members, _, stats = _run(make_selection, rows)
    assert stats["cross_candidates"] >= 1  # the shared phone made them candidates: the model says no
    assert not set(members["identifiant_unique"]) & {"refashion_n1", "ecosystem_n2"}


def test_cross_pair_joins_an_existing_partition_cluster(make_selection):
    rows = _fillers() + [
        _place("refashion_a", "refashion", "75011", "75"),
        _place("corepile_d", "corepile", "75011", "75", latitude="48.86001"),
        _place("ecosystem_b", "ecosystem", "", "inconnu", latitude="48.86004", longitude="2.38005"),
    ]
    members, pairs, stats = _run(make_selection, rows)
    assert ("corepile_d", "ecosystem_b", "refashion_a") in _clusters(members)
    assert stats["touched_clusters"] == 1
    cid = members.loc[members["identifiant_unique"] == "ecosystem_b", "cluster_id"].iloc[0]
    assert cid.startswith("75_")  # the most frequent real département
    assert len(pairs[pairs["cluster_id"] == cid]) == 3


def test_deterministic(make_selection):
    rows = _fillers() + [
        _place("refashion_a", "refashion", "75011", "75"),
        _place("ecosystem_b", "ecosystem", "", "inconnu"),
        _place("corepile_c", "corepile", "13011", "13"),
    ]
    first = _run(make_selection, rows)
    second = _run(make_selection, list(reversed(rows)))
    for a, b in zip(first[:2], second[:2]):
        cols = list(a.columns)
        pd.testing.assert_frame_equal(a.sort_values(cols[:3]).reset_index(drop=True),
                                      b.sort_values(cols[:3]).reset_index(drop=True))


def test_home_partition():
    size = np.array([10, 50, 50, 5])  # partition 3 = inconnu
    pi, pj = np.array([0, 0, 1, 2, 3]), np.array([0, 3, 2, 1, 1])
    assert home_partition(pi, pj, size, unknown=3).tolist() == [0, 0, 1, 1, 1]


def test_postal_code_faults():
    df = pd.DataFrame({"code_postal": ["01000", "75011", "13001", "69003"] * 500, "nom": "x"})
    out, kinds = postal_code_faults(df, rate=0.12, seed=3)
    assert 0.09 < (kinds != "").mean() < 0.15
    assert set(kinds[kinds != ""]) <= set(FAULT_KINDS) and len(set(kinds[kinds != ""])) == 5
    typo = kinds == "typo_departement"
    assert (out.loc[typo, "code_postal"].str[:2] != df.loc[typo, "code_postal"].str[:2]).all()
    assert (out.loc[kinds == "", "code_postal"] == df.loc[kinds == "", "code_postal"]).all()
    again, _ = postal_code_faults(df, rate=0.12, seed=3)
    pd.testing.assert_frame_equal(out, again)


def test_reviewer_links_across_partitions(make_selection):
    """A reviewer's must-link joins two partitions; a cannot-link keeps a cross pair apart."""
    rows = _fillers() + [
        _place("refashion_a", "refashion", "75011", "75"),
        _place("ecosystem_b", "ecosystem", "", "inconnu"),
        {"identifiant_unique": "corepile_x", "source": "corepile", "nom_norm": "atelier velo", "adresse_norm": "",
         "ville_norm": "nice", "code_postal_norm": "06000", "departement": "06"},
        {"identifiant_unique": "ecosystem_y", "source": "ecosystem", "nom_norm": "cycles du port", "adresse_norm": "",
         "ville_norm": "nice", "code_postal_norm": "", "departement": "inconnu"},
    ]
    df = make_selection(rows)
    model = default_model()
    m, _ = cluster_frame(df, RunParams(), model=model)
    cannot = pd.DataFrame({"id_a": ["ecosystem_b"], "id_b": ["refashion_a"]})
    must = pd.DataFrame({"id_a": ["corepile_x"], "id_b": ["ecosystem_y"]})
    nm, pairs, _ = national_frame(df, m[["cluster_id", "identifiant_unique"]], RunParams(), model,
                                  links=(cannot, must))
    assert _clusters(nm) == {("corepile_x", "ecosystem_y")}
    assert len(pairs) == 1


def test_a_pair_of_one_partition_scores_as_in_its_partition(make_selection):
    """The home partition's context: size and value frequencies of the partition, not of the selection."""
    from data_platform.cluster.model import ModelScorer
    from data_platform.cluster.national import NationalScorer
    from data_platform.cluster.partition import prepare
    from data_platform.cluster.scoring import Arrays

    rows = _fillers() + [_place("refashion_a", "refashion", "75011", "75"),
                         _place("corepile_d", "corepile", "75011", "75", latitude="48.86001")]
    df = make_selection(rows)
    base = ModelScorer(default_model(), RunParams().scoring)
    full = prepare(df)
    part_full = pd.factorize(full.frame["departement"], sort=True)[0]
    in75 = np.flatnonzero(full.frame["departement"].to_numpy() == "75")
    alone = prepare(df[df["departement"] == "75"])
    a, b = (int(np.flatnonzero(alone.ids == x)[0]) for x in ("corepile_d", "refashion_a"))
    expected = base.score(alone, base.compare(alone, [a], [b])).score
    sub = Arrays.from_frame(full.frame.iloc[in75])
    scorer = NationalScorer(base, full, part_full, in75, unknown=-1)
    got = scorer.score_pairs(sub, [a], [b]).score
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_shingle_matrix_is_exactly_scikit_learns_char_wb_hashing():
    # the numpy shingler must give HashingVectorizer's columns, or the LSH buckets (and candidates) would change
    from data_platform.cluster.national import _hashing_vectorizer, shingle_matrix

    texts = ["", " ", "a", "ab", "a b", "nom  ville", "  lead", "trail  ", "x   y z", "aaa aaa",
             "ressourcerie la fabrique 12 rue victor hugo lyon", "garage 3 avenue foch 69003 lyon",
             "e cafe", "é café", "tab\there"]  # the last two: not ASCII / not printable, scikit-learn's path
    for batch in (texts[:-2], texts):
        ours, theirs = shingle_matrix(batch), _hashing_vectorizer().transform(batch).tocsr()
        theirs.sort_indices()
        assert ours.shape == theirs.shape
        assert np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
        assert (ours.data == 1).all()


def test_minhash_band_codes_do_not_depend_on_the_chunk_size():
    # minhash_bands goes MINHASH_CHUNK texts at a time (memory): any chunk size gives the same codes
    from data_platform.cluster.national import minhash_bands

    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(2_000)]
    texts = [" ".join(rng.choice(words, rng.integers(0, 5))) for _ in range(3_000)]
    texts[5:8] = ["", "ab", "garage foch paris"]  # the first two: too few shingles, -1 in every band
    texts[2_500] = texts[1_200] = "garage foch paris"
    whole = minhash_bands(texts, chunk=len(texts))
    assert (whole[5:7] == -1).all() and (whole[7] >= 0).all()
    for chunk in (450, 1_000, 2_999):  # (each chunk costs a 16M-entry bincount: not 1)
        assert np.array_equal(minhash_bands(texts, chunk=chunk), whole), chunk
    # the same text falls in the same bucket of every band
    assert (whole[[1_200, 2_500]] == whole[7]).all()


def test_lsh_in_a_worker_process_finds_the_same_candidates(make_selection, monkeypatch):
    """At scale the LSH half of the candidates runs in a worker process beside the exact keys: the same
    pairs as inline (forced here on a small selection)."""
    from data_platform.cluster import national as N
    from data_platform.cluster.partition import prepare

    rows = _fillers(60) + [
        _place("refashion_a", "refashion", "75011", "75"),
        _place("ecosystem_b", "ecosystem", "", "inconnu", latitude="", longitude=""),
        _place("corepile_c", "corepile", "13011", "13", adresse_norm="12 r victor hugo", latitude="", longitude=""),
        _place("refashion_d", "refashion", "69003", "69", nom_norm="ressourcerie fabrique", latitude="", longitude=""),
    ]
    full = prepare(make_selection(rows))
    part = pd.factorize(pd.Series(full.frame["departement"].astype(str)), sort=True)[0]
    inline_stats, process_stats = {}, {}
    inline = N.cross_partition_pairs(full, part, inline_stats)
    monkeypatch.setattr(N, "LSH_PROCESS_MIN_ROWS", 0)
    in_process = N.cross_partition_pairs(full, part, process_stats, processes=2)
    assert process_stats["minhash"]["in_process"] and not inline_stats["minhash"]["in_process"]
    assert process_stats["minhash"]["pairs"] == inline_stats["minhash"]["pairs"] > 0
    assert [x.tolist() for x in in_process] == [x.tolist() for x in inline]
    assert len(inline[0]) > 0
