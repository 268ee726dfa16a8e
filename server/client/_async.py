"""The async client: `AsyncConcierge` and friends, the awaitable twins of `_sync`'s classes with the
same methods and meaning (see their docstrings). Logic lives in `_base`; this file only awaits I/O.
Runs on asyncio or trio (through anyio)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

import anyio
import httpx

from server.client import adapters, providers
from server.client._base import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AuthConfigsBase,
    ClientCore,
    ConnectedAccountsBase,
    ConnectionRequestBase,
    Op,
    Pause,
    SessionBase,
    SessionsBase,
    T,
)
from server.client.models import AccountOut, AuthConfigOut, EnvelopeOut, RevokeOut, SessionToolkitOut, ToolResult


class AsyncConcierge(ClientCore):
    """Async twin of `Concierge`; use `async with AsyncConcierge(...) as concierge:` or `await aclose()`."""

    _http: httpx.AsyncClient

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        provider: providers.Provider | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, max_retries, provider)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.sessions = AsyncSessions(self)
        self.connected_accounts = AsyncConnectedAccounts(self)
        self.auth_configs = AsyncAuthConfigs(self)

    async def _run(self, op: Op[T]) -> T:
        reply: Any = None
        while True:
            try:
                effect = op.send(reply)
            except StopIteration as done:
                return done.value
            if isinstance(effect, Pause):
                await anyio.sleep(effect.seconds)
                reply = None
                continue
            try:
                reply = await self._http.send(effect)
            except httpx.TransportError as exc:
                reply = exc

    async def create(self, user_id: str, **options: Any) -> AsyncSession:
        return AsyncSession(self, await self._run(self._create_session(user_id, options)))

    async def use(self, session_id: str) -> AsyncSession:
        return AsyncSession(self, await self._run(self._get_session(session_id)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncConcierge:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncSessions(SessionsBase):
    _client: AsyncConcierge

    async def list(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[AsyncSession]:
        return [AsyncSession(self._client, s) for s in await self._client._run(self._list(user_id, limit, offset))]

    async def get(self, session_id: str) -> AsyncSession:
        return await self._client.use(session_id)

    async def delete(self, session_id: str) -> None:
        await self._client._run(self._delete(session_id))


class AsyncConnectedAccounts(ConnectedAccountsBase):
    _client: AsyncConcierge

    async def list(self, *, user_id: str | None = None, toolkit: str | None = None) -> list[AccountOut]:
        return await self._client._run(self._list(user_id, toolkit))

    async def get(self, account_id: str) -> AccountOut:
        return await self._client._run(self._get(account_id))

    async def delete(self, account_id: str) -> None:
        await self._client._run(self._delete(account_id))

    async def revoke(self, account_id: str) -> RevokeOut:
        return await self._client._run(self._revoke(account_id))


class AsyncAuthConfigs(AuthConfigsBase):
    _client: AsyncConcierge

    async def list(self, *, toolkit: str | None = None) -> list[AuthConfigOut]:
        return await self._client._run(self._list(toolkit))

    async def get(self, auth_config_id: str) -> AuthConfigOut:
        return await self._client._run(self._get(auth_config_id))

    async def create(self, toolkit: str, **fields: Any) -> AuthConfigOut:
        return await self._client._run(self._create({"toolkit": toolkit, **fields}))

    async def update(self, auth_config_id: str, **fields: Any) -> AuthConfigOut:
        return await self._client._run(self._update(auth_config_id, fields))

    async def delete(self, auth_config_id: str) -> None:
        await self._client._run(self._delete(auth_config_id))


class AsyncSession(SessionBase):
    """Async twin of `Session`."""

    _client: AsyncConcierge

    async def update(self, *, expected_config_version: int | None = None, **options: Any) -> AsyncSession:
        await self._client._run(self._update(options, expected_config_version))
        return self

    async def refresh(self) -> AsyncSession:
        await self._client._run(self._load("GET"))
        return self

    async def delete(self) -> None:
        await self._client._run(self._delete())

    async def tools(self, provider: providers.Provider | None = None) -> list[Any]:
        """As `Session.tools`; framework tools from an async session run when awaited (`ainvoke`,
        `acall`, async agents)."""
        chosen = self._provider(provider)
        if chosen in adapters.FRAMEWORKS:
            listings = await self._client._run(self._listings())
            return adapters.framework_tools(chosen, listings, self._runner())
        return await self._client._run(self._tools(cast(providers.Format | None, chosen)))

    def _runner(self) -> adapters.Runner:
        async def acall(name: str, arguments: dict[str, Any]) -> str:
            return providers.result_text(await self.execute(name, arguments))

        return adapters.Runner(call=None, acall=acall)

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> EnvelopeOut:
        return await self._client._run(self._call(name, arguments or {}))

    async def search(self, query: str | Sequence[str]) -> dict[str, Any]:
        return await self._client._run(self._search(query))

    async def execute(
        self, name: str, arguments: dict[str, Any] | None = None, *, account: str | None = None
    ) -> ToolResult:
        return await self._client._run(self._execute(name, arguments or {}, account))

    async def handle_tool_calls(self, response: Any) -> list[dict[str, Any]]:
        return await self._client._run(self._handle_tool_calls(response))

    async def authorize(
        self, toolkit: str, *, callback_url: str | None = None, alias: str | None = None
    ) -> AsyncConnectionRequest:
        request = await self._client._run(self._authorize(toolkit, callback_url, alias))
        return AsyncConnectionRequest(self._client, request)

    async def toolkits(self, *, search: str | None = None, is_connected: bool | None = None) -> list[SessionToolkitOut]:
        return await self._client._run(self._toolkits(search, is_connected))


class AsyncConnectionRequest(ConnectionRequestBase):
    """Async twin of `ConnectionRequest`."""

    _client: AsyncConcierge

    # `timeout` (not anyio.fail_after) keeps the sync signature, and expiry raises WaitTimeoutError
    # carrying the account's last state, which a cancelled scope could not.
    async def wait_for_connection(
        self,
        timeout: float = 120.0,  # noqa: ASYNC109
        poll_interval: float = 1.0,
    ) -> AccountOut:
        return await self._client._run(self._wait(timeout, poll_interval))
