"""Candidate pairs inside one partition: TF-IDF nearest neighbours plus exact blocking keys.

Two kinds of blocking key, unioned:
- `tfidf`: TF-IDF character or word n-grams, sparse top-k cosine neighbours. No dense n×n matrix is
  ever built: rows are multiplied against the whole partition in chunks whose sparse similarity
  block stays under a fixed budget (n-grams shared by very many rows are dropped so that the
  product stays sparse), and only the k best neighbours of each row (above a minimum cosine) are
  kept. Top-k alone loses true pairs in dense partitions (a row's k best may all be namesakes).
- `exact`: rows sharing one non-empty key value (SIRET, phone, street + number, a coordinate grid
  cell, a phonetic name key...) are paired, all of them when the value has at most `window` + 1
  rows; a value shared by more (a chain's phone, a mall's cell) is not made quadratic: its rows are
  sorted by a second text (e.g. the name) and each row is paired with the next `window` ones
  (sorted neighbourhood). One sort per key, no loop per block.
Output pairs are int arrays with i < j, deduplicated and sorted by (i, j), so the same input always
gives the same pairs.
"""
from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from data_platform.arrays import unique

# upper bound of the entries of one chunk's sparse similarity block (~24 bytes each while sorted)
CHUNK_CELLS = 4_000_000


def tfidf_matrix(texts: Sequence[str], ngram_range=(3, 3), max_df_rows: int | None = None,
                 analyzer: str = "char_wb") -> sp.csr_matrix | None:
    """L2-normalised TF-IDF of character n-grams (word-bounded) or word n-grams; None when no text
    has any n-gram.

    n-grams present in more than `max_df_rows` rows are dropped (they carry almost no weight and make
    the similarity product quadratic); None/0 keeps them all. The weighting is scikit-learn's
    TfidfVectorizer(sublinear_tf=True, smooth idf, norm="l2"); the n-grams of the analyzers used by
    the blocking keys (char_wb trigrams, word 1-3-grams) are extracted with numpy in one pass over
    all the texts (`_ngram_codes`), the rest by scikit-learn.
    """
    n = len(texts)
    coded = _ngram_codes(texts, analyzer, ngram_range)
    if coded is None:
        return _sklearn_tfidf(texts, ngram_range, max_df_rows, analyzer)
    docs, feats = coded
    if not len(feats):
        return None
    feats, _ = pd.factorize(feats, sort=False)
    m = int(feats.max()) + 1
    counts = sp.csr_matrix((np.ones(len(docs), np.float64), (docs, feats)), shape=(n, m))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=m)
    if max_df_rows and max_df_rows < n:
        keep = np.flatnonzero(df <= max_df_rows)
        if not len(keep):
            return None  # every n-gram too frequent
        counts, df = counts[:, keep], df[keep]
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    x = counts.tocsr()
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(x.indptr))
    x = x.astype(np.float32)
    x.sort_indices()
    return x


def _sklearn_tfidf(texts, ngram_range, max_df_rows, analyzer):
    # imported here: the usual analyzers never need it, and scikit-learn's import is ~1 s of a small job
    from sklearn.feature_extraction.text import TfidfVectorizer

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


_WORD = re.compile(r"(?u)\b\w+\b")


def _ngram_codes(texts: Sequence[str], analyzer: str, ngram_range) -> tuple[np.ndarray, np.ndarray] | None:
    r"""(document, n-gram code) of every n-gram occurrence, the n-grams being TfidfVectorizer's for
    char_wb trigrams (per whitespace-separated word padded with one space: the trigrams of
    ' ' + text + ' ' whose middle character is not a space) or word n-grams in ngram_range (words of
    r"\b\w+\b"); None for another analyzer. Codes are int64, equal for equal n-grams."""
    texts = [t if isinstance(t, str) else ("" if pd.isna(t) else str(t)) for t in texts]
    if analyzer == "char_wb" and tuple(ngram_range) == (3, 3):
        padded = [" " + " ".join(t.split()) + " " for t in texts]
        lengths = np.fromiter((len(t) for t in padded), np.int64, len(padded))
        chars = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        doc = np.repeat(np.arange(len(padded), dtype=np.int64), lengths)
        if len(chars) < 3:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        same = (doc[:-2] == doc[2:]) & (chars[1:-1] != 32)
        k = np.flatnonzero(same)
        codes = (chars[k] << 42) | (chars[k + 1] << 21) | chars[k + 2]
        return doc[k], codes
    if analyzer == "word":
        lo, hi = ngram_range
        words = [_WORD.findall(t) for t in texts]
        lengths = np.fromiter((len(w) for w in words), np.int64, len(words))
        flat = [w for ws in words for w in ws]
        if not flat:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        ids, vocab = pd.factorize(np.asarray(flat, dtype=object), sort=False)
        ids = ids.astype(np.int64)
        doc = np.repeat(np.arange(len(words), dtype=np.int64), lengths)
        v = np.int64(len(vocab) + 1)
        out_d, out_c = [], []
        for size in range(lo, hi + 1):
            if len(ids) < size:
                break
            last = len(ids) - size + 1
            ok = doc[:last] == doc[size - 1:]
            code = np.zeros(last, np.int64)
            for t in range(size):
                code = code * v + ids[t:t + last] + 1
            out_d.append(doc[:last][ok])
            out_c.append(code[ok] * 4 + size)  # the size in the low bits: a 1-gram never equals a 2-gram
        return np.concatenate(out_d), np.concatenate(out_c)
    return None


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


def value_codes(values: Sequence[str]) -> np.ndarray:
    """Integer code per row of a key value (-1 for '' / None: no key), in first-seen order."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(uniques == "") if len(uniques) else np.empty(0, np.int64)
    if len(empty):  # '' is no key; the codes above it keep their first-seen order (a gap is harmless)
        codes[codes == empty[0]] = -1
    return codes


def text_ranks(texts: Sequence[str]) -> np.ndarray:
    """Rank of each text in sorted order (equal texts, equal ranks): a sort key computed once."""
    return pd.factorize(pd.Series(np.asarray(texts, dtype=object)).fillna("").astype(str), sort=True)[0]


def block_pairs(codes: np.ndarray, order: Sequence[str] | None = None,
                window: int = 20, rows_of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows sharing a key code (≥ 0): all pairs of a value with ≤ window + 1 rows; in larger
    ones, each row with the next `window` rows in `order` (texts, or their int ranks; then row
    index) — sorted neighbourhood.

    `rows_of` (optional): the row of each entry, for a key with several values per row (entries of
    codes/order; pairs of one row with itself are dropped).
    Vectorized: one lexsort, then one comparison per offset 1..window. Returns (i, j), i < j, unique,
    sorted by (i, j).
    """
    codes = np.asarray(codes, np.int64)
    row = np.arange(len(codes), dtype=np.int64) if rows_of is None else np.asarray(rows_of, np.int64)
    n = int(row.max()) + 1 if len(row) else 0
    rows = np.flatnonzero(codes >= 0)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64))
    if len(rows) < 2 or window <= 0:
        return empty
    if order is not None and np.asarray(order).dtype.kind in "iu":  # ranks already
        rank = np.asarray(order, np.int64)[rows]
    elif order is not None:
        rank = text_ranks(np.asarray(order, dtype=object)[rows])
    else:
        rank = np.zeros(len(rows), np.int64)
    srt = rows[np.lexsort((rows, rank, codes[rows]))]
    c = codes[srt]
    out = []
    for d in range(1, min(window, len(srt) - 1) + 1):
        same = np.flatnonzero(c[:-d] == c[d:])
        if not len(same):
            break  # no value has more than d rows: none has more than d + 1 either
        a, b = row[srt[same]], row[srt[same + d]]
        out.append((np.minimum(a, b) * n + np.maximum(a, b))[a != b])
    if not out:
        return empty
    key = unique(np.concatenate(out))
    return key // n, key % n


def grid_codes(lat: np.ndarray, lon: np.ndarray, cell_m: float, shift: tuple[float, float] = (0.0, 0.0)
               ) -> np.ndarray:
    """Code of the coordinate grid cell (about cell_m × cell_m metres) of each row, the grid shifted by
    `shift` cells (e.g. (0.5, 0.5)); -1 where the coordinates are unknown. Four grids shifted by
    (0|½, 0|½) put any two points closer than cell_m / 2 on both axes in one cell of at least one grid
    (the classic alternative to joining each cell with its 8 neighbours, and capped like any key)."""
    lat = np.asarray(lat, np.float64)
    lon = np.asarray(lon, np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    dlat = cell_m / 111_195.0  # metres per degree of latitude
    # one longitude step for the whole partition (its mean latitude): cells stay about square
    mean_lat = float(np.nanmean(lat[ok])) if ok.any() else 0.0
    dlon = dlat / max(0.1, np.cos(np.radians(mean_lat)))
    y = np.floor(np.where(ok, lat, 0.0) / dlat + shift[0]).astype(np.int64)
    x = np.floor(np.where(ok, lon, 0.0) / dlon + shift[1]).astype(np.int64)
    code = (y - y[ok].min() if ok.any() else y) * (1 << 31) + (x - x[ok].min() if ok.any() else x)
    return np.where(ok, code, -1)


GRID_SHIFTS = [(0.0, 0.0), (0.0, 0.5), (0.5, 0.0), (0.5, 0.5)]


_PHONETIC_RULES = [(re.compile(pat), rep) for pat, rep in [
    (r"x\b", ""), (r"x", "s"), (r"sch|ch|sh", "x"), (r"ph", "f"), (r"qu|q|ck", "k"),
    (r"c(?=[eiy])", "s"), (r"c", "k"), (r"g(?=[eiy])", "j"), (r"gu", "g"), (r"w", "v"),
    (r"y", "i"), (r"z", "s"), (r"h", ""), (r"([a-z])\1+", r"\1"), (r"(?<=\w)[sdt]\b", ""),
    (r"\b([a-z])|[aeiou]", r"\1"), (r"([a-z])\1+", r"\1"), (r"\s+", " ")]]


@lru_cache(maxsize=500_000)
def _phonetic_fr_one(text: str) -> str:
    w = text.lower()
    for pat, rep in _PHONETIC_RULES:
        w = pat.sub(rep, w)
    return w.strip()


def phonetic_fr(texts: Sequence[str]) -> np.ndarray:
    """A coarse French phonetic key of normalized names (lower-case ASCII words): French spellings of
    one sound written alike (ch/sh→x, ph→f, qu/c hard→k, c soft/z→s, g soft→j, w→v, y→i, x→s, silent h),
    then per word the first letter and the consonant skeleton (vowels dropped, doubled letters
    collapsed, a final silent s/t/d/x dropped). "muller"/"mller", "lyon"/"lyno", "conforama"/"conforaam",
    "faure"/"farue" get one key. Computed once per distinct text (cached across partitions and passes:
    the per-partition cost is a dictionary lookup, not eighteen pandas passes)."""
    values = np.asarray(texts, dtype=object)
    uniq, inverse = np.unique(np.where(pd.isna(values), "", values).astype(str), return_inverse=True)
    keys = np.array([_phonetic_fr_one(u) for u in uniq.tolist()], dtype=object)
    return keys[inverse.reshape(-1)] if len(uniq) else np.full(len(values), "", dtype=object)


@dataclass(frozen=True)
class BlockingKey:
    """One blocking key. `tfidf` (default): a TF-IDF neighbour search — how its text is tokenised,
    k, and when it applies (`max_rows`: only partitions up to that size; None = always). `exact`:
    rows sharing a key value, all pairs of a value up to `window` + 1 rows, sorted neighbourhood
    of `window` beyond (its input is (values, order texts) or (codes, order texts))."""
    name: str
    analyzer: str = "char_wb"
    ngram_range: tuple = (3, 3)
    max_df_rows: int | None = None
    k: int = 10
    max_rows: int | None = None
    kind: str = "tfidf"
    window: int = 20


def _input_rows(inp) -> int:
    if isinstance(inp, tuple):
        return len(inp[0])
    return len(inp)


def candidate_pairs(texts_list: Sequence, keys: Sequence[BlockingKey] | None = None,
                    min_cosine: float = 0.3, stats: dict | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs of one partition from one input per blocking key (aligned on the same rows):
    the union of each tfidf key's top-k neighbours and each exact key's block pairs, as (i, j, best
    cosine) sorted by (i, j); a pair found by exact keys only has cosine 0.

    The input of a tfidf key is its texts; of an exact key a tuple (values, order texts) — values
    are strings ('' = no key) or int codes (-1 = no key), one per row or n × m (m values per row,
    e.g. a key of the name and one of the commercial name that match each other too). `stats` (optional dict) receives, per key
    name, {"seconds", "pairs"} (added up over calls)."""
    n = _input_rows(texts_list[0]) if len(texts_list) else 0
    keys = list(keys) if keys is not None else [BlockingKey("text")] * len(texts_list)
    sets = []
    for inp, key in zip(texts_list, keys):
        if key.max_rows is not None and n > key.max_rows:
            continue
        t0 = time.perf_counter()
        found = None
        if key.kind == "exact":
            values, order = inp if isinstance(inp, tuple) else (inp, None)
            values = np.asarray(values)
            rows_of = None
            if values.ndim == 2:  # several values per row (columns): one entry per (row, value)
                values = values.copy()
                for col in range(1, values.shape[1]):  # a value repeated in one row counts once
                    repeated = (values[:, [col]] == values[:, :col]).any(axis=1)
                    values[repeated, col] = -1 if values.dtype.kind in "iu" else ""
                rows_of = np.repeat(np.arange(len(values)), values.shape[1])
                values = values.ravel()
                order = None if order is None else np.repeat(np.asarray(order), rows_of.size // max(1, n))
            codes = values.astype(np.int64) if values.dtype.kind in "iu" else value_codes(values)
            i, j = block_pairs(codes, order, key.window, rows_of)
            found = (i, j, np.zeros(len(i), np.float32))
        else:
            x = tfidf_matrix(inp, key.ngram_range, key.max_df_rows, key.analyzer)
            if x is not None:
                found = topk_pairs(x, k=key.k, min_cosine=min_cosine)
        if found is not None:
            sets.append(found)
        if stats is not None:
            st = stats.setdefault(key.name, {"seconds": 0.0, "pairs": 0})
            st["seconds"] += time.perf_counter() - t0
            st["pairs"] += len(found[0]) if found is not None else 0
    return merge_pairs(n, *sets)
