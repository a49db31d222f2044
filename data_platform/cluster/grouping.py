"""Clusters from scored pairs, without chaining (SPEC §5: single linkage is what not to repeat).

1. Edges = pairs scoring ≥ threshold that are not cannot-link (two actors of one source unless the
   run allows it; parents have no source and are exempt; pairs a reviewer separated, given as
   `cannot`). Pairs a reviewer approved (`must`) are edges with score 1 (unless also cannot-link).
2. Connected components of those edges. Components larger than `max_component` are split by raising
   the edge threshold on them step by step.
3. A component of two is a cluster (its one edge passed the threshold).
4. A component of three or more: every pair inside it is scored (the ones not yet scored as
   candidates too), then average-linkage agglomerative clustering on its small distance matrix
   (1 - score; cannot-link pairs get a distance so large that no merge can include them), cut at
   1 - threshold. A~B and B~C strong with A~C weak therefore do not put A with C.

Everything is vectorized except one small scipy `linkage` call per component of ≥ 3 actors.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components

from data_platform.arrays import unique

CANNOT_LINK_DISTANCE = 1.0e6  # average over a*b ≤ 500² pairs still > 1: never merged
MAX_COMPONENT = 200
SPLIT_STEP = 0.02
LINKAGE_METHOD = "average"


def cannot_link(source: np.ndarray, est_parent: np.ndarray, i: np.ndarray, j: np.ndarray,
                allow_same_source: bool) -> np.ndarray:
    """True where (i, j) may never be in one cluster: same non-empty source, neither a parent."""
    if allow_same_source or len(i) == 0:
        return np.zeros(len(i), bool)
    si, sj = source[i], source[j]
    return (si != "") & (si == sj) & ~est_parent[i] & ~est_parent[j]


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    g = sp.coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels


def bounded_components(n: int, i, j, s, threshold: float, max_component: int = MAX_COMPONENT) -> np.ndarray:
    """Component label per node for edges (i, j, s ≥ threshold); oversized components are split by
    raising the threshold on their edges only."""
    keep = s >= threshold
    i, j, s = i[keep], j[keep], s[keep]
    labels = _components(n, i, j)
    t = threshold
    while len(i):
        sizes = np.bincount(labels)
        big = sizes[labels[i]] > max_component
        if not big.any() or t >= 1.0:
            break
        t = min(1.0, t + SPLIT_STEP)
        keep = ~big | (s >= t)
        i, j, s = i[keep], j[keep], s[keep]
        labels = _components(n, i, j)
    return labels


def component_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """All pairs inside components of ≥ 3 nodes, laid out per component in condensed order.

    Returns (a, b, blocks): pair node arrays (a < b not guaranteed, positions follow the component's
    sorted node order) and blocks = [(nodes, pair_slice)] per component, ordered by smallest node.
    """
    n = len(labels)
    sizes = np.bincount(labels, minlength=labels.max() + 1 if n else 0)
    node_size = sizes[labels]
    nodes = np.flatnonzero(node_size >= 3)
    if len(nodes) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), []
    order = nodes[np.lexsort((nodes, labels[nodes]))]  # grouped by component, nodes ascending
    comp_of = labels[order]
    starts = np.flatnonzero(np.r_[True, comp_of[1:] != comp_of[:-1]])
    comp_sizes = np.diff(np.r_[starts, len(order)])
    a_parts, b_parts, blocks_by_start = [], [], {}
    offset = 0
    for m in unique(comp_sizes):  # one vectorized step per distinct size, not per component
        sel = starts[comp_sizes == m]
        ta, tb = np.triu_indices(int(m), 1)
        a = order[sel[:, None] + ta[None, :]]
        b = order[sel[:, None] + tb[None, :]]
        a_parts.append(a.ravel())
        b_parts.append(b.ravel())
        npairs = len(ta)
        for r, st in enumerate(sel.tolist()):
            blocks_by_start[st] = (order[st:st + int(m)], slice(offset + r * npairs, offset + (r + 1) * npairs))
        offset += len(sel) * npairs
    blocks = [blocks_by_start[st] for st in sorted(blocks_by_start, key=lambda st: order[st])]
    return np.concatenate(a_parts), np.concatenate(b_parts), blocks


def _pair_keys(n: int, a, b) -> np.ndarray:
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    return np.minimum(a, b) * n + np.maximum(a, b)


def _links(n: int, links) -> np.ndarray:
    """Sorted unique pair keys of (a, b) node arrays (None = no pair); self-pairs dropped."""
    if links is None:
        return np.empty(0, np.int64)
    a, b = (np.asarray(x, np.int64) for x in links)
    keep = a != b
    return unique(_pair_keys(n, a[keep], b[keep]))


def _in_sorted(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys) or not len(keys):
        return np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _group_threes(blocks: list, dist: np.ndarray, cut: float, result: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Average linkage cut at `cut` on every component of three at once (most of the components of ≥ 3),
    exactly as scipy's linkage + fcluster: the closest pair merges first; the third joins it when the
    mean of its two distances is ≤ cut. A component whose closest distance is tied (which pair merges
    first would decide the outcome) is left to scipy. Writes the labels of the components it decides
    into `result` (block k's labels from base[k] + 1, as fcluster's) and returns which it did."""
    done = np.zeros(len(blocks), bool)
    threes = np.array([k for k, (members, _) in enumerate(blocks) if len(members) == 3], dtype=np.int64)
    if not len(threes):
        return done
    start = np.array([blocks[k][1].start for k in threes.tolist()], dtype=np.int64)
    members = np.array([blocks[k][0] for k in threes.tolist()], dtype=np.int64)
    d = dist[start[:, None] + np.arange(3)]          # condensed order: (0,1), (0,2), (1,2)
    first = np.argmin(d, axis=1)
    rows = np.arange(len(d))
    dmin = d[rows, first]
    tied = (d == dmin[:, None]).sum(axis=1) > 1
    # the other two distances, from the third node to each node of the closest pair
    other = np.array([[1, 2], [0, 2], [0, 1]])[first]
    mean = (d[rows, other[:, 0]] + d[rows, other[:, 1]]) / 2.0
    apart = dmin > cut
    together = ~apart & (mean <= cut)
    ok = apart | together | ~tied
    label = base[threes]
    # node positions of the closest pair, per `first`: (0,1), (0,2), (1,2); the third is the other one
    pair = np.array([[0, 1], [0, 2], [1, 2]])[first]
    third = 3 - pair.sum(axis=1)
    sub = np.zeros((len(d), 3), dtype=np.int64)
    sub[apart] = [1, 2, 3]
    two = ~apart & ~together
    sub[rows[two], pair[two, 0]] = 1
    sub[rows[two], pair[two, 1]] = 1
    sub[rows[two], third[two]] = 2
    sub[together] = 1
    result[members[ok]] = sub[ok] + label[ok, None]
    done[threes[ok]] = True
    return done


def group(n: int, i: np.ndarray, j: np.ndarray, s: np.ndarray, threshold: float, *,
          source: np.ndarray, est_parent: np.ndarray, allow_same_source: bool,
          score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
          max_component: int = MAX_COMPONENT, cannot=None, must=None):
    """Cluster label per node (-1 = alone) and the pairs scored inside components of ≥ 3.

    `score_fn(a, b)` scores pairs not among the candidates. `cannot` / `must` (optional (a, b) node
    arrays): reviewer cannot-links (never an edge, CANNOT_LINK_DISTANCE inside a component) and
    must-links (an edge of score 1; a pair in both is cannot-link). Returns (labels, extra) where
    extra = (a, b, score) of every pair inside components of ≥ 3 and of every must-link pair (for
    the cluster_pair output: with the candidates, extra holds every pair of every final cluster).
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    s = np.asarray(s, np.float64)
    cannot_keys = _links(n, cannot)
    must_keys = _links(n, must)
    must_keys = must_keys[~_in_sorted(must_keys, cannot_keys)]
    if len(must_keys):  # must-links: edges of score 1, replacing a candidate's score
        known = _pair_keys(n, i, j)
        drop = _in_sorted(known, must_keys)
        i = np.concatenate([i[~drop], must_keys // n])
        j = np.concatenate([j[~drop], must_keys % n])
        s = np.concatenate([s[~drop], np.ones(len(must_keys))])
    ok = ~cannot_link(source, est_parent, i, j, allow_same_source) & ~_in_sorted(_pair_keys(n, i, j), cannot_keys)
    comp = bounded_components(n, i[ok], j[ok], s[ok], threshold, max_component)
    sizes = np.bincount(comp)
    result = np.full(n, -1, dtype=np.int64)
    # components of two: the cluster is the edge itself
    two = sizes[comp] == 2
    result[two] = comp[two]
    a, b, blocks = component_pairs(comp)
    extra = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    if blocks:
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        # reuse candidate scores, score the missing pairs
        known_key = np.minimum(i, j) * n + np.maximum(i, j)
        order = np.argsort(known_key, kind="stable")
        known_key, known_s = known_key[order], s[order]
        key = lo * n + hi
        pos = np.searchsorted(known_key, key)
        pos_c = np.minimum(pos, max(len(known_key) - 1, 0))
        found = (pos < len(known_key)) & (known_key[pos_c] == key) if len(known_key) else np.zeros(len(key), bool)
        pair_s = np.zeros(len(key), np.float64)
        pair_s[found] = known_s[pos_c[found]]
        if (~found).any():
            pair_s[~found] = score_fn(lo[~found], hi[~found])
        dist = 1.0 - pair_s
        dist[cannot_link(source, est_parent, lo, hi, allow_same_source) | _in_sorted(key, cannot_keys)] \
            = CANNOT_LINK_DISTANCE
        cut = 1.0 - threshold + 1e-9
        # labels from components of ≥ 3 live above the node range, block k's from base[k] + 1
        base = n + np.r_[0, np.cumsum([len(members) + 1 for members, _ in blocks])[:-1]].astype(np.int64)
        done = _group_threes(blocks, dist, cut, result, base)
        for k, (members, sl) in enumerate(blocks):
            if not done[k]:
                sub = fcluster(linkage(dist[sl], method=LINKAGE_METHOD), t=cut, criterion="distance")
                result[members] = sub + base[k]
        extra = (lo, hi, pair_s)
    if len(must_keys):
        extra = (np.concatenate([extra[0], must_keys // n]), np.concatenate([extra[1], must_keys % n]),
                 np.concatenate([extra[2], np.ones(len(must_keys))]))
    # drop singletons produced by the split
    inside = np.flatnonzero(result >= 0)
    counts = np.bincount(result[inside]) if len(inside) else np.zeros(0, np.int64)
    result[inside[counts[result[inside]] < 2]] = -1
    return result, extra


def cluster_ids(departement: str, ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Deterministic id per node of a cluster: `<departement>_` + sha1(sorted member ids joined by '|')[:16]."""
    out = np.full(len(ids), "", dtype=object)
    nodes = np.flatnonzero(labels >= 0)
    if len(nodes) == 0:
        return out
    node_ids = ids[nodes]
    order = np.lexsort((node_ids, labels[nodes]))
    nodes, node_ids = nodes[order], node_ids[order]
    lab = labels[nodes]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    ends = np.r_[starts[1:], len(nodes)]
    for st, en in zip(starts.tolist(), ends.tolist()):  # one hash per cluster
        digest = hashlib.sha1("|".join(node_ids[st:en].tolist()).encode()).hexdigest()[:16]
        out[nodes[st:en]] = f"{departement}_{digest}"
    return out
