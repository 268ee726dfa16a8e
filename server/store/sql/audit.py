"""Operator audit events, listed together with the connected accounts' own audit events."""

from __future__ import annotations

from server.store.records import AuditEvent, AuditKey, now
from server.store.sql.database import Database

# One list from two tables; each branch filters by the keyset itself so both walk their `at` index.
_MERGED = (
    "SELECT * FROM ("
    "SELECT CAST('account' AS TEXT) AS source, id, at, event, actor, account_id AS target, user_id, toolkit, detail "
    "FROM auth_events {account_where} ORDER BY at DESC, id DESC LIMIT ?) AS a "
    "UNION ALL SELECT * FROM ("
    "SELECT CAST('console' AS TEXT), id, at, event, actor, target, CAST(NULL AS TEXT), CAST(NULL AS TEXT), detail "
    "FROM audit_events {console_where} ORDER BY at DESC, id DESC LIMIT ?) AS c "
    "ORDER BY at DESC, source DESC, id DESC LIMIT ?"
)


class SqlAuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, event: str, actor: str, target: str | None, detail: str | None = None) -> None:
        await self.db.execute(
            "INSERT INTO audit_events (at, event, actor, target, detail) VALUES (?, ?, ?, ?, ?)",
            (now(), event, actor, target, detail),
        )

    async def page(self, after: AuditKey | None, limit: int) -> list[AuditEvent]:
        """Newest first; ties on `at` are broken by source ("console" before "account") and id."""
        if after is None:
            sql = _MERGED.format(account_where="", console_where="")
            params: tuple[object, ...] = (limit, limit, limit)
        else:
            # rows strictly after the key in the order (at DESC, source DESC, id DESC)
            account_where = (
                "WHERE at < ? OR (at = ? AND (CAST(? AS TEXT) > 'account' OR (CAST(? AS TEXT) = 'account' AND id < ?)))"
            )
            console_where = "WHERE at < ? OR (at = ? AND CAST(? AS TEXT) = 'console' AND id < ?)"
            sql = _MERGED.format(account_where=account_where, console_where=console_where)
            params = (
                after.at, after.at, after.source, after.source, after.id, limit,
                after.at, after.at, after.source, after.id, limit,
                limit,
            )  # fmt: skip
        rows = await self.db.fetchall(sql, params)
        return [AuditEvent(*r) for r in rows]
