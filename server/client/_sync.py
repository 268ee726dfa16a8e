"""The blocking client: `Concierge`, its sessions and resources. Logic lives in `_base`; this file only
runs its operations with blocking I/O."""

from __future__ import annotations

import time
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


class Concierge(ClientCore):
    """Client for a Concierge server's REST API.

    `base_url` and `api_key` default to `CONCIERGE_BASE_URL` (else http://127.0.0.1:8000) and
    `CONCIERGE_API_KEY`. Pass `http_client` for proxies, TLS settings or a custom transport; its own
    timeout then applies.
    """

    _http: httpx.Client

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        provider: providers.Provider | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, max_retries, provider)
        self._http = http_client or httpx.Client(timeout=timeout)
        self.sessions = Sessions(self)
        self.connected_accounts = ConnectedAccounts(self)
        self.auth_configs = AuthConfigs(self)

    def _run(self, op: Op[T]) -> T:
        reply: Any = None
        while True:
            try:
                effect = op.send(reply)
            except StopIteration as done:
                return done.value
            if isinstance(effect, Pause):
                time.sleep(effect.seconds)
                reply = None
                continue
            try:
                reply = self._http.send(effect)
            except httpx.TransportError as exc:
                reply = exc

    def create(self, user_id: str, **options: Any) -> Session:
        """A new session (a fresh task context) for `user_id`; options as in the REST API
        (`toolkits`, `tools`, `tags`, `auth_configs`, `connected_accounts`, `manage_connections`,
        `multi_account`, `workbench`, `preload`, `session_preset`)."""
        return Session(self, self._run(self._create_session(user_id, options)))

    def use(self, session_id: str) -> Session:
        """An existing session, e.g. one whose id was stored for a multi-turn conversation."""
        return Session(self, self._run(self._get_session(session_id)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Concierge:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Sessions(SessionsBase):
    _client: Concierge

    def list(self, user_id: str, *, limit: int = 100, offset: int = 0) -> list[Session]:
        """The user's sessions, newest first."""
        return [Session(self._client, s) for s in self._client._run(self._list(user_id, limit, offset))]

    def get(self, session_id: str) -> Session:
        return self._client.use(session_id)

    def delete(self, session_id: str) -> None:
        self._client._run(self._delete(session_id))


class ConnectedAccounts(ConnectedAccountsBase):
    _client: Concierge

    def list(self, *, user_id: str | None = None, toolkit: str | None = None) -> list[AccountOut]:
        return self._client._run(self._list(user_id, toolkit))

    def get(self, account_id: str) -> AccountOut:
        return self._client._run(self._get(account_id))

    def delete(self, account_id: str) -> None:
        self._client._run(self._delete(account_id))

    def revoke(self, account_id: str) -> RevokeOut:
        """Revoke the credential (at the provider too, when it supports that); the account stays, REVOKED."""
        return self._client._run(self._revoke(account_id))


class AuthConfigs(AuthConfigsBase):
    _client: Concierge

    def list(self, *, toolkit: str | None = None) -> list[AuthConfigOut]:
        return self._client._run(self._list(toolkit))

    def get(self, auth_config_id: str) -> AuthConfigOut:
        return self._client._run(self._get(auth_config_id))

    def create(self, toolkit: str, **fields: Any) -> AuthConfigOut:
        """A custom auth config for `toolkit`: `auth_scheme`, `credentials` (your OAuth app), `scopes`, ..."""
        return self._client._run(self._create({"toolkit": toolkit, **fields}))

    def update(self, auth_config_id: str, **fields: Any) -> AuthConfigOut:
        return self._client._run(self._update(auth_config_id, fields))

    def delete(self, auth_config_id: str) -> None:
        self._client._run(self._delete(auth_config_id))


class Session(SessionBase):
    """One session: its MCP URL, its tools in a provider's format, and calls made through it."""

    _client: Concierge

    def update(self, *, expected_config_version: int | None = None, **options: Any) -> Session:
        """Change only the given options (None removes an override; maps are replaced whole).

        With `expected_config_version`, a concurrent change raises ConflictError instead of being
        overwritten. The id, MCP URL and workbench stay the same.
        """
        self._client._run(self._update(options, expected_config_version))
        return self

    def refresh(self) -> Session:
        """Reload the session from the server (another process may have updated it)."""
        self._client._run(self._load("GET"))
        return self

    def delete(self) -> None:
        self._client._run(self._delete())

    def tools(self, provider: providers.Provider | None = None) -> list[Any]:
        """The session's tools for `provider`, else the client's `provider=`, else as plain JSON Schema
        listings. Formats ("openai", "openai_responses", "anthropic") are dicts; frameworks
        ("langchain", "openai_agents", "gemini", "llamaindex") get their own tool objects, which run
        through this session when the framework calls them. Fetched each time, so they reflect the
        latest `update()`."""
        chosen = self._provider(provider)
        if chosen in adapters.FRAMEWORKS:
            listings = self._client._run(self._listings())
            return adapters.framework_tools(chosen, listings, self._runner())
        return self._client._run(self._tools(cast(providers.Format | None, chosen)))

    def _runner(self) -> adapters.Runner:
        def call(name: str, arguments: dict[str, Any]) -> str:
            return providers.result_text(self.execute(name, arguments))

        async def acall(name: str, arguments: dict[str, Any]) -> str:
            return await anyio.to_thread.run_sync(call, name, arguments)

        return adapters.Runner(call=call, acall=acall)

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> EnvelopeOut:
        """Call one of the session's own tools (a meta tool) and get its `{data, error, successful}`."""
        return self._client._run(self._call(name, arguments or {}))

    def search(self, query: str | Sequence[str]) -> dict[str, Any]:
        """COMPOSIO_SEARCH_TOOLS for one use case (or several): ranked tools, schemas, connection status."""
        return self._client._run(self._search(query))

    def execute(self, name: str, arguments: dict[str, Any] | None = None, *, account: str | None = None) -> ToolResult:
        """Run a meta tool by name or a catalog tool by slug. A failing tool is a result with
        `successful=False`, not an exception: it is information for the agent."""
        return self._client._run(self._execute(name, arguments or {}, account))

    def handle_tool_calls(self, response: Any) -> list[dict[str, Any]]:
        """Run a model's tool calls through this session and return the messages to append to the
        conversation, in the provider's shape (OpenAI chat, Responses, one Anthropic user message, or
        one Gemini user turn of function responses).

        `response` is a completion, Responses result, Anthropic message, Gemini response, a message or a
        list of tool calls, as plain dicts or openai/anthropic/google-genai SDK objects.
        """
        return self._client._run(self._handle_tool_calls(response))

    def authorize(
        self, toolkit: str, *, callback_url: str | None = None, alias: str | None = None
    ) -> ConnectionRequest:
        """Start connecting `toolkit` for this session's user; show `redirect_url` to the user."""
        return ConnectionRequest(self._client, self._client._run(self._authorize(toolkit, callback_url, alias)))

    def toolkits(self, *, search: str | None = None, is_connected: bool | None = None) -> list[SessionToolkitOut]:
        """The toolkits this session allows, with the user's connection state for each."""
        return self._client._run(self._toolkits(search, is_connected))


class ConnectionRequest(ConnectionRequestBase):
    _client: Concierge

    def wait_for_connection(self, timeout: float = 120.0, poll_interval: float = 1.0) -> AccountOut:
        """Block until the user finished the Connect Link: the ACTIVE account. Raises
        AccountNotActiveError if it failed or expired, WaitTimeoutError after `timeout` seconds."""
        return self._client._run(self._wait(timeout, poll_interval))
