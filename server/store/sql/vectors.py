"""Embedding vectors by (model, text digest): what the search index would otherwise re-embed at each start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from server.store.records import now
from server.store.sql.database import Database

_CHUNK = 500  # digests per query: backends cap the number of bound parameters


class SqlVectorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_many(self, model: str, digests: Sequence[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(digests))
        out: dict[str, bytes] = {}
        for lo in range(0, len(wanted), _CHUNK):
            part = wanted[lo : lo + _CHUNK]
            marks = ", ".join("?" * len(part))
            rows = await self.db.fetchall(
                f"SELECT digest, vector FROM embedding_vectors WHERE model = ? AND digest IN ({marks})",
                (model, *part),
            )
            out.update((digest, bytes(vector)) for digest, vector in rows)
        return out

    async def put_many(self, model: str, vectors: Mapping[str, bytes]) -> int:
        added = 0
        ts = now()
        async with self.db.transaction() as tx:
            for digest, vector in vectors.items():
                added += await tx.execute(
                    "INSERT INTO embedding_vectors (model, digest, vector, created_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (model, digest, vector, ts),
                )
        return added
