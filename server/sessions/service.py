"""Sessions: create, use, update, delete, list — validated against the catalog, cached by id, and the
cached copy checked against the database on every call (one indexed read), so replicas agree at once.
While this process is the database's only user (`Store.sole_use`), nobody else can change a session,
and the cached copy is used without that read.

The one owner of a session's lifecycle: deleting a session also ends its MCP clients and its
workbench (process and files), and the id is refused at once, even by requests already in flight.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from server.catalog.catalog import Catalog
from server.errors import Conflict, InvalidInput, NotFound
from server.sessions import filters
from server.sessions.clients import McpClients
from server.sessions.options import SessionCreate, SessionOptions, SessionUpdate, parse
from server.store.errors import VersionConflict
from server.store.interfaces import SessionStore, SoleUse
from server.store.records import SessionRow
from server.values import Session

log = logging.getLogger("concierge.sessions")

SESSION_ID = re.compile(r"^sess_[A-Za-z0-9_-]{32}$")
CACHE_SIZE = 20_000
DELETED_KEPT = 100_000  # ids are random and never reused; old tombstones only save a read
OptionsCheck = Callable[[str, SessionOptions], Awaitable[None]]


def new_session_id() -> str:
    """192 random bits: the id is a capability, so it must not be guessable."""
    return "sess_" + secrets.token_urlsafe(24)


class SessionWorkbench(Protocol):
    async def discard(self, session_id: str) -> None:
        """Stop the session's process and remove its files."""
        ...


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        catalog: Catalog,
        clients: McpClients,
        allow_default_user: bool = False,
        sole_use: SoleUse | None = None,
    ) -> None:
        self.store = store
        self.sole_use = sole_use
        self._sole_generation = -1  # the sole-use period the cache was filled in
        self.catalog = catalog
        self.clients = clients
        self.allow_default_user = allow_default_user
        self.checks: list[OptionsCheck] = []
        self.workbench: SessionWorkbench | None = None
        self._cache: OrderedDict[str, Session] = OrderedDict()
        self._deleted: OrderedDict[str, None] = OrderedDict()

    def add_check(self, check: OptionsCheck) -> None:
        """Later layers (accounts, auth configs) validate references they own."""
        self.checks.append(check)

    def _build(self, row: SessionRow) -> Session:
        options = SessionOptions.model_validate(row.config)
        return Session(
            row.id,
            row.user_id,
            options,
            row.config_version,
            row.created_at,
            row.updated_at,
            filters.resolve_allowed(self.catalog, options),
        )

    def _remember(self, session: Session) -> Session:
        """Caches the session, unless it was deleted while the caller was reading or writing it."""
        if session.id in self._deleted:
            return session
        self._cache[session.id] = session
        self._cache.move_to_end(session.id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return session

    async def _validate(self, user_id: str, options: SessionOptions) -> None:
        filters.validate(self.catalog, options)
        for check in self.checks:
            await check(user_id, options)

    def check_user(self, user_id: str) -> None:
        if user_id == "default":
            if not self.allow_default_user:
                raise InvalidInput(
                    "user_id 'default' is refused: in production it would share one user's accounts with "
                    "everyone. Use your app's user id, or set allow_default_user = true for local testing.",
                    {"field": "user_id"},
                )
            log.warning("user_id 'default' used (allow_default_user is on): every caller shares this user's accounts")

    async def create(self, body: dict[str, Any]) -> Session:
        request: SessionCreate = parse(SessionCreate, body)
        self.check_user(request.user_id)
        options = SessionOptions.model_validate(request.stored())
        await self._validate(request.user_id, options)
        row = await self.store.insert(new_session_id(), request.user_id, options.stored())
        return self._remember(self._build(row))

    async def get(self, session_id: str) -> Session:
        """The session as stored now: one indexed read checks the cached copy against the database, so a
        change or a deletion made through another replica is seen on the next call."""
        session, _ = await self.open(session_id, None)
        return session

    def _cached_while_sole(self, session_id: str, mcp_client_id: str | None) -> Session | None:
        """The cached session (and its client known live) while no other process can change them."""
        sole = self.sole_use
        if sole is None or not sole.held:
            return None
        if sole.generation != self._sole_generation:  # others could write until now: forget what they may have changed
            self._cache.clear()
            self.clients.forget_all()
            self._sole_generation = sole.generation
        cached = self._cache.get(session_id)
        if cached is None or (mcp_client_id is not None and not self.clients.known_live(mcp_client_id, session_id)):
            return None
        self._cache.move_to_end(session_id)
        return cached

    async def open(self, session_id: str, mcp_client_id: str | None) -> tuple[Session, bool]:
        """The session and whether `mcp_client_id` (if given) is a live client of it, in one read."""
        if session_id in self._deleted:
            raise NotFound(f"session {session_id} was deleted. Create a new one.")
        if not SESSION_ID.match(session_id):
            raise NotFound(f"session {session_id[:64]!r} not found (session ids look like sess_…)")
        cached = self._cached_while_sole(session_id, mcp_client_id)
        if cached is not None:
            return cached, True
        stamp = await self.store.stamp(session_id, mcp_client_id)
        if stamp is None:
            if self._cache.pop(session_id, None) is not None:  # deleted through another replica
                self._tombstone(session_id)
                self.clients.forget_session(session_id)
            raise NotFound(f"session {session_id} not found; it may have been deleted. Create a new one.")
        cached = self._cache.get(session_id)
        if cached is not None and cached.config_version == stamp.config_version:
            self._cache.move_to_end(session_id)
            session = cached
        else:
            row = await self.store.get(session_id)
            if row is None:
                raise NotFound(f"session {session_id} not found; it may have been deleted. Create a new one.")
            session = self._remember(self._build(row))
        live = mcp_client_id is None or await self.clients.verify(mcp_client_id, session_id, stamp)
        return session, live

    async def current(self, session_id: str) -> Session:
        """Within a request whose session `open()` or `get()` just checked: the cached copy, no read."""
        cached = self._cache.get(session_id)
        return cached if cached is not None else await self.get(session_id)

    def _tombstone(self, session_id: str) -> None:
        self._deleted[session_id] = None
        while len(self._deleted) > DELETED_KEPT:
            self._deleted.popitem(last=False)

    async def update(self, session_id: str, body: dict[str, Any]) -> Session:
        """Partial update. Without `expected_config_version` a concurrent change is merged by retrying
        on the fresh row; with it, a concurrent change is a 409 (`Conflict`)."""
        request: SessionUpdate = parse(SessionUpdate, body)
        changes = {
            k: v
            for k, v in request.model_dump(mode="json", by_alias=True).items()
            if k in request.model_fields_set and k != "expected_config_version"
        }
        for _ in range(3):
            current = await self.get(session_id)
            expected_version = request.expected_config_version
            if expected_version is not None and expected_version != current.config_version:
                # before the options are checked: they were written against another version
                raise VersionConflict.of_session(session_id, current.config_version, expected_version)
            merged = {k: v for k, v in (current.options.stored() | changes).items() if v is not None}
            options = parse(SessionOptions, merged)
            await self._validate(current.user_id, options)
            if options.stored() == current.options.stored():
                return current  # nothing changes: no new config version, no history entry
            self._cache.pop(session_id, None)
            try:
                row = await self.store.update(session_id, options.stored(), current.config_version)
            except Conflict:
                if expected_version is not None:
                    raise
                continue
            return self._remember(self._build(row))
        raise Conflict(f"session {session_id} is being changed by others; retry the update")

    async def delete(self, session_id: str) -> None:
        await self.get(session_id)
        self._tombstone(session_id)  # before the first await: nothing can cache it again from here
        self._cache.pop(session_id, None)
        await self.store.delete(session_id)
        self.clients.forget_session(session_id)
        if self.workbench is not None:
            try:
                await self.workbench.discard(session_id)
            except Exception:  # the session is gone either way; what is left behind must be visible
                log.exception("session %s deleted, but its workbench could not be fully removed", session_id)

    async def list(self, user_id: str, limit: int = 100, offset: int = 0) -> list[Session]:
        return [self._build(r) for r in await self.store.list_by_user(user_id, limit, offset)]

    def invalidate(self) -> None:
        """The catalog changed: allowed sets must be recomputed."""
        self._cache.clear()
