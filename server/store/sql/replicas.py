"""Rows of the replicas sharing the database, the owner of each session's workbench, and
store-wide locks held as leases (a holder that dies lets go when its lease runs out)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

from server.store.errors import LockTimeout
from server.store.records import WorkbenchOwner, now
from server.store.sql.database import Database

LEASE_SECONDS = 15.0  # renewed every third of it while held
_POLL_FIRST, _POLL_MAX = 0.005, 0.1


class SqlReplicaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def heartbeat(self, replica_id: str, url: str | None) -> None:
        ts = now()
        await self.db.execute(
            "INSERT INTO replicas (id, url, started_at, heartbeat_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET url = excluded.url, heartbeat_at = excluded.heartbeat_at",
            (replica_id, url, ts, ts),
        )

    async def remove(self, replica_id: str) -> None:
        await self.db.execute("DELETE FROM replicas WHERE id = ?", (replica_id,))

    async def workbench_owner(self, session_id: str) -> WorkbenchOwner | None:
        r = await self.db.fetchone(
            "SELECT w.session_id, w.replica_id, r.url, r.heartbeat_at, w.since FROM workbench_owners w "
            "LEFT JOIN replicas r ON r.id = w.replica_id WHERE w.session_id = ?",
            (session_id,),
        )
        return WorkbenchOwner(*r) if r else None

    async def claim_workbench(self, session_id: str, replica_id: str, replacing: str | None) -> bool:
        if replacing is None:
            rows = await self.db.execute(
                "INSERT INTO workbench_owners (session_id, replica_id, since) VALUES (?, ?, ?) "
                "ON CONFLICT(session_id) DO NOTHING RETURNING session_id",
                (session_id, replica_id, now()),
            )
        else:
            rows = await self.db.execute(
                "UPDATE workbench_owners SET replica_id = ?, since = ? WHERE session_id = ? AND replica_id = ? "
                "RETURNING session_id",
                (replica_id, now(), session_id, replacing),
            )
        return bool(rows)

    async def release_workbench(self, session_id: str) -> None:
        await self.db.execute("DELETE FROM workbench_owners WHERE session_id = ?", (session_id,))


class SqlLockStore:
    """A lock is a row with a holder and a lease: taken by an upsert that only wins over an expired
    lease, renewed while held, deleted at release."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _take(self, name: str, holder: str) -> bool:
        ts = now()
        rows = await self.db.execute(
            "INSERT INTO store_locks (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE store_locks.expires_at < ? RETURNING holder",
            (name, holder, ts + LEASE_SECONDS, ts),
        )
        return bool(rows)

    async def _renew(self, name: str, holder: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            await self.db.execute(
                "UPDATE store_locks SET expires_at = ? WHERE name = ? AND holder = ?",
                (now() + LEASE_SECONDS, name, holder),
            )

    @contextlib.asynccontextmanager
    async def hold(self, name: str, wait_seconds: float) -> AsyncIterator[None]:
        holder = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        pause = _POLL_FIRST
        while not await self._take(name, holder):
            if loop.time() >= deadline:
                raise LockTimeout(f"{name} is held elsewhere (another call or replica) past {wait_seconds:g} s; retry")
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            pause = min(pause * 2, _POLL_MAX)
        renewing = loop.create_task(self._renew(name, holder))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.shield(
                self.db.execute("DELETE FROM store_locks WHERE name = ? AND holder = ?", (name, holder))
            )
