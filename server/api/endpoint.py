"""The wrapper every REST handler goes through: admin key check, rate limits, runtime lookup,
model -> JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api import admin_key
from server.api.body import json_object
from server.api.validation import BodySchema
from server.limits.ratelimit import Throttles
from server.meta_tools.registry import ToolSurface
from server.observability.metrics import Metrics
from server.runtime import Runtime


@dataclass
class ApiState:
    runtime: Runtime
    surface: ToolSurface
    admin_key_hash: str
    throttles: Throttles
    metrics: Metrics
    openapi: dict[str, Any]
    body_schemas: dict[type[BaseModel], BodySchema]
    mcp_token_secret: bytes | None = None


Handler = Callable[[Request, ApiState], Awaitable[BaseModel | Response]]


def endpoint(
    handler: Handler, status: int = 200, body: type[BaseModel] | None = None, body_required: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def run(request: Request) -> Response:
        state: ApiState = request.app.state.api
        admin_key.check(request, state.admin_key_hash)
        state.throttles.take(state.throttles.api_key, state.admin_key_hash)
        session_id = request.path_params.get("session_id")
        if session_id is not None:
            state.throttles.take(state.throttles.session, session_id)
            await state.runtime.sessions.get(session_id)  # a missing session is a 404 whatever the body says
        if body is not None:
            data = await json_object(request, state.runtime.settings, required=body_required)
            state.body_schemas[body].check(data)
            request.state.json_body = data
        result = await handler(request, state)
        if isinstance(result, Response):
            return result
        return JSONResponse(result.model_dump(mode="json"), status_code=status)

    return run
