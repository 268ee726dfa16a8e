"""REST handlers for sessions, their tools and their execution log."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response

from server.api import session_token
from server.api.body import json_object
from server.api.endpoint import ApiState
from server.api.paging import page_params
from server.api.schemas import (
    EnvelopeOut,
    ExecutionListOut,
    ExecutionOut,
    McpClientOut,
    McpInfo,
    SessionListOut,
    SessionOut,
    ToolListingOut,
    ToolListingsOut,
)
from server.api.validation import semantic_as_422
from server.errors import InvalidInput, NotFound
from server.limits.jsonlimits import check_argument_size
from server.values import Session


async def session_out(state: ApiState, session: Session, with_clients: bool = False) -> SessionOut:
    runtime = state.runtime
    clients = await runtime.sessions.clients.of_session(session.id) if with_clients else []
    warnings = []
    if not session.allowed:
        warnings.append("this session's filter allows no tool at all; check toolkits/tools/tags")
    if session.user_id == "default":
        warnings.append("user_id 'default' shares one user's accounts with every caller")
    return SessionOut(
        id=session.id,
        session_id=session.id,
        user_id=session.user_id,
        config=session.config(),
        config_version=session.config_version,
        created_at=session.created_at,
        updated_at=session.updated_at,
        mcp=McpInfo(url=f"{runtime.settings.base_url}/mcp/{session.id}", headers=mcp_headers(state, session.id)),
        tools=[item.name for item in state.surface.listings(session)],
        allowed_tool_count=len(session.allowed),
        warnings=warnings,
        clients=[McpClientOut(**{k: v for k, v in c.to_dict().items() if k != "session_id"}) for c in clients],
    )


def mcp_headers(state: ApiState, session_id: str) -> dict[str, str]:
    """What an MCP client must send besides the URL: the session's bearer token when tokens are on."""
    if state.mcp_token_secret is None:
        return {}
    return {"Authorization": f"Bearer {session_token.token_for(state.mcp_token_secret, session_id)}"}


async def create(request: Request, state: ApiState) -> SessionOut:
    body = await json_object(request, state.runtime.settings)
    async with semantic_as_422():
        session = await state.runtime.sessions.create(body)
    return await session_out(state, session)


async def get(request: Request, state: ApiState) -> SessionOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    return await session_out(state, session, with_clients=True)


async def update(request: Request, state: ApiState) -> SessionOut:
    body = await json_object(request, state.runtime.settings)
    async with semantic_as_422():
        session = await state.runtime.sessions.update(request.path_params["session_id"], body)
    return await session_out(state, session)


async def delete(request: Request, state: ApiState) -> Response:
    await state.runtime.sessions.delete(request.path_params["session_id"])
    return Response(status_code=204)


async def list_sessions(request: Request, state: ApiState) -> SessionListOut:
    user_id = request.query_params.get("user_id")
    if not user_id:
        raise InvalidInput("user_id query parameter is required: GET /api/v1/sessions?user_id=...")
    limit, offset = page_params(request)
    sessions = await state.runtime.sessions.list(user_id, limit, offset)
    return SessionListOut(items=[await session_out(state, s) for s in sessions])


async def tools(request: Request, state: ApiState) -> ToolListingsOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    return ToolListingsOut(items=[ToolListingOut(**asdict(item)) for item in state.surface.listings(session)])


async def call_tool(request: Request, state: ApiState) -> EnvelopeOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    body = await json_object(request, state.runtime.settings, required=False)
    unknown = sorted(set(body) - {"arguments"})
    if unknown:  # a misspelt `arguments` would otherwise run the tool with none
        raise InvalidInput(f'unknown option {unknown[0]!r}; the body is {{"arguments": {{...}}}}', {"unknown": unknown})
    arguments = body.get("arguments", {})
    if not isinstance(arguments, dict):
        raise InvalidInput("`arguments` must be a JSON object")
    check_argument_size(arguments, state.runtime.settings.max_tool_argument_bytes)
    envelope = await state.surface.call(session, request.path_params["name"], arguments, source="api")
    return EnvelopeOut(**envelope)


async def executions(request: Request, state: ApiState) -> ExecutionListOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    limit, _ = page_params(request)
    rows = await state.runtime.executions.list_by_session(session.id, limit)
    return ExecutionListOut(items=[ExecutionOut(**r.to_dict()) for r in rows])


async def execution(request: Request, state: ApiState) -> ExecutionOut:
    row = await state.runtime.executions.get(request.path_params["log_id"])
    if row is None:
        raise NotFound(f"execution {request.path_params['log_id']} not found")
    return ExecutionOut(**row.to_dict())
