"""Field-weighted BM25 (BM25F) over tool fields, precomputed into one sparse term -> tools matrix.

BM25F adds each field's length-normalised term frequency, weighted by field, *before* the single
saturation step, so a word in the name counts more than one in a parameter description, yet a word
repeated across fields is not paid for twice. Everything but the sum over query terms is computed
at build time, which keeps a search to a few array additions even over 50k tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from server.catalog.terms import terms

K1 = 1.2  # term-frequency saturation: low, because tool texts are short and a second mention adds little
IDF_POWER = 1.0
QTF_POWER = 0.0


class LexicalIndex:
    """`docs[i]` maps field name -> text; `weights`/`length_norm` give each field's weight and BM25 `b`."""

    def __init__(self, docs: Sequence[Mapping[str, str]], weights: Mapping[str, float],
                 length_norm: Mapping[str, float]) -> None:
        self.vocabulary: dict[str, int] = {}
        n = len(docs)
        doc_ids: list[np.ndarray] = []
        term_ids: list[np.ndarray] = []
        tf_weights: list[np.ndarray] = []
        for field, weight in weights.items():
            per_doc = [[self.vocabulary.setdefault(t, len(self.vocabulary)) for t in terms(d.get(field, ""))]
                       for d in docs]
            lengths = np.array([len(ids) for ids in per_doc], dtype=np.float64)
            average = lengths.mean() if n and lengths.any() else 1.0
            b = length_norm[field]
            norm = weight / (1.0 - b + b * lengths / average)
            doc_ids.append(np.repeat(np.arange(n), lengths.astype(np.int64)))
            term_ids.append(np.fromiter((t for ids in per_doc for t in ids), dtype=np.int64))
            tf_weights.append(np.repeat(norm, lengths.astype(np.int64)))
        docs_arr = np.concatenate(doc_ids) if doc_ids else np.zeros(0, np.int64)
        terms_arr = np.concatenate(term_ids) if term_ids else np.zeros(0, np.int64)
        # Sum the weighted frequencies of each (term, doc) pair, term-major so a term's tools are contiguous.
        pair, inverse = np.unique(terms_arr * max(n, 1) + docs_arr, return_inverse=True)
        tf = np.bincount(inverse, weights=np.concatenate(tf_weights) if tf_weights else None,
                         minlength=len(pair))
        pair_terms = pair // max(n, 1)
        df = np.bincount(pair_terms, minlength=len(self.vocabulary)).astype(np.float64)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        self._docs = (pair % max(n, 1)).astype(np.int32)
        self._values = (self.idf[pair_terms] ** IDF_POWER * tf * (K1 + 1.0) / (K1 + tf)).astype(np.float32)
        self._start = np.searchsorted(pair_terms, np.arange(len(self.vocabulary) + 1))
        self.size = n

    def term_ids(self, text: str) -> dict[int, int]:
        """Known query terms -> how often the query says them."""
        found: dict[int, int] = {}
        for term in terms(text):
            tid = self.vocabulary.get(term)
            if tid is not None:
                found[tid] = found.get(tid, 0) + 1
        return found

    def scores(self, query_terms: Mapping[int, int]) -> np.ndarray:
        """BM25F score of every tool (zero where no query term occurs)."""
        out = np.zeros(self.size, dtype=np.float32)
        for tid, count in query_terms.items():
            lo, hi = self._start[tid], self._start[tid + 1]
            out[self._docs[lo:hi]] += self._values[lo:hi] * count ** QTF_POWER
        return out
