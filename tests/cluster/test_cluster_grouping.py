"""Candidates (TF-IDF top-k) and grouping (no chaining, cannot-link) properties."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_platform.cluster.candidates import BlockingKey, candidate_pairs, merge_pairs
from data_platform.cluster.grouping import cluster_ids, group
from data_platform.cluster.params import RunParams
from data_platform.cluster.partition import cluster_frame


def test_candidates_find_true_pairs_sorted_unique():
    texts = ["ressourcerie la fabrique 12 rue victor hugo", "garage martin 3 avenue foch",
             "ressourcerie fabrique 12 rue victor hugo", "pharmacie du centre 1 place carnot",
             "garage martin 3 av foch", "boulangerie petit 8 rue pasteur", "", "pharmacie centre 1 place carnot"]
    i, j, cos = candidate_pairs([texts], [BlockingKey("chars", k=2)], min_cosine=0.3)
    pairs = set(zip(i.tolist(), j.tolist()))
    wi, wj, _ = candidate_pairs([texts], [BlockingKey("words", analyzer="word", ngram_range=(1, 3), k=2)])
    assert {(1, 4), (3, 7)} <= set(zip(wi.tolist(), wj.tolist()))
    assert not len(candidate_pairs([texts], [BlockingKey("skipped", max_rows=3)])[0])
    assert {(0, 2), (1, 4), (3, 7)} <= pairs
    assert (i < j).all()
    keys = i * len(texts) + j
    assert (np.diff(keys) > 0).all()  # sorted, no duplicates
    assert not ({6} & (set(i.tolist()) | set(j.tolist())))  # an empty text has no neighbour
    assert ((cos >= 0.3) & (cos <= 1.0001)).all()


def test_merge_pairs_keeps_best_cosine():
    a = (np.array([0, 1]), np.array([1, 2]), np.array([0.5, 0.4], np.float32))
    b = (np.array([0]), np.array([1]), np.array([0.9], np.float32))
    i, j, c = merge_pairs(3, a, b)
    assert i.tolist() == [0, 1] and j.tolist() == [1, 2] and np.allclose(c, [0.9, 0.4])


def _group(n, pairs, other=0.0, sources=None, parents=None, allow=False, threshold=0.75):
    i = np.array([p[0] for p in pairs])
    j = np.array([p[1] for p in pairs])
    s = np.array([p[2] for p in pairs], float)
    source = np.array(sources or [f"s{k}" for k in range(n)], dtype=object)
    est_parent = np.array(parents or [False] * n)
    labels, _ = group(n, i, j, s, threshold, source=source, est_parent=est_parent, allow_same_source=allow,
                      score_fn=lambda a, b: np.full(len(a), other))
    return labels


def test_no_chaining_through_one_weak_link():
    # A~B and B~C strong, A~C weak: A and C must not end in one cluster
    labels = _group(3, [(0, 1, 0.95), (1, 2, 0.9)], other=0.1)
    assert not (labels[0] >= 0 and labels[0] == labels[2])
    assert labels[0] == labels[1] and labels[0] >= 0  # the stronger pair stays together
    # a chain of five through single strong links never becomes one cluster
    labels = _group(5, [(0, 1, 0.95), (1, 2, 0.95), (2, 3, 0.95), (3, 4, 0.95)], other=0.0)
    assert np.bincount(labels[labels >= 0]).max() <= 2
    # but when A~C is supported too, all three are one cluster
    labels = _group(3, [(0, 1, 0.95), (1, 2, 0.9), (0, 2, 0.85)])
    assert labels[0] == labels[1] == labels[2] >= 0


def test_same_source_is_cannot_link_unless_allowed():
    pairs = [(0, 1, 0.95), (1, 2, 0.95), (0, 2, 0.95)]
    labels = _group(3, pairs, sources=["x", "y", "x"])
    assert labels[0] != labels[2] or labels[0] < 0
    labels = _group(3, pairs, sources=["x", "y", "x"], allow=True)
    assert labels[0] == labels[1] == labels[2] >= 0
    # two of one source alone: no cluster
    labels = _group(2, [(0, 1, 0.99)], sources=["x", "x"])
    assert (labels < 0).all()
    # parents have no source and are exempt: two parents may be merged
    labels = _group(2, [(0, 1, 0.99)], sources=["", ""], parents=[True, True])
    assert labels[0] == labels[1] >= 0


def test_below_threshold_is_no_cluster():
    labels = _group(2, [(0, 1, 0.7)])
    assert (labels < 0).all()


def test_cluster_ids_are_sha1_of_sorted_members():
    import hashlib

    ids = np.array(["b", "a", "c", "d"], dtype=object)
    out = cluster_ids("2A", ids, np.array([7, 7, -1, 3]))
    expected = "2A_" + hashlib.sha1(b"a|b").hexdigest()[:16]
    assert out[0] == out[1] == expected
    assert out[2] == "" and out[3].startswith("2A_")


def _population(make_selection):
    rows = []
    base = [("ressourcerie la fabrique", "12 rue victor hugo", "69003", "45.7600", "4.8500"),
            ("garage martin", "3 avenue foch", "69006", "45.7700", "4.8400"),
            ("pharmacie du centre", "1 place carnot", "69002", "45.7500", "4.8300"),
            ("pharmacie du centre", "40 rue de la republique", "69002", "45.7620", "4.8360"),
            ("cordonnerie dupont", "8 rue pasteur", "69007", "45.7450", "4.8420")]
    sources = ["refashion", "ecosystem", "cma", "sinoe"]
    for e, (nom, adr, cp, lat, lon) in enumerate(base):
        for k in range(3 if e % 2 == 0 else 2):
            rows.append({"identifiant_unique": f"{sources[k]}_{e}", "source": sources[k], "nom_norm": nom + (" lyon" if k == 1 else ""),
                         "adresse_norm": adr, "ville_norm": "lyon", "code_postal_norm": cp, "latitude": lat,
                         "longitude": lon, "departement": "69"})
    rows.append({"identifiant_unique": "cma_lonely", "source": "cma", "nom_norm": "horlogerie bernard",
                 "adresse_norm": "2 quai perrache", "ville_norm": "lyon", "code_postal_norm": "69002", "departement": "69"})
    rows.append({"identifiant_unique": "refashion_x", "source": "refashion", "nom_norm": "friperie",
                 "adresse_norm": "5 rue des lilas", "ville_norm": "paris", "departement": ""})
    rows.append({"identifiant_unique": "ecosystem_x", "source": "ecosystem", "nom_norm": "friperie",
                 "adresse_norm": "5 rue des lilas", "ville_norm": "paris", "departement": ""})
    return make_selection(rows)


def test_cluster_frame_finds_entities_and_is_deterministic(make_selection):
    df = _population(make_selection)
    m1, p1 = cluster_frame(df)
    m2, p2 = cluster_frame(df.sample(frac=1.0, random_state=3))  # input order does not matter
    pd.testing.assert_frame_equal(m1, m2)
    pd.testing.assert_frame_equal(p1, p2)
    groups = m1.groupby("cluster_id")["identifiant_unique"].apply(lambda s: sorted(s)).tolist()
    assert sorted(groups) == sorted([
        ["cma_0", "ecosystem_0", "refashion_0"], ["ecosystem_1", "refashion_1"],
        ["cma_2", "ecosystem_2", "refashion_2"], ["ecosystem_3", "refashion_3"],
        ["cma_4", "ecosystem_4", "refashion_4"], ["ecosystem_x", "refashion_x"]])
    # the 'inconnu' partition is clustered too
    assert set(m1["departement"]) == {"69", "inconnu"}
    assert m1["cluster_id"].str.match(r"^(69|inconnu)_[0-9a-f]{16}$").all()
    # pairs: inside clusters, id_a < id_b, score ≥ threshold, details per the contract
    assert (p1["id_a"] < p1["id_b"]).all() and (p1["score"] >= 0.75).all()
    pair_cluster = dict(zip(m1["identifiant_unique"], m1["cluster_id"]))
    assert (p1["id_a"].map(pair_cluster) == p1["cluster_id"]).all()
    assert (p1["id_b"].map(pair_cluster) == p1["cluster_id"]).all()
    import json

    d = json.loads(p1["details"].iloc[0])
    # the learned model (default) adds the explanation: per-comparison weights and the match weight
    assert set(d) == {"fields", "matched", "distance_m", "weights", "match_weight"} and "nom" in d["matched"]


def test_cluster_frame_threshold_and_same_source(make_selection):
    df = make_selection([
        {"identifiant_unique": "cma_1", "source": "cma", "nom_norm": "garage martin", "adresse_norm": "3 avenue foch"},
        {"identifiant_unique": "cma_2", "source": "cma", "nom_norm": "garage martin", "adresse_norm": "3 avenue foch"},
    ])
    m, p = cluster_frame(df)
    assert m.empty and p.empty
    m, _ = cluster_frame(df, RunParams(allow_same_source=True))
    assert len(m) == 2


def test_cluster_frame_empty_and_tiny(make_selection):
    m, p = cluster_frame(make_selection([]))
    assert m.empty and p.empty and list(m.columns) == ["cluster_id", "identifiant_unique", "departement"]
    m, p = cluster_frame(make_selection([{"identifiant_unique": "a", "nom_norm": "x"}]))
    assert m.empty


def test_oversized_components_are_split_on_their_weakest_edges():
    from data_platform.cluster.grouping import bounded_components

    i, j = np.array([0, 1, 2, 4]), np.array([1, 2, 3, 5])
    s = np.array([0.8, 0.9, 0.8, 0.8])
    labels = bounded_components(6, i, j, s, 0.75, max_component=2)
    assert np.bincount(labels).max() <= 2
    assert labels[1] == labels[2] and labels[4] == labels[5]  # strongest edge and small component kept


def test_reviewer_cannot_links_and_must_links():
    src = np.array(["a", "b", "c", "d"], dtype=object)
    no_parent = np.zeros(4, bool)

    def run(pairs, other=0.0, **links):
        i, j, s = (np.array([p[k] for p in pairs]) for k in range(3))
        return group(4, i, j, s.astype(float), 0.75, source=src, est_parent=no_parent, allow_same_source=False,
                     score_fn=lambda a, b: np.full(len(a), other), **links)

    # a pair a reviewer separated is never an edge, however high it scores
    labels, _ = run([(0, 1, 0.99)], cannot=(np.array([1]), np.array([0])))
    assert (labels < 0).all()
    # inside a component: the separated pair ends in two clusters, the others stay grouped
    labels, _ = run([(0, 1, 0.95), (1, 2, 0.95), (0, 2, 0.95)], cannot=(np.array([0]), np.array([2])))
    assert labels[0] != labels[2] or labels[0] < 0
    assert (labels[1] >= 0) and (labels[1] in (labels[0], labels[2]))
    # an approved pair stays together even when it scores low, and is returned with the extra pairs
    labels, (ea, eb, _) = run([(0, 1, 0.1)], must=(np.array([1]), np.array([0])))
    assert labels[0] == labels[1] >= 0 and (labels[2:] < 0).all()
    assert (0, 1) in set(zip(ea.tolist(), eb.tolist()))
    # a pair both approved and separated: the separation wins
    labels, _ = run([(0, 1, 0.1)], must=(np.array([0]), np.array([1])), cannot=(np.array([0]), np.array([1])))
    assert (labels < 0).all()


def test_every_pair_of_a_final_cluster_is_stored_with_the_weakest(make_selection):
    from data_platform.cluster.partition import partition_output, prepare
    from data_platform.cluster.scoring import score_pairs

    # A~B and B~C strong, A~C at 0.6 (below 0.75): average linkage keeps the three together
    labels, (ea, eb, es) = group(3, np.array([0, 1]), np.array([1, 2]), np.array([0.95, 0.95]), 0.75,
                                 source=np.array(["a", "b", "c"], dtype=object), est_parent=np.zeros(3, bool),
                                 allow_same_source=False, score_fn=lambda a, b: np.full(len(a), 0.6))
    assert labels[0] == labels[1] == labels[2] >= 0
    assert dict(zip(zip(ea.tolist(), eb.tolist()), es.tolist()))[(0, 2)] == 0.6
    arr = prepare(make_selection([
        {"identifiant_unique": k, "source": k, "nom_norm": n, "adresse_norm": "3 avenue foch"}
        for k, n in [("a", "garage martin"), ("b", "garage martin auto"), ("c", "garage auto"), ("d", "garage")]]))
    scoring = RunParams().scoring
    labels = np.array([7, 7, 7, -1])
    pairs = (np.array([0, 0, 1, 2]), np.array([1, 2, 2, 3]), np.array([0.95, 0.6, 0.95, 0.9]))
    _, stored = partition_output(arr, "75", labels, pairs, threshold=0.75, scoring=scoring)
    # every pair of the cluster, the one below the threshold included; none with an actor outside it
    assert list(zip(stored.id_a, stored.id_b)) == [("a", "b"), ("a", "c"), ("b", "c")]
    expected = score_pairs(arr, np.array([0, 0, 1]), np.array([1, 2, 2]), scoring).score
    assert np.allclose(stored["score"], np.round(expected.astype(float), 6))
    # without pairs (dedupe-csv: DP_CLUSTER_PAIRS=0), the same memberships and no pair row
    members, _ = partition_output(arr, "75", labels, pairs, threshold=0.75, scoring=scoring)
    only, none = partition_output(arr, "75", labels, pairs, threshold=0.75, scoring=scoring, with_pairs=False)
    assert only.equals(members) and len(members) == 3
    assert none.empty and list(none.columns) == list(stored.columns)


def test_pairs_stored_unless_the_environment_says_0(monkeypatch):
    from data_platform.cluster.partition import PAIRS_ENV, pairs_stored

    monkeypatch.delenv(PAIRS_ENV, raising=False)
    assert pairs_stored()
    monkeypatch.setenv(PAIRS_ENV, "0")
    assert not pairs_stored()


def test_components_of_three_are_grouped_exactly_as_scipy_does():
    """The vectorized path for components of three (grouping._group_threes) against scipy's average
    linkage + fcluster, on random distances, ties at the closest pair, values at the cut and cannot-links."""
    from scipy.cluster.hierarchy import fcluster, linkage

    from data_platform.cluster.grouping import CANNOT_LINK_DISTANCE, _group_threes

    rng = np.random.default_rng(3)
    cut = 0.25 + 1e-9
    values = np.array([0.0, 0.1, 0.2, 0.25, 0.25 + 1e-9, 0.3, 0.4, 0.6, 1.0, CANNOT_LINK_DISTANCE])
    d = np.concatenate([rng.random((3000, 3)) * 0.6, rng.choice(values, (3000, 3))])
    blocks = [(np.arange(3 * k, 3 * k + 3), slice(3 * k, 3 * k + 3)) for k in range(len(d))]
    base = 10 * np.arange(len(d), dtype=np.int64)
    result = np.full(3 * len(d), -1, dtype=np.int64)
    done = _group_threes(blocks, d.ravel(), cut, result, base)
    assert done.sum() > 0.9 * len(d) and not done.all()  # ties at the closest pair are left to scipy
    for k in np.flatnonzero(done).tolist():
        expected = fcluster(linkage(d[k], method="average"), t=cut, criterion="distance")
        got = result[3 * k:3 * k + 3] - base[k]
        # the same partition of the three nodes (labels as fcluster's: 1..clusters)
        same = (expected[:, None] == expected[None, :]) == (got[:, None] == got[None, :])
        assert same.all(), (d[k], expected, got)
        assert set(got.tolist()) <= {1, 2, 3}
