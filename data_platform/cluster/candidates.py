"""Candidate pairs inside one partition: TF-IDF character n-grams, sparse top-k cosine neighbours.

No dense n×n matrix is ever built: rows are multiplied against the whole partition in chunks whose
sparse similarity block stays under a fixed budget (n-grams shared by very many rows are dropped
so that the product stays sparse), and only the k best neighbours of each row (above a minimum
cosine) are kept. Output pairs are int arrays with i < j, deduplicated and
sorted by (i, j), so the same input always gives the same pairs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

# upper bound of the entries of one chunk's sparse similarity block (~24 bytes each while sorted)
CHUNK_CELLS = 4_000_000


def tfidf_matrix(texts: Sequence[str], ngram_range=(3, 3), max_df_rows: int | None = None,
                 analyzer: str = "char_wb") -> sp.csr_matrix | None:
    """L2-normalised TF-IDF of character n-grams (word-bounded) or word n-grams; None when no text
    has any n-gram.

    n-grams present in more than `max_df_rows` rows are dropped (they carry almost no weight and make
    the similarity product quadratic); None/0 keeps them all.
    """
    n = len(texts)
    max_df = 1.0 if not max_df_rows or max_df_rows >= n else int(max_df_rows)
    extra = {"token_pattern": r"(?u)\b\w+\b"} if analyzer == "word" else {}
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, dtype=np.float32,
                          sublinear_tf=True, lowercase=False, norm="l2", max_df=max_df, **extra)
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # empty vocabulary: every text empty (or every n-gram too frequent)
        return None
    return x.tocsr()


def topk_pairs(x: sp.csr_matrix, k: int = 10, min_cosine: float = 0.3,
               chunk_cells: int = CHUNK_CELLS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row its k most similar other rows with cosine ≥ min_cosine.

    The similarity block of a chunk of rows stays sparse: entries below min_cosine are dropped, then
    the k best per row are kept by one sort on (row, -cosine, column) - ties broken by column.
    Returns (i, j, cosine) with i < j, unique, sorted by (i, j).
    """
    n = x.shape[0]
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))
    if n < 2 or k <= 0:
        return empty
    xt = x.T.tocsr()
    # rows per chunk: keep the expected block size (nnz) under the budget
    col_df = np.diff(xt.indptr).astype(np.float64)
    row_cost = np.asarray((x != 0).astype(np.float64) @ col_df).ravel()
    avg = max(1.0, float(row_cost.mean()))
    rows = int(max(1, min(n, chunk_cells // avg)))
    out_i, out_j, out_s = [], [], []
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        block = (x[start:stop] @ xt).tocoo()
        r, c, v = block.row.astype(np.int64) + start, block.col.astype(np.int64), block.data
        keep = (v >= min_cosine) & (r != c)
        r, c, v = r[keep], c[keep], v[keep]
        if not len(r):
            continue
        order = np.lexsort((c, -v, r))
        r, c, v = r[order], c[order], v[order]
        first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        rank = np.arange(len(r)) - np.repeat(first, np.diff(np.r_[first, len(r)]))
        top = rank < k
        out_i.append(r[top])
        out_j.append(c[top])
        out_s.append(v[top])
    if not out_i:
        return empty
    i = np.concatenate(out_i)
    j = np.concatenate(out_j)
    s = np.concatenate(out_s).astype(np.float32)
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


@dataclass(frozen=True)
class BlockingKey:
    """One TF-IDF neighbour search: which text (a function of the partition's arrays), how it is
    tokenised, and when it applies (`max_rows`: only partitions up to that size; None = always)."""
    name: str
    analyzer: str = "char_wb"
    ngram_range: tuple = (3, 3)
    max_df_rows: int | None = None
    k: int = 10
    max_rows: int | None = None


def candidate_pairs(texts_list: Sequence[Sequence[str]], keys: Sequence[BlockingKey] | None = None,
                    min_cosine: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs of one partition from one or more blocking texts (aligned on the same rows):
    the union of each key's top-k neighbours, (i, j, best cosine) sorted by (i, j)."""
    n = len(texts_list[0]) if len(texts_list) else 0
    keys = list(keys) if keys is not None else [BlockingKey("text")] * len(texts_list)
    sets = []
    for texts, key in zip(texts_list, keys):
        if key.max_rows is not None and n > key.max_rows:
            continue
        x = tfidf_matrix(texts, key.ngram_range, key.max_df_rows, key.analyzer)
        if x is not None:
            sets.append(topk_pairs(x, k=key.k, min_cosine=min_cosine))
    return merge_pairs(n, *sets)
