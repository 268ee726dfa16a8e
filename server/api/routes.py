"""The REST route table: one entry per endpoint, used for routing and for the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.api import accounts, catalog, files, sessions, upstreams
from server.api.endpoint import Handler, endpoint
from server.api.paging import MAX_LIMIT, MAX_OFFSET
from server.api.schemas import (
    AccountEventsOut,
    AccountListOut,
    AccountOut,
    AuthConfigListOut,
    AuthConfigOut,
    ConnectionRequestOut,
    EnvelopeOut,
    ExecutionListOut,
    ExecutionOut,
    FileListOut,
    FileOut,
    RevokeOut,
    SessionListOut,
    SessionOut,
    SessionToolkitListOut,
    ToolCallIn,
    ToolkitListOut,
    ToolkitOut,
    ToolListingsOut,
    ToolListOut,
    ToolOut,
    UpstreamCreate,
    UpstreamListOut,
    UpstreamOut,
    UpstreamRefreshOut,
)
from server.auth.options import AuthConfigCreate, AuthConfigUpdate, AuthorizeRequest, LinkRequest
from server.sessions.options import SessionCreate, SessionUpdate


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any]
    required: bool = False


USER_ID = Query("user_id", {"type": "string", "minLength": 1}, required=True)
TOOLKIT = Query("toolkit", {"type": "string"})
PAGE = (
    Query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    Query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
)


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel] | None
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[Query, ...] = ()
    body_required: bool = True


API_ROUTES: list[ApiRoute] = [
    ApiRoute("POST", "/sessions", sessions.create, "Create a session", SessionOut, SessionCreate, 201),
    ApiRoute(
        "GET",
        "/sessions",
        sessions.list_sessions,
        "List a user's sessions (?user_id=)",
        SessionListOut,
        query=(USER_ID, *PAGE),
    ),
    ApiRoute("GET", "/sessions/{session_id}", sessions.get, "Get (use) a session", SessionOut),
    ApiRoute(
        "PATCH", "/sessions/{session_id}", sessions.update, "Update a session (partial)", SessionOut, SessionUpdate
    ),
    ApiRoute("DELETE", "/sessions/{session_id}", sessions.delete, "Delete a session", None, status=204),
    ApiRoute("GET", "/sessions/{session_id}/tools", sessions.tools, "Tools the session exposes", ToolListingsOut),
    ApiRoute(
        "POST",
        "/sessions/{session_id}/tools/{name}",
        sessions.call_tool,
        "Call a meta tool (or direct tool) of the session",
        EnvelopeOut,
        ToolCallIn,
        body_required=False,
    ),
    ApiRoute(
        "GET",
        "/sessions/{session_id}/executions",
        sessions.executions,
        "The session's execution log",
        ExecutionListOut,
        query=PAGE[:1],
    ),
    ApiRoute("GET", "/executions/{log_id}", sessions.execution, "One execution record", ExecutionOut),
    ApiRoute("GET", "/toolkits", catalog.list_toolkits, "List toolkits", ToolkitListOut),
    ApiRoute("GET", "/toolkits/{slug}", catalog.get_toolkit, "Get a toolkit", ToolkitOut),
    ApiRoute(
        "GET",
        "/tools",
        catalog.list_tools,
        "List or search tools (?toolkit=&search=; offset pages a listing)",
        ToolListOut,
        query=(TOOLKIT, Query("search", {"type": "string"}), *PAGE),
    ),
    ApiRoute("GET", "/tools/{slug}", catalog.get_tool, "Get a tool", ToolOut),
    ApiRoute("GET", "/upstreams", upstreams.list_upstreams, "List upstream MCP servers", UpstreamListOut),
    ApiRoute(
        "POST",
        "/upstreams",
        upstreams.add_upstream,
        "Register an upstream MCP server (its tools become toolkit NAME)",
        UpstreamOut,
        UpstreamCreate,
        201,
    ),
    ApiRoute("GET", "/upstreams/{name}", upstreams.get_upstream, "Get an upstream MCP server", UpstreamOut),
    ApiRoute(
        "POST",
        "/upstreams/{name}/refresh",
        upstreams.refresh_upstream,
        "Fetch an upstream's tool list again",
        UpstreamRefreshOut,
    ),
    ApiRoute(
        "DELETE",
        "/upstreams/{name}",
        upstreams.remove_upstream,
        "Remove an upstream registered at run time",
        None,
        status=204,
    ),
    ApiRoute(
        "POST",
        "/sessions/{session_id}/authorize",
        accounts.authorize,
        "Connect Link for the session's user (session.authorize)",
        ConnectionRequestOut,
        AuthorizeRequest,
        201,
    ),
    ApiRoute(
        "GET",
        "/sessions/{session_id}/toolkits",
        accounts.session_toolkits_view,
        "The session's toolkits with this user's connection state (?search=&is_connected=)",
        SessionToolkitListOut,
        query=(
            Query("search", {"type": "string"}),
            Query("is_connected", {"type": "string", "enum": ["true", "false"]}),
        ),
    ),
    ApiRoute(
        "GET",
        "/sessions/{session_id}/connected_accounts",
        accounts.session_accounts,
        "The session user's connected accounts",
        AccountListOut,
        query=(TOOLKIT,),
    ),
    ApiRoute(
        "POST",
        "/sessions/{session_id}/connected_accounts/{account_id}/revoke",
        accounts.session_revoke,
        "Revoke one of the session user's accounts",
        RevokeOut,
    ),
    ApiRoute("GET", "/sessions/{session_id}/files", files.list_files, "Files in the session's workbench", FileListOut),
    ApiRoute("GET", "/sessions/{session_id}/files/{path:path}", files.get_file, "Download a workbench file", None),
    ApiRoute("PUT", "/sessions/{session_id}/files/{path:path}", files.put_file, "Upload a workbench file", FileOut),
    ApiRoute(
        "GET",
        "/connected_accounts",
        accounts.list_accounts,
        "A user's connected accounts (?user_id=&toolkit=)",
        AccountListOut,
        query=(USER_ID, TOOLKIT),
    ),
    ApiRoute(
        "POST",
        "/connected_accounts/link",
        accounts.create_link,
        "Connect Link for a user, outside any session",
        ConnectionRequestOut,
        LinkRequest,
        201,
    ),
    ApiRoute("GET", "/connected_accounts/{account_id}", accounts.get_account, "One connected account", AccountOut),
    ApiRoute(
        "DELETE",
        "/connected_accounts/{account_id}",
        accounts.delete_account,
        "Delete a connected account",
        None,
        status=204,
    ),
    ApiRoute(
        "POST", "/connected_accounts/{account_id}/disable", accounts.disable_account, "Disable an account", AccountOut
    ),
    ApiRoute(
        "POST", "/connected_accounts/{account_id}/enable", accounts.enable_account, "Enable an account", AccountOut
    ),
    ApiRoute(
        "POST",
        "/connected_accounts/{account_id}/revoke",
        accounts.revoke_account,
        "Revoke (at the provider when it supports it)",
        RevokeOut,
    ),
    ApiRoute(
        "GET", "/connected_accounts/{account_id}/events", accounts.account_events, "Audit events", AccountEventsOut
    ),
    ApiRoute(
        "GET",
        "/auth_configs",
        accounts.list_auth_configs,
        "List auth configs (?toolkit=)",
        AuthConfigListOut,
        query=(TOOLKIT,),
    ),
    ApiRoute(
        "POST",
        "/auth_configs",
        accounts.create_auth_config,
        "Create an auth config",
        AuthConfigOut,
        AuthConfigCreate,
        201,
    ),
    ApiRoute("GET", "/auth_configs/{config_id}", accounts.get_auth_config, "Get an auth config", AuthConfigOut),
    ApiRoute(
        "PATCH",
        "/auth_configs/{config_id}",
        accounts.update_auth_config,
        "Update an auth config",
        AuthConfigOut,
        AuthConfigUpdate,
    ),
    ApiRoute(
        "DELETE", "/auth_configs/{config_id}", accounts.delete_auth_config, "Delete an auth config", None, status=204
    ),
]


Endpoint = Callable[[Request], Awaitable[Response]]


def _by_method(handlers: dict[str, Endpoint]) -> Endpoint:
    async def dispatch(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return dispatch


def starlette_routes(table: list[ApiRoute]) -> list[Route]:
    """One route per path with all its methods, so a wrong method gets a 405 whose `Allow` lists them all."""
    paths: dict[str, dict[str, Endpoint]] = {}
    for r in table:
        paths.setdefault(r.path, {})[r.method] = endpoint(r.handler, r.status, r.body, r.body_required)
    return [Route(path, _by_method(handlers), methods=list(handlers)) for path, handlers in paths.items()]
