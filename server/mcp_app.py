"""The MCP side: one low-level `Server` for every session, served per path `/mcp/{session_id}`
(Streamable HTTP, both protocol eras) and over stdio.

The SDK manager runs stateless, so a restart never breaks a client. For initialize-era clients we
still mint an `Mcp-Session-Id`, record it in SQLite bound to the session's path, and keep serving it
after a restart; an id minted for one session is refused on another.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import mcp.types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Message, Receive, Scope, Send

from server import jsontext
from server.api import session_token
from server.api.errors import error_headers
from server.config import Settings
from server.errors import ConciergeError, InvalidInput, NotFound, PayloadTooLarge, Unauthorized
from server.limits.jsonlimits import check_argument_size, check_depth
from server.mcp_cancel import CANCELLED
from server.mcp_fastpath import FastToolCalls
from server.mcp_stdio import StdioChannel
from server.mcp_tools import ToolCalls
from server.mcp_wire import json_response, jsonrpc_error
from server.meta_tools.registry import ToolSurface
from server.runtime import Runtime

if TYPE_CHECKING:
    from server.api.endpoint import ApiState

log = logging.getLogger("concierge.mcp")

MCP_SESSION_HEADER = b"mcp-session-id"
PROTOCOL_VERSION_HEADER = b"mcp-protocol-version"
UNVERSIONED = "2025-03-26"  # the spec's assumption for a request without MCP-Protocol-Version
BATCH_VERSIONS = ("2025-03-26",)  # added JSON-RPC batches; 2025-06-18 removed them again
MINIMAL_SCHEMA: dict[str, Any] = {"type": "object"}
INSTRUCTIONS = (
    "Concierge gives you tools through a few meta tools. Workflow: 1) COMPOSIO_SEARCH_TOOLS with the user's task; "
    "2) if a toolkit is not connected, COMPOSIO_MANAGE_CONNECTIONS and show the user the link; "
    "3) COMPOSIO_MULTI_EXECUTE_TOOL with the tools found; 4) for large data, COMPOSIO_REMOTE_WORKBENCH."
)

SessionResolver = Callable[[Any], str]


def build_mcp_server(calls: ToolCalls, session_of: SessionResolver) -> Server:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return await calls.listing(session_of(ctx))

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return cast(types.CallToolResult, await calls.call(session_of(ctx), params.name, params.arguments))

    def input_schema(name: str) -> dict[str, Any] | None:
        """The SDK reads this only to find `x-mcp-header` parameters (we declare none); the full schema
        would be walked twice on every call for nothing. Arguments are validated by each meta tool."""
        return MINIMAL_SCHEMA

    return Server(
        "concierge",
        version="0.1.0",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=input_schema,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def security_settings(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding guard (MCP transport security): only our own host names, and pages served from our
    own origin, plus configured ones, may address the server. A page on another local port is another
    origin: a browser tab on `http://localhost:3000` must not drive the tools."""
    hosts = {
        f"{settings.host}:{settings.port}",
        f"127.0.0.1:{settings.port}",
        f"localhost:{settings.port}",
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
        *settings.allowed_hosts,
    }
    origins = {
        _origin(settings.base_url),
        f"http://127.0.0.1:{settings.port}",
        f"http://localhost:{settings.port}",
        *(o.rstrip("/").lower() for o in settings.allowed_origins),
    }
    if settings.public_url:
        hosts.add(urlsplit(settings.public_url).netloc)
        origins.add(_origin(settings.public_url))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


def _host_allowed(allowed: list[str], host: str) -> bool:
    return host in allowed or any(a.endswith(":*") and host.startswith(a[:-1]) for a in allowed)


async def _error_response(send: Send, exc: ConciergeError, request_id: str | int | None = None) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in (error_headers(exc) or {}).items()]
    await json_response(
        send, exc.http_status, jsonrpc_error(exc.jsonrpc_code, exc.message, exc.details or None, request_id), headers
    )


class McpRoute:
    """Route target for `/mcp/{session_id}`; the endpoint itself is built in the app's lifespan,
    because it needs the running SDK manager."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["app"].state.mcp(scope, receive, send)


class McpEndpoint:
    """ASGI app for `/mcp/{session_id}`: checks the session and the client's Mcp-Session-Id, then hands
    the request to the SDK's stateless manager."""

    def __init__(
        self, runtime: Runtime, manager: StreamableHTTPSessionManager, api: ApiState, calls: ToolCalls
    ) -> None:
        self.runtime = runtime
        self.manager = manager
        self.fast = FastToolCalls(calls, manager.app.server_info_stamp)
        self.api = api
        self.clients = runtime.sessions.clients
        self.max_body = runtime.settings.max_request_bytes
        self.guard = security_settings(runtime.settings)

    def _refusal(self, headers: dict[bytes, bytes], session_id: str) -> tuple[int, ConciergeError] | None:
        """Host/Origin (DNS rebinding), then the session's bearer token when tokens are on."""
        host = headers.get(b"host", b"").decode("latin-1")
        if not _host_allowed(self.guard.allowed_hosts, host):
            return 421, InvalidInput(f"Host {host!r} is not one of this server's names; add it to allowed_hosts")
        origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/").lower()
        if origin and origin not in self.guard.allowed_origins:
            return 403, InvalidInput(f"Origin {origin!r} may not call this server; add it to allowed_origins")
        secret = self.api.mcp_token_secret
        if secret is not None and not session_token.valid(
            secret, session_id, headers.get(b"authorization", b"").decode("latin-1")
        ):
            return 401, Unauthorized(
                "this MCP URL needs `Authorization: Bearer <token>`: the token is in the "
                "session's `mcp.headers` (GET /api/v1/sessions/<id>)"
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = scope["path_params"]["session_id"]
        headers = dict(scope["headers"])
        client_id = headers.get(MCP_SESSION_HEADER, b"").decode("latin-1") or None
        try:
            _, client_live = await self.runtime.sessions.open(session_id, client_id)
        except NotFound as exc:
            await json_response(send, 404, jsonrpc_error(exc.jsonrpc_code, exc.message))
            return
        refusal = self._refusal(headers, session_id)
        if refusal is not None:
            status, refused = refusal
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await json_response(send, status, jsonrpc_error(refused.jsonrpc_code, refused.message), extra)
            return
        try:
            self.api.throttles.take(self.api.throttles.session, session_id)
        except ConciergeError as exc:
            await _error_response(send, exc)
            return
        if not client_live:
            await json_response(
                send,
                404,
                jsonrpc_error(
                    -32001,
                    "Session not found: this Mcp-Session-Id is "
                    "unknown, ended, or belongs to another session; "
                    "initialize again",
                ),
            )
            return
        if scope["method"] == "DELETE" and client_id is not None:
            await self.clients.terminate(client_id)
            await json_response(send, 200, {})
            return
        if scope["method"] != "POST":
            await self.manager.handle_request(scope, receive, send)
            return
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":  # the SDK says so in plain text, outside JSON-RPC
            await json_response(
                send,
                400,
                jsonrpc_error(-32600, "Invalid Request: a POST to an MCP URL is JSON (Content-Type: application/json)"),
            )
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        try:
            message = jsontext.loads(body)
        except ValueError:
            message = None  # the SDK answers -32700 with the parser's reason
        else:
            if isinstance(message, list) and message:
                try:
                    self._check_limits([m for m in message if isinstance(m, dict)], body)
                except ConciergeError as exc:
                    await _error_response(send, exc, None)
                    return
                await self._batch(scope, message, send)
                return
            shape = _shape_problem(message) or _id_problem(message)
            if shape:
                request_id = message.get("id") if isinstance(message, dict) and not _id_problem(message) else None
                answer = jsonrpc_error(-32600, f"Invalid Request: {shape}", request_id=request_id)
                await json_response(send, 400, answer)
                return
            try:
                self._check_limits(message, body)
            except ConciergeError as exc:
                await _error_response(send, exc, message.get("id"))
                return
            if message.get("method") == CANCELLED and client_id is not None:
                self.fast.in_flight.cancel(client_id, message.get("params"))  # then acknowledged by the SDK
            elif await self.fast.answer(scope["headers"], message, session_id, client_id, receive, send):
                return
            params = _params_problem(message)  # the fast path answers every well-formed call: only the rest pay
            if params:
                status = _params_status(headers.get(b"mcp-protocol-version"))
                await json_response(
                    send, status, jsonrpc_error(-32602, f"Invalid params: {params}", request_id=message.get("id"))
                )
                return
        replay = _replayer(body)
        init = _initialize_params(message) if client_id is None else None
        if init is None:
            await self.manager.handle_request(scope, replay, send)
            return
        minted = secrets.token_urlsafe(24)
        info = init.get("clientInfo") or {}

        async def accepted() -> None:
            await self.clients.register(
                minted, session_id, info.get("name"), info.get("version"), init.get("protocolVersion")
            )

        await self.manager.handle_request(scope, replay, _with_header(send, minted, accepted))

    def _check_limits(self, message: Any, body: bytes) -> None:
        settings = self.runtime.settings
        check_depth(message, settings.max_json_depth, body)
        if len(body) <= settings.max_tool_argument_bytes:
            return  # the arguments are part of the body, so they cannot be larger
        for item in message if isinstance(message, list) else [message]:
            params = item.get("params") if item.get("method") == "tools/call" else None
            if isinstance(params, dict):
                check_argument_size(params.get("arguments"), settings.max_tool_argument_bytes)

    async def _batch(self, scope: Scope, items: list[Any], send: Send) -> None:
        """A JSON-RPC batch, answered as the request's protocol version says: 2025-03-26 (also what a
        request without `MCP-Protocol-Version` is taken to be) has batches, later versions removed them."""
        version = dict(scope["headers"]).get(PROTOCOL_VERSION_HEADER, b"").decode("latin-1") or UNVERSIONED
        if version not in BATCH_VERSIONS:
            await json_response(
                send,
                400,
                jsonrpc_error(
                    -32600,
                    f"Invalid Request: MCP protocol version {version} has no JSON-RPC batches (only "
                    f"{', '.join(BATCH_VERSIONS)} had them); send one message per HTTP request",
                ),
            )
            return
        if any(isinstance(item, dict) and item.get("method") == "initialize" for item in items):
            await json_response(
                send,
                400,
                jsonrpc_error(
                    -32600, "Invalid Request: initialize must not be part of a JSON-RPC batch; send it alone"
                ),
            )
            return
        answers = [answer for item in items if (answer := await self._batch_item(scope, item)) is not None]
        if not answers:  # notifications and responses only
            await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await json_response(send, 200, answers)

    async def _batch_item(self, scope: Scope, item: Any) -> Any:
        """One message of a batch through the SDK, as if it had come alone; its JSON answer, or None."""
        problem = _problem(item)
        if problem:
            answer = jsonrpc_error(*problem)
            return answer | {"id": item.get("id")} if isinstance(item, dict) else answer
        body = jsontext.dumps_bytes(item)
        headers = [
            *((k, v) for k, v in scope["headers"] if k != b"content-length"),
            (b"content-length", str(len(body)).encode()),
        ]
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.manager.handle_request({**scope, "headers": headers}, _replayer(body), capture)
        raw = b"".join(chunks)
        return jsontext.loads(raw) if raw else None

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _error_response(
                    send,
                    PayloadTooLarge(
                        f"request body is larger than {self.max_body} bytes (max_request_bytes)",
                        {"limit_bytes": self.max_body},
                    ),
                )
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def _replayer(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _problem(message: Any) -> tuple[int, str] | None:
    """The JSON-RPC error code and a one-line reason for a message refused before dispatch, or None."""
    shape = _shape_problem(message) or _id_problem(message)
    if shape:
        return -32600, f"Invalid Request: {shape}"
    params = _params_problem(message) if isinstance(message, dict) else None
    return (-32602, f"Invalid params: {params}") if params else None


def _params_status(version: bytes | None) -> int:
    """The HTTP status the SDK refuses params with: in a 200 in the handshake era, a 400 in the 2026 one."""
    return 200 if version is None or version.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS else 400


def _params_problem(message: dict[str, Any]) -> str | None:
    """The params the SDK would refuse with a bare "Invalid request parameters", said with their reason."""
    method, params = message.get("method"), message.get("params")
    if method == "initialize":
        if not (
            isinstance(params, dict)
            and isinstance(params.get("protocolVersion"), str)
            and isinstance(params.get("capabilities"), dict)
            and isinstance(params.get("clientInfo"), dict)
            and isinstance(params["clientInfo"].get("name"), str)
        ):
            return (
                "initialize needs params.protocolVersion (a string), params.capabilities (an object) and "
                "params.clientInfo (an object with a name)"
            )
    elif method == "tools/call":
        if not isinstance(params, dict) or not isinstance(params.get("name"), str) or not params["name"]:
            return "tools/call needs params.name, the tool's name as a non-empty string"
        if params.get("arguments") is not None and not isinstance(params["arguments"], dict):
            kind = _kind(params["arguments"])
            return f"params.arguments of {params['name']!r} must be an object (name: value), not {kind}"
    return None


def _kind(value: Any) -> str:
    return {str: "a string", list: "an array", bool: "a boolean"}.get(type(value), "a number")


def _shape_problem(message: Any) -> str | None:
    """A one-line reason when a JSON body is not a JSON-RPC 2.0 message (the SDK's own error is a
    multi-line pydantic dump)."""
    items = message if isinstance(message, list) else [message]
    if not items:
        return "empty batch"
    for item in items:
        if not isinstance(item, dict):
            return "each message must be a JSON object"
        if item.get("jsonrpc") != "2.0":
            return 'missing or wrong "jsonrpc" (must be "2.0")'
        if "method" not in item and "result" not in item and "error" not in item:
            return 'missing "method"'
        if "method" in item and not isinstance(item["method"], str):
            return '"method" must be a string'
        if item.get("params") is not None and not isinstance(item["params"], dict):
            return '"params" must be an object (MCP names its parameters)'
    return None


def _id_problem(message: Any) -> str | None:
    """JSON-RPC ids are strings or integers (MCP: never null). A request with any other id would be
    taken for a notification and get a silent 202."""
    for item in message if isinstance(message, list) else [message]:
        if "id" in item:
            value = item["id"]
            if isinstance(value, bool) or not isinstance(value, str | int):
                return '"id" must be a string or an integer'
    return None


def _initialize_params(message: Any) -> dict[str, Any] | None:
    """The params of an initialize request, or None."""
    if isinstance(message, dict) and message.get("method") == "initialize":
        params = message.get("params")
        return params if isinstance(params, dict) else {}
    return None


def _with_header(send: Send, client_id: str, accepted: Callable[[], Awaitable[None]]) -> Send:
    """Adds the minted Mcp-Session-Id to a successful initialize answer, recording it first: a client
    may send its next request (with the id) as soon as it sees the answer. When the session was deleted
    meanwhile, the answer becomes a 404 instead."""
    refused = False

    async def wrapped(message: Message) -> None:
        nonlocal refused
        if refused:
            return  # the SDK's body of the answer replaced by the 404
        if message["type"] == "http.response.start" and message["status"] == 200:
            try:
                await accepted()
            except NotFound as exc:
                refused = True
                await json_response(send, 404, jsonrpc_error(exc.jsonrpc_code, exc.message))
                return
            message = {**message, "headers": [*message.get("headers", []), (MCP_SESSION_HEADER, client_id.encode())]}
        await send(message)

    return wrapped


async def serve_stdio(runtime: Runtime, surface: ToolSurface, session_id: str) -> None:
    await runtime.sessions.get(session_id)
    server = build_mcp_server(ToolCalls(runtime, surface), lambda ctx: session_id)
    channel = cast(Any, StdioChannel(runtime.settings.shutdown_grace_seconds))  # the SDK asks only for these methods
    async with stdio_server(stdin=channel, stdout=channel) as (read, write):
        await server.run(read, write, server.create_initialization_options())
