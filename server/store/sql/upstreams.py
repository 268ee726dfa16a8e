"""Upstream MCP servers: definitions registered at run time and each upstream's last known tool list.

Upstreams declared in the config file have no stored definition (the file is their source of truth),
but their tool lists are stored too, so a restart with the upstream down keeps its tools searchable.
"""

from __future__ import annotations

from typing import Any

from server.jsontext import dumps, loads
from server.store.records import UpstreamRow, now
from server.store.sql.database import Database


class SqlUpstreamStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_all(self) -> list[UpstreamRow]:
        rows = await self.db.fetchall(
            "SELECT name, definition, tools, tools_refreshed_at, oauth, oauth_client, secrets FROM upstreams "
            "ORDER BY name"
        )
        return [
            UpstreamRow(
                r[0],
                loads(r[1]) if r[1] else None,
                loads(r[2]) if r[2] else None,
                r[3],
                loads(r[4]) if r[4] else None,
                r[5],
                r[6],
            )
            for r in rows
        ]

    async def add(self, name: str, definition: dict[str, Any], secrets: bytes | None) -> bool:
        """False when the name is taken by another registered upstream."""
        rows = await self.db.execute(
            "INSERT INTO upstreams (name, definition, secrets, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) "
            "DO UPDATE SET definition = excluded.definition, secrets = excluded.secrets "
            "WHERE upstreams.definition IS NULL RETURNING name",
            (name, dumps(definition), secrets, now()),
        )
        return bool(rows)

    async def reseal(self, name: str, definition: dict[str, Any], secrets: bytes | None) -> None:
        await self.db.execute(
            "UPDATE upstreams SET definition = ?, secrets = ? WHERE name = ?", (dumps(definition), secrets, name)
        )

    async def save_tools(self, name: str, tools: list[dict[str, Any]]) -> None:
        ts = now()
        await self.db.execute(
            "INSERT INTO upstreams (name, tools, tools_refreshed_at, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET tools = excluded.tools, tools_refreshed_at = excluded.tools_refreshed_at",
            (name, dumps(tools), ts, ts),
        )

    async def save_oauth(self, name: str, server: dict[str, Any], client: bytes | None) -> None:
        await self.db.execute(
            "INSERT INTO upstreams (name, oauth, oauth_client, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) "
            "DO UPDATE SET oauth = excluded.oauth, oauth_client = excluded.oauth_client",
            (name, dumps(server), client, now()),
        )

    async def remove(self, name: str) -> bool:
        return bool(await self.db.execute("DELETE FROM upstreams WHERE name = ? RETURNING name", (name,)))
