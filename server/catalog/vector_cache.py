"""Catalog vectors kept in the store by (model, text digest): a restart embeds only texts it has not seen.

At start the runtime loads the stored vectors of the catalog's texts, builds the index (in a thread:
embedding is CPU or network work) with an encoder that takes stored vectors first, and stores the
vectors it had to compute. A provider that is down at start still gets a semantic index when every
text was embedded before; only request texts then need it (and fall back to lexical without it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import anyio
import numpy as np

from server.catalog.catalog import Catalog
from server.catalog.embeddings import TextEncoder, text_digest
from server.store.interfaces import VectorStore

log = logging.getLogger(__name__)


class StoredVectorsEncoder:
    """A `TextEncoder` whose corpus vectors come from `known` (digest -> vector) when it holds them;
    `fresh` collects the ones it had to compute, for the store."""

    def __init__(self, inner: TextEncoder, known: Mapping[str, np.ndarray]) -> None:
        self.model = inner.model
        self.inner = inner
        self._known = dict(known)
        self.fresh: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode(texts)

    def encode_corpus(self, texts: Sequence[str]) -> np.ndarray:
        digests = [text_digest(t) for t in texts]
        missing = [i for i, d in enumerate(digests) if d not in self._known]
        if missing:
            computed = self.inner.encode_corpus([texts[i] for i in missing])
            dims = {v.shape[0] for v in self._known.values()}
            if dims and dims != {computed.shape[1]}:  # the name now serves another model: start over
                log.warning("stored vectors of %s have another dimension; embedding the catalog anew", self.model)
                self._known.clear()
                return self.encode_corpus(texts)
            for i, vector in zip(missing, computed, strict=True):
                self._known[digests[i]] = self.fresh[digests[i]] = vector
        if not texts:
            return self.inner.encode_corpus(texts)
        return np.stack([self._known[d] for d in digests]).astype(np.float32)


async def build_index_with_stored_vectors(catalog: Catalog, vectors: VectorStore) -> int:
    """Build the catalog's index using (and adding to) the stored vectors; returns how many were computed.

    Nothing happens for a lexical catalog."""
    encoder = catalog.encoder
    if encoder is None:
        return 0
    if isinstance(encoder, StoredVectorsEncoder):
        encoder = encoder.inner
    digests = [text_digest(t) for t in catalog.embedded_texts()]
    stored = await vectors.get_many(encoder.model, digests)
    cached = StoredVectorsEncoder(encoder, {d: np.frombuffer(b, dtype=np.float32) for d, b in stored.items()})
    catalog.use_encoder(cached)
    await anyio.to_thread.run_sync(lambda: catalog.index)
    if cached.fresh:
        await vectors.put_many(encoder.model, {d: v.astype(np.float32).tobytes() for d, v in cached.fresh.items()})
    return len(cached.fresh)
