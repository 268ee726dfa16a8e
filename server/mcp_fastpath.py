"""`tools/call` answered without the SDK's per-request machinery, for requests that need none of it.

In stateless JSON mode the SDK builds, for every request, a Starlette request, a connection and a
runner (and in the handshake era a transport, a task and memory streams), then validates the
envelope, the parameters and the result with pydantic: on a cheap tool that was most of a call's
CPU. The tool call an agent makes most often needs none of it, so a well-formed `tools/call` is
answered here: the same envelope checks and the same per-version result sieve the SDK runs (its own
functions), then one JSON write. Anything else — another method, an unusual header, a request the
SDK would refuse — goes to the SDK unchanged, which then answers (or refuses) as it always does.
`tests/test_mcp_fastpath.py` compares both paths' answers for both protocol eras.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from mcp.server.runner import modern_error_data
from mcp.server.streamable_http import REQUEST_CANCELLED
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundModernRoute,
    classify_inbound_request,
)
from mcp_types import DEFAULT_NEGOTIATED_VERSION, INTERNAL_ERROR, SERVER_INFO_META_KEY
from mcp_types import methods as spec
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.types import Receive, Send

from server.jsontext import dumps_bytes
from server.mcp_cancel import Cancellation, InFlight, on_disconnect
from server.mcp_tools import RESULT_KEYS, ToolCalls
from server.mcp_wire import EventStream, jsonrpc_error
from server.progress import Report, reporting_to

log = logging.getLogger("concierge.mcp")

METHOD = "tools/call"
CLIENT_CLOSED = 499  # recorded for a request whose client went away (nothing reaches the client)
PARAM_HEADER_PREFIX = b"mcp-param-"
MAX_REMEMBERED = 1024
Headers = tuple[tuple[bytes, bytes], ...]
# (headers but content-length, parameters but `arguments`) -> the version to answer at, or None: the
# checks that decide it read nothing else, and a client sends the same of both on every call
_DECIDED: dict[tuple[Headers, bytes], str | None] = {}


class FastToolCalls:
    def __init__(self, calls: ToolCalls, server_info: dict[str, Any]) -> None:
        self.calls = calls
        self.server_info = server_info
        self.in_flight = InFlight()
        self._kept: dict[str, tuple[str, ...]] = {}  # protocol version -> the result keys its sieve keeps

    async def answer(
        self,
        raw_headers: Sequence[tuple[bytes, bytes]],
        message: Any,
        session_id: str,
        client_id: str | None,
        receive: Receive,
        send: Send,
    ) -> bool:
        """Answers `message` and returns True, or returns False (nothing sent) for the SDK to answer.
        The call is cancelled as its protocol era says (`server/mcp_cancel.py`)."""
        version = _version(raw_headers, message)
        if version is None:
            return False
        params = message["params"]
        reply = EventStream(send)
        token = _progress_token(raw_headers, params)
        modern = version in MODERN_PROTOCOL_VERSIONS
        cancellation = Cancellation()
        reports = contextlib.nullcontext() if token is None else reporting_to(_relay(reply, token))
        try:
            with self._cancellable(modern, client_id, message["id"], receive, cancellation), reports:
                result = await self.calls.call(session_id, params["name"], params.get("arguments"))
            wire = self._sieve(version, result)
        except asyncio.CancelledError:
            if not cancellation.absorbed():
                raise
            if modern:
                await reply.abandon(CLIENT_CLOSED)
            else:
                await _answer(reply, jsonrpc_error(REQUEST_CANCELLED, "Request cancelled", request_id=message["id"]))
            return True
        except ValidationError:
            log.exception("tools/call returned a result that protocol version %s does not allow", version)
            await _answer(
                reply, jsonrpc_error(INTERNAL_ERROR, "Handler returned an invalid result", request_id=message["id"])
            )
            return True
        except Exception as exc:  # as the SDK answers a handler that raised: logged, no internals on the wire
            error = modern_error_data(exc)
            await _answer(reply, jsonrpc_error(error.code, error.message, request_id=message["id"]))
            return True
        if modern:
            wire["_meta"] = {SERVER_INFO_META_KEY: dict(self.server_info)}
        await reply.answer(200, {"jsonrpc": "2.0", "id": message["id"], "result": wire})
        return True

    def _cancellable(
        self, modern: bool, client_id: str | None, request_id: Any, receive: Receive, cancellation: Cancellation
    ) -> contextlib.AbstractContextManager[None]:
        if modern:
            return on_disconnect(receive, cancellation)
        if client_id is not None:
            return self.in_flight.serving(client_id, request_id, cancellation)
        return contextlib.nullcontext()  # a handshake-era request outside a handshake: nobody could name it

    def _sieve(self, version: str, result: dict[str, Any]) -> dict[str, Any]:
        """The result as the SDK's per-version sieve sends it. `ToolCalls.call` gives every result one
        shape (the same keys, a text block, JSON values), for which the sieve at most drops the keys a
        version does not know: learnt from the SDK's own function on the version's first result (and
        only if that is all it did), then applied without validating and dumping each result again."""
        kept = self._kept.get(version)
        if kept is not None and result.keys() == RESULT_KEYS:
            return {key: result[key] for key in kept}
        wire = spec.serialize_server_result(METHOD, version, result)
        if result.keys() == RESULT_KEYS and all(key in result and wire[key] == result[key] for key in wire):
            self._kept[version] = tuple(wire)
        return wire


def _version(raw_headers: Sequence[tuple[bytes, bytes]], message: Any) -> str | None:
    """The protocol version to answer at, when the SDK would serve this request as a plain tools/call
    (every check it makes passes); None otherwise."""
    if not isinstance(message, dict) or message.get("method") != METHOD or "id" not in message:
        return None
    params = message.get("params")
    if not isinstance(params, dict) or not isinstance(params.get("name"), str):
        return None
    if params.get("arguments") is not None and not isinstance(params["arguments"], dict):
        return None
    key = (
        tuple(h for h in raw_headers if h[0] != b"content-length"),
        dumps_bytes({k: v for k, v in params.items() if k != "arguments"}, sort_keys=True),
    )
    try:
        return _DECIDED[key]
    except KeyError:
        pass
    version = _decide(raw_headers, message, params)
    if len(_DECIDED) >= MAX_REMEMBERED:
        _DECIDED.clear()
    _DECIDED[key] = version
    return version


def _decide(raw_headers: Sequence[tuple[bytes, bytes]], message: dict[str, Any], params: dict[str, Any]) -> str | None:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
    if not headers.get("content-type", "").lower().startswith("application/json"):
        return None
    if not _accepts(headers.get("accept", ""), {"application/json", "application/*", "*/*"}):
        return None
    requested = headers.get("mcp-protocol-version")
    if requested is None or requested in HANDSHAKE_PROTOCOL_VERSIONS:
        version = requested or DEFAULT_NEGOTIATED_VERSION
    elif requested in MODERN_PROTOCOL_VERSIONS:
        if len(headers) != len(raw_headers):
            return None  # a repeated header: the SDK says which, if it matters
        if any(k.startswith(PARAM_HEADER_PREFIX) for k, _ in raw_headers):
            return None
        route = classify_inbound_request(message, headers=headers)
        if not isinstance(route, InboundModernRoute):
            return None
        version = route.protocol_version
    else:
        return None
    try:  # the SDK's check of the parameters; of `arguments`, known to be an object, it asks nothing more
        spec.validate_client_request(METHOD, version, params)
    except (ValidationError, KeyError, ValueError):
        return None
    return version


def _accepts(accept: str, media_types: set[str]) -> bool:
    """Whether an Accept header takes one of `media_types`, as the SDK reads it (list them with the
    wildcards that cover them, RFC 9110)."""
    return any(part.split(";")[0].strip().lower() in media_types for part in accept.split(","))


async def _answer(reply: EventStream, error: dict[str, Any]) -> None:
    """An error as the SDK's single-exchange entry sends it: HTTP status by the code's table, else 200."""
    await reply.answer(ERROR_CODE_HTTP_STATUS.get(error["error"]["code"], 200), error)


def _progress_token(raw_headers: Sequence[tuple[bytes, bytes]], params: dict[str, Any]) -> str | int | None:
    """The request's `progressToken`, when its client can take the event stream that carries progress."""
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    if not isinstance(token, str | int) or isinstance(token, bool):
        return None
    accept = next((v.decode("latin-1") for k, v in raw_headers if k == b"accept"), "")
    return token if _accepts(accept, {"text/event-stream", "text/*", "*/*"}) else None


def _relay(reply: EventStream, token: str | int) -> Report:
    """Passes reports on as `notifications/progress` under the client's token. Only increasing progress
    goes out, as MCP requires: of the calls of a batch that report at once, the one ahead is shown."""
    last: float | None = None

    async def report(progress: float, total: float | None, message: str | None) -> None:
        nonlocal last
        if last is not None and progress <= last:
            return
        last = progress
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message:
            params["message"] = message
        await reply.notify({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    return report
