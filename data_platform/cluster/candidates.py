"""Candidate pairs inside one partition: TF-IDF character n-grams, sparse top-k cosine neighbours.

No dense n×n matrix is ever built: rows are multiplied against the whole partition in chunks whose
size keeps each chunk's similarity block under a fixed budget, and only the k best neighbours of
each row (above a minimum cosine) are kept. Output pairs are int arrays with i < j, deduplicated and
sorted by (i, j), so the same input always gives the same pairs.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

# cells of the similarity block computed at once (float32: 4 bytes each → ~32 MB)
CHUNK_CELLS = 8_000_000


def tfidf_matrix(texts: Sequence[str], ngram_range=(3, 3)) -> sp.csr_matrix | None:
    """L2-normalised TF-IDF of character n-grams (word-bounded); None when no text has any n-gram."""
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, dtype=np.float32,
                          sublinear_tf=True, lowercase=False, norm="l2")
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # empty vocabulary: every text empty
        return None
    return x.tocsr()


def topk_pairs(x: sp.csr_matrix, k: int = 10, min_cosine: float = 0.3,
               chunk_cells: int = CHUNK_CELLS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row its k most similar other rows with cosine ≥ min_cosine.

    Returns (i, j, cosine) with i < j, unique, sorted by (i, j).
    """
    n = x.shape[0]
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))
    if n < 2 or k <= 0:
        return empty
    nonempty = np.diff(x.indptr) > 0
    xt = x.T.tocsr()
    rows = max(1, chunk_cells // n)
    kk = min(k, n - 1)
    out_i, out_j, out_s = [], [], []
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        block = (x[start:stop] @ xt).toarray()
        local = np.arange(stop - start)
        block[local, start + local] = -1.0  # never one's own neighbour
        if kk < n - 1:
            idx = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
        else:
            idx = np.broadcast_to(np.arange(n), (stop - start, n))
        sims = np.take_along_axis(block, idx, axis=1)
        keep = sims >= min_cosine
        ii = np.broadcast_to((start + local)[:, None], idx.shape)[keep]
        out_i.append(ii)
        out_j.append(idx[keep])
        out_s.append(sims[keep])
    i = np.concatenate(out_i).astype(np.int64)
    j = np.concatenate(out_j).astype(np.int64)
    s = np.concatenate(out_s).astype(np.float32)
    valid = nonempty[i] & nonempty[j] & (i != j)
    i, j, s = i[valid], j[valid], s[valid]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    key, first = np.unique(key, return_index=True)  # sorted by (lo, hi)
    return key // n, key % n, s[first]


def merge_pairs(n: int, *pair_sets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of several (i, j, cosine) sets; the best cosine is kept; sorted by (i, j)."""
    if not pair_sets:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    key = np.concatenate([p[0] * n + p[1] for p in pair_sets])
    cos = np.concatenate([p[2] for p in pair_sets]).astype(np.float32)
    order = np.lexsort((-cos, key))  # per key, the best cosine first
    key, cos = key[order], cos[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    key, cos = key[first], cos[first]
    return key // n, key % n, cos


def candidate_pairs(texts_list: Sequence[Sequence[str]], k: int = 10, min_cosine: float = 0.3,
                    ngram_range=(3, 3)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs of one partition from one or more blocking texts (one list per blocking key,
    all aligned on the same rows); union of each key's top-k neighbours."""
    sets = []
    n = len(texts_list[0]) if texts_list else 0
    for texts in texts_list:
        x = tfidf_matrix(texts, ngram_range)
        if x is not None:
            sets.append(topk_pairs(x, k=k, min_cosine=min_cosine))
    return merge_pairs(n, *sets)
