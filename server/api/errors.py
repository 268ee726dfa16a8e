"""The one mapping from our error types to HTTP responses: `{"error": {code, message, details}}`."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.errors import ConciergeError

log = logging.getLogger("concierge.api")


def error_response(exc: ConciergeError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status, headers=headers)


async def handle_concierge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConciergeError)
    return error_response(exc)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": {"code": "internal_error", "message": "internal server error; see the server log",
                                   "details": {}}}, status_code=500)
