"""REST handlers for upstream MCP servers registered at run time (`concierge upstreams ...`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from server.api.body import json_object
from server.api.endpoint import ApiState
from server.api.schemas import UpstreamCreate, UpstreamListOut, UpstreamOut, UpstreamRefreshOut
from server.api.validation import semantic_as_422
from server.config import UpstreamConfig
from server.errors import InvalidInput, describe_validation_error, model_vocabulary


def _out(state: ApiState, name: str) -> UpstreamOut:
    upstreams = state.runtime.upstreams
    return UpstreamOut.model_validate(upstreams.describe(upstreams.get(name)) | upstreams.pool.counts_of(name))


async def list_upstreams(request: Request, state: ApiState) -> UpstreamListOut:
    return UpstreamListOut(items=[_out(state, name) for name in sorted(state.runtime.upstreams.upstreams)])


async def get_upstream(request: Request, state: ApiState) -> UpstreamOut:
    return _out(state, request.path_params["name"])


async def add_upstream(request: Request, state: ApiState) -> UpstreamOut:
    body: dict[str, Any] = await json_object(request, state.runtime.settings)
    try:
        parsed = UpstreamCreate.model_validate(body)
    except ValidationError as exc:
        message, problems = describe_validation_error(exc, model_vocabulary(UpstreamCreate))
        raise InvalidInput(message, {"problems": problems}) from None
    config = UpstreamConfig.model_validate(parsed.model_dump(exclude={"name"}, exclude_unset=True))
    async with semantic_as_422():
        await state.runtime.upstreams.add(parsed.name, config, from_api=True)
    return _out(state, parsed.name)


async def refresh_upstream(request: Request, state: ApiState) -> UpstreamRefreshOut:
    name = request.path_params["name"]
    return UpstreamRefreshOut(name=name, tool_count=await state.runtime.upstreams.refresh(name))


async def remove_upstream(request: Request, state: ApiState) -> Response:
    await state.runtime.upstreams.remove(request.path_params["name"])
    return Response(status_code=204)
