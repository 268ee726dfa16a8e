"""Rows of connected accounts (`ca_…`), their Connect Links and their audit events.

Every query that reads accounts for a session takes the user id, so a session can never see
another user's rows by construction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from server.store.records import AccountListing, AccountRow, LinkRow, PageKey, now
from server.store.sql.database import Database, Row, Transaction
from server.store.sql.mapping import build, columns, insert_sql, values
from server.values import AccountStatus

ACCOUNT_COLS = ", ".join(columns(AccountRow))
LINK_COLS = ", ".join(columns(LinkRow))


def _account(r: Row | None) -> AccountRow:
    assert r is not None, "the row was read inside the transaction that just changed it"
    row = build(AccountRow, r)
    return replace(row, status=AccountStatus(row.status))


class SqlAccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, account: AccountRow, link: LinkRow | None, event: str, actor: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(insert_sql("connected_accounts", AccountRow), values(account))
            if link is not None:
                await tx.execute(insert_sql("connect_links", LinkRow), values(link))
            await self._event(tx, account, event, actor, None)

    async def add_link(self, link: LinkRow) -> None:
        await self.db.execute(insert_sql("connect_links", LinkRow), values(link))

    async def get(self, account_id: str) -> AccountRow | None:
        r = await self.db.fetchone(f"SELECT {ACCOUNT_COLS} FROM connected_accounts WHERE id = ?", (account_id,))
        return _account(r) if r else None

    async def find(
        self, user_id: str | None = None, toolkit: str | None = None, statuses: tuple[AccountStatus, ...] | None = None
    ) -> list[AccountRow]:
        where, params = [], []
        for column, value in (("user_id", user_id), ("toolkit", toolkit)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetchall(
            f"SELECT {ACCOUNT_COLS} FROM connected_accounts {clause} ORDER BY created_at DESC, id", params
        )
        return [_account(r) for r in rows]

    async def set_status(
        self,
        account_id: str,
        status: AccountStatus,
        reason: str | None,
        event: str,
        actor: str,
        *,
        credential: bytes | None = None,
        preview: str | None = None,
        expires_at: float | None = None,
        scopes: str | None = None,
        keep_credential: bool = True,
        only_if: tuple[AccountStatus, ...] = (),
    ) -> bool:
        """One transition plus its audit event; `only_if` guards against racing transitions."""
        sets = ["status = ?", "status_reason = ?", "updated_at = ?"]
        params: list[Any] = [status, reason, now()]
        if credential is not None or not keep_credential:
            sets += ["credential = ?", "credential_preview = ?", "expires_at = ?"]
            params += [credential, preview, expires_at]
        if scopes is not None:
            sets.append("scopes = ?")
            params.append(scopes)
        guard = f" AND status IN ({', '.join('?' * len(only_if))})" if only_if else ""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                f"UPDATE connected_accounts SET {', '.join(sets)} WHERE id = ?{guard}", (*params, account_id, *only_if)
            )
            if changed == 0:
                return False
            account = _account(
                await tx.fetchone(f"SELECT {ACCOUNT_COLS} FROM connected_accounts WHERE id = ?", (account_id,))
            )
            await self._event(tx, account, event, actor, reason)
        return True

    async def set_disabled(self, account_id: str, disabled: bool, actor: str) -> None:
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE connected_accounts SET is_disabled = ?, updated_at = ? WHERE id = ? AND is_disabled != ?",
                (int(disabled), now(), account_id, int(disabled)),
            )
            row = await tx.fetchone(f"SELECT {ACCOUNT_COLS} FROM connected_accounts WHERE id = ?", (account_id,))
            if row is not None and changed:  # asking for the state it is in changes nothing, and records nothing
                await self._event(tx, _account(row), "disabled" if disabled else "enabled", actor, None)

    async def delete(self, account_id: str, actor: str) -> None:
        account = await self.get(account_id)
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM connected_accounts WHERE id = ?", (account_id,))
            if account is not None:
                await self._event(tx, account, "deleted", actor, None)

    async def _event(self, tx: Transaction, account: AccountRow, event: str, actor: str, detail: str | None) -> None:
        await tx.execute(
            "INSERT INTO auth_events (account_id, user_id, toolkit, event, actor, detail, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (account.id, account.user_id, account.toolkit, event, actor, detail, now()),
        )

    async def events(self, account_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetchall(
            "SELECT event, actor, detail, at FROM auth_events WHERE account_id = ? ORDER BY at, id", (account_id,)
        )
        return [dict(r) for r in rows]

    async def link_by_token(self, token_hash: str) -> LinkRow | None:
        r = await self.db.fetchone(f"SELECT {LINK_COLS} FROM connect_links WHERE token_hash = ?", (token_hash,))
        return build(LinkRow, r) if r else None

    async def link_by_state(self, state_hash: str) -> LinkRow | None:
        r = await self.db.fetchone(f"SELECT {LINK_COLS} FROM connect_links WHERE state_hash = ?", (state_hash,))
        return build(LinkRow, r) if r else None

    async def live_link(self, account_id: str) -> LinkRow | None:
        r = await self.db.fetchone(
            f"SELECT {LINK_COLS} FROM connect_links WHERE account_id = ? AND opened_at IS NULL AND used_at IS NULL "
            "AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
            (account_id, now()),
        )
        return build(LinkRow, r) if r else None

    async def open_link(self, token_hash: str, state_hash: str | None, verifier: bytes | None) -> bool:
        """Marks a link opened (single use); False when someone else opened it first."""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE connect_links SET opened_at = ?, state_hash = ?, pkce_verifier = ? "
                "WHERE token_hash = ? AND opened_at IS NULL AND used_at IS NULL",
                (now(), state_hash, verifier, token_hash),
            )
            return changed == 1

    async def use_link(self, token_hash: str) -> bool:
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE connect_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", (now(), token_hash)
            )
            return changed == 1

    async def set_form_state(self, token_hash: str, state_hash: str) -> None:
        """The CSRF token of the latest rendering of a Connect form; older renderings stop working."""
        await self.db.execute(
            "UPDATE connect_links SET state_hash = ? WHERE token_hash = ? AND used_at IS NULL", (state_hash, token_hash)
        )

    async def expire_stale(self) -> list[str]:
        """INITIATED accounts whose every link has expired unused become EXPIRED (never INITIATED forever)."""
        ts = now()
        rows = await self.db.fetchall(
            "SELECT id FROM connected_accounts a WHERE status = ? AND NOT EXISTS ("
            "SELECT 1 FROM connect_links l WHERE l.account_id = a.id AND l.used_at IS NULL AND "
            "(l.expires_at > ? OR (l.opened_at IS NOT NULL AND l.opened_at > ?)))",
            (AccountStatus.INITIATED, ts, ts - 900),
        )
        expired = []
        for (account_id,) in rows:
            if await self.set_status(
                account_id,
                AccountStatus.EXPIRED,
                "the Connect Link expired before it was completed",
                "expired",
                "system",
                only_if=(AccountStatus.INITIATED,),
            ):
                expired.append(account_id)
        return expired

    async def page(
        self, user_id: str | None, toolkit: str | None, after: PageKey | None, limit: int
    ) -> list[AccountListing]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("user_id", user_id), ("toolkit", toolkit)):
            if value is not None:
                where.append(f"a.{column} = ?")
                params.append(value)
        if after is not None:
            where.append("(a.created_at, a.id) < (?, ?)")
            params += [after.at, after.id]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        cols = ", ".join(f"a.{c}" for c in columns(AccountRow))
        rows = await self.db.fetchall(
            f"SELECT {cols}, (SELECT MAX(e.at) FROM auth_events e WHERE e.account_id = a.id AND e.event = 'refreshed') "
            f"AS last_refreshed_at FROM connected_accounts a {clause} ORDER BY a.created_at DESC, a.id DESC LIMIT ?",
            (*params, limit),
        )
        return [AccountListing(_account(r), r["last_refreshed_at"]) for r in rows]
