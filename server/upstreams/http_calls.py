"""Tool calls to a Streamable HTTP upstream as plain JSON-RPC POSTs on a shared connection pool.

The SDK `Client` keeps one session per upstream for listing tools and hearing of changes; the calls
themselves skip it: a POST with the right headers is all either protocol era needs per call, and
the SDK client's per-call work would be most of what a proxied call costs. A 2026-07-28 upstream takes
self-contained requests; a handshake-era one gets an `initialize` once per credential, and its
`Mcp-Session-Id` afterwards (a new handshake when the upstream forgets the session). The listing
session shakes hands even with servers that speak both eras (tool-list changes are announced in that
era by every SDK), so the calls' era is settled separately: one `server/discover` per credential, and
the newest era both sides speak (a self-contained request costs a server far less than one in a
handshake-era session, above all a stateless one, which builds a session for every request).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_MODERN_VERSION, MODERN_PROTOCOL_VERSIONS

from server import progress
from server.errors import UpstreamError
from server.jsontext import dumps_bytes, loads
from server.upstreams import tasks
from server.upstreams.http_pool import Answer, AnswerTooLarge, HttpFailure, HttpPool, RequestRefused

CLIENT_INFO = {"name": "concierge", "version": "0.1"}
ACCEPT = "application/json, text/event-stream"
PROGRESS = "notifications/progress"


class HttpCaller:
    """Calls as one credential to one HTTP upstream; `era` is the protocol version the upstream speaks
    (learnt by its listing session), None until known (then the handshake era is used). `for_tasks`: it
    calls tools that run only as tasks (`server/upstreams/tasks.py`), always in the handshake era."""

    def __init__(
        self,
        http: HttpPool,
        upstream: str,
        url: str,
        headers: dict[str, str],
        era: str | None,
        for_tasks: bool = False,
    ) -> None:
        self.http = http
        self.upstream = upstream
        self.url = url
        self.headers = headers
        self.era = era
        self.session_id: str | None = None
        self.in_flight = 0
        self.last_used = time.monotonic()
        self._handshake: str | None = None  # the negotiated handshake-era version, once done
        self.for_tasks = for_tasks
        self._settled = for_tasks  # whether the calls' era is known (see `_settle_era`)
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    @property
    def modern(self) -> bool:
        return self.era in MODERN_PROTOCOL_VERSIONS

    async def call(self, tool_name: str, arguments: dict[str, Any], limit_seconds: float) -> Any:
        """The result in wire form, as the upstream sent it (`conversion.result_data` reads it)."""
        try:
            async with asyncio.timeout(limit_seconds):
                if self.for_tasks:
                    return await tasks.call_as_task(self._result, self.upstream, tool_name, arguments, limit_seconds)
                params = {"name": tool_name, "arguments": arguments}
                return await self._result("tools/call", params, tool_name, progress.current())
        except TimeoutError:
            raise UpstreamError(
                f"upstream MCP server {self.upstream!r} did not answer {tool_name!r} within {limit_seconds:g} s",
                {"upstream": self.upstream, "timeout_seconds": limit_seconds},
            ) from None
        except HttpFailure as exc:
            raise UpstreamError(
                f"upstream MCP server {self.upstream!r} {_problem(exc)}: {exc}", {"upstream": self.upstream}
            ) from None

    async def _result(
        self, method: str, params: dict[str, Any], name: str | None = None, report: progress.Report | None = None
    ) -> Any:
        message = await self._request(method, params, name, report)
        if "error" in message:
            error = message["error"] or {}
            raise UpstreamError(
                f"upstream MCP server {self.upstream!r} refused the call: {error.get('message') or error}",
                {"upstream": self.upstream, "jsonrpc_code": error.get("code")},
            )
        return message.get("result")

    async def _request(
        self, method: str, params: dict[str, Any], name: str | None = None, report: progress.Report | None = None
    ) -> dict[str, Any]:
        if not self._settled:
            await self._settle_era()
        if not self.modern:
            await self._initialize()
        answer = await self._post(method, params, name, report=report)
        if answer is None and not self.modern:  # the upstream forgot our session: shake hands again
            self._handshake = None
            await self._initialize()
            answer = await self._post(method, params, name, report=report)
        if answer is None:
            raise UpstreamError(
                f"upstream MCP server {self.upstream!r} does not know this session", {"upstream": self.upstream}
            )
        return answer

    async def _settle_era(self) -> None:
        async with self._lock:
            if self._settled:
                return
            if not self.modern:
                self.era = await self._discover() or self.era
            self._settled = True

    async def _discover(self) -> str | None:
        """The 2026-era version when the upstream takes it, or None for a handshake-only server (it refuses
        `server/discover` in some way: an unknown method, a 400 for a request without a session, ...).
        A refused credential or an unreachable server is the call's error, not an answer."""
        try:
            answer = await self._post("server/discover", {}, era=LATEST_MODERN_VERSION)
        except UpstreamError as exc:
            if exc.details.get("status") in (401, 403):
                raise
            return None
        result = (answer or {}).get("result")
        if not isinstance(result, dict):
            return None
        supported = result.get("supportedVersions")
        return LATEST_MODERN_VERSION if not isinstance(supported, list) or LATEST_MODERN_VERSION in supported else None

    async def _initialize(self) -> None:
        async with self._lock:
            if self._handshake is not None:
                return
            self.session_id = None
            params = {"protocolVersion": HANDSHAKE_PROTOCOL_VERSIONS[-1], "capabilities": {}, "clientInfo": CLIENT_INFO}
            answer = await self._post("initialize", params, handshake=True)
            result = (answer or {}).get("result")
            if not isinstance(result, dict):
                raise UpstreamError(
                    f"upstream MCP server {self.upstream!r} refused the handshake: {(answer or {}).get('error')}",
                    {"upstream": self.upstream},
                )
            self._handshake = str(result.get("protocolVersion") or HANDSHAKE_PROTOCOL_VERSIONS[-1])
            await self._post("notifications/initialized", None)

    def _headers(self, method: str, name: str | None, era: str | None) -> dict[str, str]:
        headers = {**self.headers, "accept": ACCEPT, "content-type": "application/json"}
        if era in MODERN_PROTOCOL_VERSIONS:
            assert era is not None
            headers |= {"mcp-protocol-version": era, "mcp-method": method} | ({"mcp-name": name} if name else {})
        else:
            if self._handshake:
                headers["mcp-protocol-version"] = self._handshake
            if self.session_id:
                headers["mcp-session-id"] = self.session_id
        return headers

    async def _post(
        self,
        method: str,
        params: dict[str, Any] | None,
        name: str | None = None,
        *,
        handshake: bool = False,
        era: str | None = None,
        report: progress.Report | None = None,
    ) -> dict[str, Any] | None:
        """The JSON-RPC answer to one request (None: the upstream does not know our session; {} for a
        notification), in the calls' era unless `era` says otherwise. With `report`, the upstream is
        asked for progress (the request's id is the token) and what it sends before answering goes there.
        A request given up on is cancelled: in the 2026-07-28 era closing its connection says so, in the
        handshake era (where a dropped connection does not) a `notifications/cancelled` does."""
        era = era or self.era
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        request_id = None
        if not method.startswith("notifications/"):
            request_id = body["id"] = next(self._ids)
        if params is not None:
            meta: dict[str, Any] = {"progressToken": request_id} if report is not None else {}
            if era in MODERN_PROTOCOL_VERSIONS:
                meta |= {
                    "io.modelcontextprotocol/protocolVersion": era,
                    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            body["params"] = {**params, "_meta": meta} if meta else params
        try:
            async with self.http.post(self.url, dumps_bytes(body), self._headers(method, name, era)) as response:
                return await self._answer(response, request_id, handshake, report)
        except asyncio.CancelledError:  # given up on (its time ran out, its caller went away)
            if method == "tools/call" and era not in MODERN_PROTOCOL_VERSIONS:
                tasks.in_background(self._post("notifications/cancelled", {"requestId": request_id}))
            raise

    async def _answer(
        self, response: Answer, request_id: int | None, handshake: bool, report: progress.Report | None
    ) -> dict[str, Any] | None:
        """What `_post` returns, read from the upstream's answer."""
        if handshake and "mcp-session-id" in response.headers:
            self.session_id = response.headers["mcp-session-id"]
        if response.status == 404 and self.session_id and not handshake:
            return None
        if response.status in (401, 403):
            raise UpstreamError(
                f"upstream MCP server {self.upstream!r} refused the credential "
                f"(HTTP {response.status}); reconnect the account",
                {"upstream": self.upstream, "status": response.status},
            )
        if request_id is None:
            return {}
        if response.status >= 400 and "json" not in response.headers.get("content-type", ""):
            text = (await response.text())[:300]
            raise UpstreamError(
                f"upstream MCP server {self.upstream!r} answered HTTP {response.status}: {text}",
                {"upstream": self.upstream, "status": response.status},
            )
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return await _answer_in_stream(response.lines(), request_id, report)
        message = loads(await response.read())
        return message if isinstance(message, dict) else {}


def _problem(failure: HttpFailure) -> str:
    if isinstance(failure, RequestRefused):
        return "cannot be called"
    if isinstance(failure, AnswerTooLarge):
        return "sent too large an answer (execution.http_max_response_bytes)"
    return "cannot be reached"


async def _answer_in_stream(
    lines: AsyncIterator[bytes], request_id: int, report: progress.Report | None
) -> dict[str, Any]:
    """The message answering `request_id` in a server-sent event stream; progress for it before the
    answer goes to `report`, other notifications are passed over."""
    data: list[bytes] = []
    async for raw in lines:
        line = raw.rstrip(b"\r\n")
        if line.startswith(b"data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            payload, data = b"\n".join(data), []
            try:
                message = loads(payload)
            except ValueError:  # a priming event (an id and no data) or a comment
                continue
            if not isinstance(message, dict):
                continue
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message
            if report is not None and message.get("method") == PROGRESS:
                await _pass_on(report, message.get("params"), request_id)
    return {"error": {"message": "the upstream closed the stream without answering"}}


async def _pass_on(report: progress.Report, params: Any, request_id: int) -> None:
    """An upstream's progress for our request, if well-formed (numbers, an optional text)."""
    if not isinstance(params, dict) or params.get("progressToken") != request_id:
        return
    done, total, message = _number(params.get("progress")), params.get("total"), params.get("message")
    if done is None or (total is not None and _number(total) is None) or not isinstance(message, str | None):
        return
    await report(done, _number(total), message)


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
