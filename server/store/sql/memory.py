"""Tool memory: facts an agent asked a session to remember, kept per user and toolkit."""

from __future__ import annotations

from collections.abc import Iterable

from server.store.records import now
from server.store.sql.database import Database

MAX_FACTS_PER_TOOLKIT = 50


class SqlMemoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def remember(self, user_id: str, session_id: str, facts: dict[str, list[str]]) -> int:
        """Insert new facts (duplicates ignored); returns how many were new."""
        added = 0
        ts = now()
        async with self.db.transaction() as tx:
            for toolkit, items in facts.items():
                for fact in items:
                    added += await tx.execute(
                        "INSERT INTO tool_memory (user_id, session_id, toolkit, fact, created_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (user_id, session_id, toolkit, fact, ts),
                    )
        return added

    async def recall(self, user_id: str, toolkits: Iterable[str]) -> dict[str, list[str]]:
        wanted = sorted(set(toolkits))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = await self.db.fetchall(
            f"SELECT toolkit, fact FROM tool_memory WHERE user_id = ? AND toolkit IN ({marks}) "
            "ORDER BY created_at DESC, id DESC",
            (user_id, *wanted),
        )
        out: dict[str, list[str]] = {}
        for toolkit, fact in rows:
            bucket = out.setdefault(toolkit, [])
            if len(bucket) < MAX_FACTS_PER_TOOLKIT:
                bucket.append(fact)
        return out
