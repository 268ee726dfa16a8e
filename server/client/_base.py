"""Everything the sync and async clients share, written once as I/O-free generators.

Each operation is a generator ("op") that yields what it needs done, an `httpx.Request` to send or a
`Pause` to wait, and receives the `httpx.Response` (or the `httpx.TransportError`) back. Building
requests, retrying, mapping errors, parsing into the server's models and multi-step flows (a model's
tool calls, waiting for a connection) live here; `Concierge` and `AsyncConcierge` only drive ops,
with blocking or awaiting I/O. This is how httpx's Client/AsyncClient share a base without code
being written twice.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote

import httpx

from server.client import providers
from server.client.errors import (
    AccountNotActiveError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    WaitTimeoutError,
    error_for,
)
from server.client.models import (
    AccountListOut,
    AccountOut,
    AuthConfigListOut,
    AuthConfigOut,
    ConnectionRequestOut,
    EnvelopeOut,
    McpInfo,
    RevokeOut,
    SessionListOut,
    SessionOut,
    SessionToolkitListOut,
    SessionToolkitOut,
    ToolListingOut,
    ToolListingsOut,
    ToolResult,
)

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"
# Tool calls may legitimately run for minutes (workbench cells); a dead server is noticed by `connect`.
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=5.0)
DEFAULT_MAX_RETRIES = 4
SEARCH_TOOL = "COMPOSIO_SEARCH_TOOLS"
MULTI_EXECUTE_TOOL = "COMPOSIO_MULTI_EXECUTE_TOOL"
# INACTIVE is not final: such an account can become ACTIVE again.
FINAL_ACCOUNT_STATES = frozenset({"FAILED", "EXPIRED", "REVOKED"})


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


Effect: TypeAlias = httpx.Request | Pause
Op: TypeAlias = Generator[Effect, Any, T]


def segment(value: str) -> str:
    """An id as one path segment, so `../` in an id cannot reach another endpoint."""
    return quote(value, safe="")


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential backoff and jitter, only where repeating the request is safe.

    A connection refused or dropped before any answer (a restarting server) is retried for every
    method, as the OpenAI and Anthropic SDKs do. A read or write timeout only for idempotent methods:
    the server may still be running that POST. Likewise 5xx: any for GET/PUT/DELETE, only 503
    ("not now", nothing done) for POST/PATCH, whose 500/502 may follow a tool that already ran.
    4xx are the caller's to fix and never retried.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: float = 0.25
    max_backoff: float = 8.0

    IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

    def delay(self, method: str, attempt: int, outcome: httpx.Response | httpx.TransportError) -> float | None:
        """Seconds to wait before the next attempt, or None to stop and report `outcome`."""
        if attempt >= self.max_retries or not self._retryable(method in self.IDEMPOTENT, outcome):
            return None
        retry_after = outcome.headers.get("retry-after", "") if isinstance(outcome, httpx.Response) else ""
        if retry_after.isdigit():
            return min(float(retry_after), self.max_backoff)
        return min(self.backoff * 2**attempt, self.max_backoff) * random.uniform(0.75, 1.25)

    @staticmethod
    def _retryable(idempotent: bool, outcome: httpx.Response | httpx.TransportError) -> bool:
        if isinstance(outcome, httpx.Response):
            return outcome.status_code == 503 or (idempotent and outcome.status_code >= 500)
        if isinstance(outcome, httpx.ReadTimeout | httpx.WriteTimeout):
            return idempotent
        return True


def _api_error(response: httpx.Response) -> APIError:
    try:
        body = response.json()["error"]
        return error_for(body["code"], body["message"], body.get("details"), response.status_code)
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:300] or response.reason_phrase
        return error_for(f"http_{response.status_code}", text, None, response.status_code)


def envelope_error(envelope: EnvelopeOut) -> APIError:
    """A failed meta tool call as the same typed error the REST API would raise for its code."""
    data = envelope.data if isinstance(envelope.data, dict) else {}
    details = {k: v for k, v in data.items() if k != "error_code"}
    return error_for(str(data.get("error_code", "tool_error")), envelope.error or "tool call failed", details)


class ClientCore:
    """Configuration, request building, retries and error mapping for both clients."""

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self, base_url: str | None, api_key: str | None, max_retries: int, provider: providers.Provider | None
    ) -> None:
        try:
            providers.check_provider(provider)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.provider = provider
        base = base_url or os.environ.get("CONCIERGE_BASE_URL") or DEFAULT_BASE_URL
        key = api_key or os.environ.get("CONCIERGE_API_KEY")
        if not key:
            raise ConfigurationError(
                "no API key: pass api_key= or set CONCIERGE_API_KEY to the admin key `concierge serve` printed"
            )
        self.base_url = base.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}", "User-Agent": "concierge-python"}
        self.retry = RetryPolicy(max_retries=max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None) -> Op[Any]:
        """One REST call with retries: the parsed JSON body, None for 204, or a typed exception."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        request = self._http.build_request(
            method, f"{self.base_url}{API_PREFIX}{path}", params=query or None, json=json, headers=self._headers
        )
        attempt = 0
        outcome = yield request
        while (delay := self.retry.delay(method, attempt, outcome)) is not None:
            yield Pause(delay)
            attempt += 1
            outcome = yield request
        return self._result(outcome)

    def _result(self, outcome: httpx.Response | httpx.TransportError) -> Any:
        if isinstance(outcome, httpx.TimeoutException):
            raise APITimeoutError(f"{self.base_url} did not answer in time: {outcome!r}") from outcome
        if isinstance(outcome, httpx.TransportError):
            raise APIConnectionError(
                f"cannot reach Concierge at {self.base_url}: {outcome!r}; is `concierge serve` running?"
            ) from outcome
        if outcome.is_success:
            return outcome.json() if outcome.content else None
        raise _api_error(outcome)

    def _create_session(self, user_id: str, options: dict[str, Any]) -> Op[SessionOut]:
        data = yield from self._request("POST", "/sessions", json={"user_id": user_id, **options})
        return SessionOut.model_validate(data)

    def _get_session(self, session_id: str) -> Op[SessionOut]:
        data = yield from self._request("GET", f"/sessions/{segment(session_id)}")
        return SessionOut.model_validate(data)


class _Resource:
    """One group of endpoints (`concierge.sessions`, `.connected_accounts`, `.auth_configs`)."""

    def __init__(self, client: ClientCore) -> None:
        self._client = client


class SessionsBase(_Resource):
    def _list(self, user_id: str, limit: int, offset: int) -> Op[list[SessionOut]]:
        data = yield from self._client._request(
            "GET", "/sessions", params={"user_id": user_id, "limit": limit, "offset": offset}
        )
        return SessionListOut.model_validate(data).items

    def _delete(self, session_id: str) -> Op[None]:
        yield from self._client._request("DELETE", f"/sessions/{segment(session_id)}")


class ConnectedAccountsBase(_Resource):
    def _list(self, user_id: str | None, toolkit: str | None) -> Op[list[AccountOut]]:
        data = yield from self._client._request(
            "GET", "/connected_accounts", params={"user_id": user_id, "toolkit": toolkit}
        )
        return AccountListOut.model_validate(data).items

    def _get(self, account_id: str) -> Op[AccountOut]:
        data = yield from self._client._request("GET", f"/connected_accounts/{segment(account_id)}")
        return AccountOut.model_validate(data)

    def _delete(self, account_id: str) -> Op[None]:
        yield from self._client._request("DELETE", f"/connected_accounts/{segment(account_id)}")

    def _revoke(self, account_id: str) -> Op[RevokeOut]:
        data = yield from self._client._request("POST", f"/connected_accounts/{segment(account_id)}/revoke")
        return RevokeOut.model_validate(data)


class AuthConfigsBase(_Resource):
    def _list(self, toolkit: str | None) -> Op[list[AuthConfigOut]]:
        data = yield from self._client._request("GET", "/auth_configs", params={"toolkit": toolkit})
        return AuthConfigListOut.model_validate(data).items

    def _get(self, auth_config_id: str) -> Op[AuthConfigOut]:
        data = yield from self._client._request("GET", f"/auth_configs/{segment(auth_config_id)}")
        return AuthConfigOut.model_validate(data)

    def _create(self, fields: dict[str, Any]) -> Op[AuthConfigOut]:
        data = yield from self._client._request("POST", "/auth_configs", json=fields)
        return AuthConfigOut.model_validate(data)

    def _update(self, auth_config_id: str, fields: dict[str, Any]) -> Op[AuthConfigOut]:
        data = yield from self._client._request("PATCH", f"/auth_configs/{segment(auth_config_id)}", json=fields)
        return AuthConfigOut.model_validate(data)

    def _delete(self, auth_config_id: str) -> Op[None]:
        yield from self._client._request("DELETE", f"/auth_configs/{segment(auth_config_id)}")


class SessionBase:
    """A session as last seen by the client (`data`), and the operations on it."""

    def __init__(self, client: ClientCore, data: SessionOut) -> None:
        self._client = client
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, user_id={self.user_id!r}, config_version={self.config_version})"

    @property
    def id(self) -> str:
        return self.data.id

    @property
    def user_id(self) -> str:
        return self.data.user_id

    @property
    def mcp(self) -> McpInfo:
        """`mcp.url` (and `mcp.headers`) for any MCP client: the same session as `tools()`."""
        return self.data.mcp

    @property
    def config(self) -> dict[str, Any]:
        return self.data.config

    @property
    def config_version(self) -> int:
        return self.data.config_version

    @property
    def warnings(self) -> list[str]:
        return self.data.warnings

    @property
    def _path(self) -> str:
        return f"/sessions/{segment(self.id)}"

    def _load(self, method: str, body: dict[str, Any] | None = None) -> Op[None]:
        data = yield from self._client._request(method, self._path, json=body)
        self.data = SessionOut.model_validate(data)

    def _update(self, options: dict[str, Any], expected_config_version: int | None) -> Op[None]:
        body = dict(options)
        if expected_config_version is not None:
            body["expected_config_version"] = expected_config_version
        yield from self._load("PATCH", body)

    def _delete(self) -> Op[None]:
        yield from self._client._request("DELETE", self._path)

    def _provider(self, provider: providers.Provider | None) -> providers.Provider | None:
        chosen = provider or self._client.provider
        providers.check_provider(chosen)
        return chosen

    def _tools(self, provider: providers.Format | None) -> Op[list[dict[str, Any]]]:
        listings = yield from self._listings()
        return providers.format_tools(listings, provider)

    def _listings(self) -> Op[list[ToolListingOut]]:
        data = yield from self._client._request("GET", f"{self._path}/tools")
        return ToolListingsOut.model_validate(data).items

    def _call(self, name: str, arguments: dict[str, Any]) -> Op[EnvelopeOut]:
        data = yield from self._client._request(
            "POST", f"{self._path}/tools/{segment(name)}", json={"arguments": arguments}
        )
        return EnvelopeOut.model_validate(data)

    def _search(self, query: str | Sequence[str]) -> Op[dict[str, Any]]:
        use_cases = [query] if isinstance(query, str) else list(query)
        envelope = yield from self._call(SEARCH_TOOL, {"queries": [{"use_case": q} for q in use_cases]})
        if not envelope.successful:
            raise envelope_error(envelope)
        return envelope.data

    def _execute(self, name: str, arguments: dict[str, Any], account: str | None) -> Op[ToolResult]:
        # The session's own tools (meta tools, preloaded tools) are called by name; a catalog slug
        # goes through MULTI_EXECUTE, which checks it against the filter and names close slugs if wrong.
        if name in self.data.tools and account is None:
            envelope = yield from self._call(name, arguments)
            return ToolResult.model_validate(envelope.model_dump())
        call: dict[str, Any] = {"tool_slug": name, "arguments": arguments}
        if account is not None:
            call["account"] = account
        envelope = yield from self._call(MULTI_EXECUTE_TOOL, {"tools": [call]})
        results = envelope.data.get("results") if isinstance(envelope.data, dict) else None
        if not results:
            return ToolResult.model_validate(envelope.model_dump())
        first = results[0]
        if first.get("response") is not None:
            return ToolResult.model_validate(first["response"])
        return ToolResult(
            data=None, error=first.get("error"), successful=False, error_details=first.get("error_details")
        )

    def _handle_tool_calls(self, response: Any) -> Op[list[dict[str, Any]]]:
        calls = providers.tool_calls(response)
        results: list[ToolResult] = []
        for call in calls:
            if call.problem is not None:
                results.append(ToolResult(data=None, error=call.problem, successful=False))
            else:
                results.append((yield from self._execute(call.name, call.arguments, None)))
        return providers.result_messages(calls, results)

    def _authorize(self, toolkit: str, callback_url: str | None, alias: str | None) -> Op[ConnectionRequestOut]:
        body = {
            k: v for k, v in {"toolkit": toolkit, "callback_url": callback_url, "alias": alias}.items() if v is not None
        }
        data = yield from self._client._request("POST", f"{self._path}/authorize", json=body)
        return ConnectionRequestOut.model_validate(data)

    def _toolkits(self, search: str | None, is_connected: bool | None) -> Op[list[SessionToolkitOut]]:
        data = yield from self._client._request(
            "GET", f"{self._path}/toolkits", params={"search": search, "is_connected": is_connected}
        )
        return SessionToolkitListOut.model_validate(data).items


class ConnectionRequestBase:
    """A Connect Link for one pending connected account (`id`); show `redirect_url` to the user."""

    def __init__(self, client: ClientCore, data: ConnectionRequestOut) -> None:
        self._client = client
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, status={self.status!r})"

    @property
    def id(self) -> str:
        """The pending connected account's id (`ca_...`)."""
        return self.data.connected_account_id

    @property
    def redirect_url(self) -> str:
        return self.data.redirect_url

    @property
    def status(self) -> str:
        return self.data.status

    def _wait(self, timeout: float, poll_interval: float) -> Op[AccountOut]:
        deadline = time.monotonic() + timeout
        path = f"/connected_accounts/{segment(self.id)}"
        while True:
            account = AccountOut.model_validate((yield from self._client._request("GET", path)))
            self.data = self.data.model_copy(update={"status": account.status})
            if account.status == "ACTIVE":
                return account
            if account.status in FINAL_ACCOUNT_STATES:
                raise AccountNotActiveError(account)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(account, timeout)
            yield Pause(min(poll_interval, remaining))
