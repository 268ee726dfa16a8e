"""Embedding providers for the semantic signal: the packaged model, any sentence-transformers model, or
an embedding service a team already runs that speaks the OpenAI embeddings wire format (Ollama,
text-embeddings-inference, vLLM, OpenAI itself).

A provider that fails or times out must never fail a search: `ProviderDown` is raised here and the
index ranks that search lexically, logging why once (server/catalog/search.py).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import httpx
import numpy as np

from server.errors import ConfigError

log = logging.getLogger(__name__)

BATCH_SIZE = 64  # texts per embeddings request while a catalog is embedded
CACHE_SIZE = 4096  # recent request texts' vectors


class ProviderDown(Exception):
    """The embedding provider did not answer usefully (unreachable, timed out, bad reply)."""


class TextEncoder(Protocol):
    """What the search index needs from an embedding model: unit-length rows, one per text."""

    model: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_corpus(self, texts: Sequence[str]) -> np.ndarray: ...


def text_digest(text: str) -> str:
    """The cache key of a text's vector, together with the model name."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class OpenAIEncoder:
    """`POST {base_url}/embeddings` with `{"model", "input": [...]}`; reads `data[i].embedding` by `index`."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"[search] base_url must be an http(s) URL, got {base_url!r}")
        if not model:
            raise ConfigError('[search] embeddings = "openai" needs `model` (the served model\'s name)')
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout, transport=transport
        )
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _request(self, texts: Sequence[str]) -> np.ndarray:
        try:
            response = self._client.post("embeddings", json={"model": self.model, "input": list(texts)})
            response.raise_for_status()
            data = response.json()["data"]
            rows = [item["embedding"] for item in sorted(data, key=lambda item: int(item["index"]))]
            if len(rows) != len(texts):
                raise ProviderDown(f"asked for {len(texts)} vectors, got {len(rows)}")
            return _unit(np.asarray(rows, dtype=np.float32))
        except ProviderDown:
            raise
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise ProviderDown(f"{type(exc).__name__}: {exc}") from exc

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for request texts, one round trip for the ones not cached."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self._request(missing) if missing else np.zeros((0, 0), np.float32)
        with self._lock:
            for text, vector in zip(missing, fresh, strict=True):
                self._cache[text] = vector
            rows = [self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.stack(rows)

    def encode_corpus(self, texts: Sequence[str]) -> np.ndarray:
        """A catalog's texts in batches (services cap the inputs per request)."""
        parts = [self._request(texts[lo : lo + BATCH_SIZE]) for lo in range(0, len(texts), BATCH_SIZE)]
        return np.vstack(parts) if parts else np.zeros((0, 0), np.float32)


def load_local(name_or_path: str) -> TextEncoder:
    """A sentence-transformers encoder by model name or local path (the `semantic` extra's torch)."""
    from server.catalog.semantic import Encoder

    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(
            '[search] embeddings = "local" needs sentence-transformers and torch: '
            "pip install torch==2.13.0 && pip install -e '.[semantic]'"
        ) from exc
    return Encoder(SentenceTransformer(name_or_path, device="cpu"), torch, name=name_or_path)
