"""What the services need from storage, one Protocol per concept, and `Store`, the bundle a backend
provides. Services are typed against these only; a backend (`server/store/sqlite/`, later others)
implements them and is chosen by `server.store.open_store(url)`.

Contract every backend keeps:
- a method returns only after its write is durable (committed); a returned row is what is stored;
- failures are `server.store.errors` types (or `server.errors.StorageError`), never driver exceptions;
- reads of accounts for a session always take the user id (isolation by construction).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from server.store.records import (
    AccountListing,
    AccountRow,
    AuditEvent,
    AuditKey,
    AuthConfigRow,
    ExecutionRow,
    LinkRow,
    McpClientRow,
    PageKey,
    SessionFilter,
    SessionRow,
    SessionStamp,
    UpstreamRow,
    WorkbenchOwner,
)
from server.values import AccountStatus


class SessionStore(Protocol):
    async def insert(self, session_id: str, user_id: str, config: dict[str, Any]) -> SessionRow: ...

    async def get(self, session_id: str) -> SessionRow | None: ...

    async def stamp(self, session_id: str, mcp_client_id: str | None = None) -> SessionStamp | None:
        """One indexed read (None: the session is gone): how every replica checks its cached copy."""
        ...

    async def update(self, session_id: str, config: dict[str, Any], expected_version: int) -> SessionRow:
        """Compare-and-set on config_version: `VersionConflict` when it moved, `NotFound` when deleted."""
        ...

    async def delete(self, session_id: str) -> bool: ...

    async def list_by_user(self, user_id: str, limit: int = 100, offset: int = 0) -> list[SessionRow]: ...

    async def history(self, session_id: str) -> list[dict[str, Any]]: ...

    async def page(self, where: SessionFilter, after: PageKey | None, limit: int) -> list[SessionRow]:
        """Newest first by (created_at, id), the rows after `after`: keyset, so page 1000 costs what page 1 does."""
        ...


class AccountStore(Protocol):
    async def insert(self, account: AccountRow, link: LinkRow | None, event: str, actor: str) -> None:
        """Account, its first link and its audit event in one transaction; `AlreadyExists` on a taken alias."""
        ...

    async def add_link(self, link: LinkRow) -> None: ...

    async def get(self, account_id: str) -> AccountRow | None: ...

    async def find(
        self, user_id: str | None = None, toolkit: str | None = None, statuses: tuple[AccountStatus, ...] | None = None
    ) -> list[AccountRow]: ...

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
        """One transition with its credential and audit event, all or nothing; False when `only_if` did not hold."""
        ...

    async def set_disabled(self, account_id: str, disabled: bool, actor: str) -> None: ...

    async def delete(self, account_id: str, actor: str) -> None: ...

    async def events(self, account_id: str) -> list[dict[str, Any]]: ...

    async def link_by_token(self, token_hash: str) -> LinkRow | None: ...

    async def link_by_state(self, state_hash: str) -> LinkRow | None: ...

    async def live_link(self, account_id: str) -> LinkRow | None: ...

    async def open_link(self, token_hash: str, state_hash: str | None, verifier: bytes | None) -> bool: ...

    async def use_link(self, token_hash: str) -> bool: ...

    async def set_form_state(self, token_hash: str, state_hash: str) -> None: ...

    async def expire_stale(self) -> list[str]: ...

    async def page(
        self, user_id: str | None, toolkit: str | None, after: PageKey | None, limit: int
    ) -> list[AccountListing]:
        """Every user's accounts (or one user's), newest first by (created_at, id), after `after`."""
        ...


class AuthConfigStore(Protocol):
    async def insert(self, row: AuthConfigRow) -> None: ...

    async def get(self, config_id: str) -> AuthConfigRow | None: ...

    async def find(self, toolkit: str | None = None) -> list[AuthConfigRow]: ...

    async def update(self, row: AuthConfigRow) -> AuthConfigRow: ...

    async def delete(self, config_id: str) -> None: ...

    async def in_use(self, config_id: str) -> int: ...


class ExecutionStore(Protocol):
    async def record(self, row: ExecutionRow) -> None:
        """Returns once the row is committed; concurrent calls may share one commit."""
        ...

    def begin(self, row: ExecutionRow) -> Awaitable[None]:
        """Queues the row of a call that is starting (status "running"); it is committed once the result
        is awaited, which a call does before it is answered, so its commit overlaps the call."""
        ...

    def finish(self, row: ExecutionRow) -> None:
        """Queues the outcome of a begun call (same id), not waited for: it replaces the "running" row
        with the next commit. If the process dies first, the row stays "running"."""
        ...

    async def get(self, log_id: str) -> ExecutionRow | None: ...

    async def list_by_session(self, session_id: str, limit: int = 100) -> list[ExecutionRow]: ...

    async def used_toolkits(self, session_id: str) -> dict[str, int]: ...

    async def page_by_session(self, session_id: str, after: PageKey | None, limit: int) -> list[ExecutionRow]:
        """Newest first by (started_at, id), the rows after `after`."""
        ...

    async def aclose(self) -> None: ...


class MemoryStore(Protocol):
    async def remember(self, user_id: str, session_id: str, facts: dict[str, list[str]]) -> int: ...

    async def recall(self, user_id: str, toolkits: Iterable[str]) -> dict[str, list[str]]: ...


class McpClientStore(Protocol):
    async def register(
        self,
        mcp_session_id: str,
        session_id: str,
        client_name: str | None,
        client_version: str | None,
        protocol_version: str | None,
    ) -> None:
        """`ReferenceMissing` when the session is gone (deleted concurrently)."""
        ...

    async def get(self, mcp_session_id: str) -> McpClientRow | None: ...

    async def touch(self, mcp_session_id: str, ts: float) -> None: ...

    async def terminate(self, mcp_session_id: str) -> None: ...

    async def list_by_session(self, session_id: str) -> list[McpClientRow]: ...


class ServerMetaStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def set_if_absent(self, key: str, value: str) -> str:
        """Stores `value` unless the key has one; returns what is stored (the first writer wins, also
        between replicas starting at once)."""
        ...


class UpstreamStore(Protocol):
    async def list_all(self) -> list[UpstreamRow]: ...

    async def add(self, name: str, definition: dict[str, Any], secrets: bytes | None) -> bool:
        """False when another registered upstream has the name. `secrets`: its headers and env, sealed."""
        ...

    async def reseal(self, name: str, definition: dict[str, Any], secrets: bytes | None) -> None:
        """Replaces a registered upstream's definition and sealed secrets (moving plaintext ones)."""
        ...

    async def save_tools(self, name: str, tools: list[dict[str, Any]]) -> None: ...

    async def save_oauth(self, name: str, server: dict[str, Any], client: bytes | None) -> None:
        """The upstream's authorization server and the client registered there (`client` sealed)."""
        ...

    async def remove(self, name: str) -> bool: ...


class ReplicaStore(Protocol):
    """The server processes sharing this database, and which one runs each session's workbench."""

    async def heartbeat(self, replica_id: str, url: str | None) -> None:
        """Records that the replica is alive now (and where others reach it)."""
        ...

    async def remove(self, replica_id: str) -> None:
        """A clean stop: the replica's row goes. Its workbench claims stay, so the replica that takes one
        over can say the state held there was lost."""
        ...

    async def workbench_owner(self, session_id: str) -> WorkbenchOwner | None: ...

    async def claim_workbench(self, session_id: str, replica_id: str, replacing: str | None) -> bool:
        """Compare-and-set: take the workbench when it has no owner (`replacing` None) or its owner is
        still `replacing`; False when another replica got there first."""
        ...

    async def release_workbench(self, session_id: str) -> None: ...


class LockStore(Protocol):
    def hold(self, name: str, wait_seconds: float) -> AbstractAsyncContextManager[None]:
        """Held against every process on this database until the block ends (a holder that dies lets
        go by itself); `LockTimeout` when not had within `wait_seconds`."""
        ...


class AuditStore(Protocol):
    async def record(self, event: str, actor: str, target: str | None, detail: str | None = None) -> None:
        """An operator's action (console login, logout, revoke); account lifecycle events are written by
        `AccountStore` itself."""
        ...

    async def page(self, after: AuditKey | None, limit: int) -> list[AuditEvent]:
        """Operator actions and account lifecycle events in one list, newest first, after `after`."""
        ...


class ConsoleLoginStore(Protocol):
    """Admin-console logins, kept by the hash of their cookie token so logout ends them on every replica."""

    async def open(self, token_hash: str, expires_at: float) -> None:
        """Also forgets logins that have expired."""
        ...

    async def alive(self, token_hash: str, at: float) -> bool: ...

    async def close(self, token_hash: str) -> None: ...


class VectorStore(Protocol):
    """Embedding vectors of texts, keyed by (model, text digest), so a restart does not re-embed a catalog."""

    async def get_many(self, model: str, digests: Sequence[str]) -> dict[str, bytes]:
        """The stored vectors (float32 bytes) among `digests`, by digest; missing ones are left out."""
        ...

    async def put_many(self, model: str, vectors: Mapping[str, bytes]) -> int:
        """Store vectors by digest (a digest stored before keeps its vector); returns how many were new."""
        ...


class SoleUse(Protocol):
    """Whether this process is its database's only user right now (nobody else can change a row), and
    a number that changes each time it becomes so: what was cached while others could write may be stale."""

    @property
    def held(self) -> bool: ...

    @property
    def generation(self) -> int: ...


class Store(Protocol):
    """One open backend: every concept's store over one database."""

    @property
    def sole_use(self) -> SoleUse: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def accounts(self) -> AccountStore: ...

    @property
    def auth_configs(self) -> AuthConfigStore: ...

    @property
    def executions(self) -> ExecutionStore: ...

    @property
    def memory(self) -> MemoryStore: ...

    @property
    def mcp_clients(self) -> McpClientStore: ...

    @property
    def meta(self) -> ServerMetaStore: ...

    @property
    def upstreams(self) -> UpstreamStore: ...

    @property
    def replicas(self) -> ReplicaStore: ...

    @property
    def locks(self) -> LockStore: ...

    @property
    def audit(self) -> AuditStore: ...

    @property
    def console_logins(self) -> ConsoleLoginStore: ...

    @property
    def vectors(self) -> VectorStore: ...

    async def reencrypt(self, rotate: Callable[[bytes], bytes], meta_keys: Iterable[str] = ()) -> int:
        """Every encrypted value (and the named server-meta values) rewritten by `rotate`, in one
        transaction; returns how many values changed."""
        ...

    async def integrity_problems(self) -> list[str]:
        """What the database's own consistency check reports; empty when sound."""
        ...

    async def aclose(self) -> None:
        """Writes everything still buffered, then closes."""
        ...
