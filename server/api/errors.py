"""The one mapping from our error types to HTTP responses: `{"error": {code, message, details}}`.
Starlette's own refusals (no such route, wrong method) get the same JSON shape, keeping their headers."""

from __future__ import annotations

import logging
import math

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.errors import ConciergeError

log = logging.getLogger("concierge.api")

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "invalid_input"}


def error_headers(exc: ConciergeError) -> dict[str, str] | None:
    if exc.http_status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if exc.http_status == 429:
        return {"Retry-After": str(max(1, math.ceil(exc.details.get("retry_after_seconds", 1))))}
    return None


def error_response(exc: ConciergeError) -> JSONResponse:
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status, headers=error_headers(exc))


async def handle_concierge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConciergeError)
    return error_response(exc)


_MCP_WITHOUT_SESSION = (
    "MCP is served per session: use the session's `mcp.url`, /mcp/<session_id> (or /s/<session_id>/mcp for "
    "clients that want a path ending in /mcp); POST /api/v1/sessions makes a session"
)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = {
        404: _MCP_WITHOUT_SESSION
        if request.url.path.rstrip("/") == "/mcp"
        else f"no such endpoint: {request.method} {request.url.path}; see /api/v1/openapi.json",
        405: f"{request.method} is not allowed here; allowed: {(exc.headers or {}).get('Allow', 'none')}",
    }
    body = {
        "error": {
            "code": HTTP_CODES.get(exc.status_code, "http_error"),
            "message": message.get(exc.status_code, str(exc.detail)),
            "details": {},
        }
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": {"code": "internal_error", "message": "internal server error; see the server log", "details": {}}},
        status_code=500,
    )
