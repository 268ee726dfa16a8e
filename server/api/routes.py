"""The REST route table: one entry per endpoint, used for routing and for the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from starlette.routing import Route

from server.api import accounts, catalog, files, sessions, upstreams
from server.api.endpoint import Handler, endpoint
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
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel] | None
    body: type[BaseModel] | None = None
    status: int = 200


API_ROUTES: list[ApiRoute] = [
    ApiRoute("POST", "/sessions", sessions.create, "Create a session", SessionOut, SessionCreate, 201),
    ApiRoute("GET", "/sessions", sessions.list_sessions, "List a user's sessions (?user_id=)", SessionListOut),
    ApiRoute("GET", "/sessions/{session_id}", sessions.get, "Get (use) a session", SessionOut),
    ApiRoute("PATCH", "/sessions/{session_id}", sessions.update, "Update a session (partial)", SessionOut,
             SessionUpdate),
    ApiRoute("DELETE", "/sessions/{session_id}", sessions.delete, "Delete a session", None, status=204),
    ApiRoute("GET", "/sessions/{session_id}/tools", sessions.tools, "Tools the session exposes", ToolListingsOut),
    ApiRoute("POST", "/sessions/{session_id}/tools/{name}", sessions.call_tool,
             "Call a meta tool (or direct tool) of the session", EnvelopeOut, ToolCallIn),
    ApiRoute("GET", "/sessions/{session_id}/executions", sessions.executions, "The session's execution log",
             ExecutionListOut),
    ApiRoute("GET", "/executions/{log_id}", sessions.execution, "One execution record", ExecutionOut),
    ApiRoute("GET", "/toolkits", catalog.list_toolkits, "List toolkits", ToolkitListOut),
    ApiRoute("GET", "/toolkits/{slug}", catalog.get_toolkit, "Get a toolkit", ToolkitOut),
    ApiRoute("GET", "/tools", catalog.list_tools, "List or search tools (?toolkit=&search=)", ToolListOut),
    ApiRoute("GET", "/tools/{slug}", catalog.get_tool, "Get a tool", ToolOut),
    ApiRoute("GET", "/upstreams", upstreams.list_upstreams, "List upstream MCP servers", UpstreamListOut),
    ApiRoute("POST", "/upstreams", upstreams.add_upstream, "Register an upstream MCP server (its tools become "
             "toolkit NAME)", UpstreamOut, UpstreamCreate, 201),
    ApiRoute("GET", "/upstreams/{name}", upstreams.get_upstream, "Get an upstream MCP server", UpstreamOut),
    ApiRoute("POST", "/upstreams/{name}/refresh", upstreams.refresh_upstream, "Fetch an upstream's tool list again",
             UpstreamRefreshOut),
    ApiRoute("DELETE", "/upstreams/{name}", upstreams.remove_upstream, "Remove an upstream registered at run time",
             None, status=204),
    ApiRoute("POST", "/sessions/{session_id}/authorize", accounts.authorize,
             "Connect Link for the session's user (session.authorize)", ConnectionRequestOut, AuthorizeRequest, 201),
    ApiRoute("GET", "/sessions/{session_id}/toolkits", accounts.session_toolkits_view,
             "The session's toolkits with this user's connection state (?search=&is_connected=)",
             SessionToolkitListOut),
    ApiRoute("GET", "/sessions/{session_id}/connected_accounts", accounts.session_accounts,
             "The session user's connected accounts", AccountListOut),
    ApiRoute("POST", "/sessions/{session_id}/connected_accounts/{account_id}/revoke", accounts.session_revoke,
             "Revoke one of the session user's accounts", RevokeOut),
    ApiRoute("GET", "/sessions/{session_id}/files", files.list_files, "Files in the session's workbench",
             FileListOut),
    ApiRoute("GET", "/sessions/{session_id}/files/{path:path}", files.get_file, "Download a workbench file", None),
    ApiRoute("PUT", "/sessions/{session_id}/files/{path:path}", files.put_file, "Upload a workbench file", FileOut),
    ApiRoute("GET", "/connected_accounts", accounts.list_accounts, "A user's connected accounts (?user_id=&toolkit=)",
             AccountListOut),
    ApiRoute("POST", "/connected_accounts/link", accounts.create_link,
             "Connect Link for a user, outside any session", ConnectionRequestOut, LinkRequest, 201),
    ApiRoute("GET", "/connected_accounts/{account_id}", accounts.get_account, "One connected account", AccountOut),
    ApiRoute("DELETE", "/connected_accounts/{account_id}", accounts.delete_account, "Delete a connected account",
             None, status=204),
    ApiRoute("POST", "/connected_accounts/{account_id}/disable", accounts.disable_account, "Disable an account",
             AccountOut),
    ApiRoute("POST", "/connected_accounts/{account_id}/enable", accounts.enable_account, "Enable an account",
             AccountOut),
    ApiRoute("POST", "/connected_accounts/{account_id}/revoke", accounts.revoke_account,
             "Revoke (at the provider when it supports it)", RevokeOut),
    ApiRoute("GET", "/connected_accounts/{account_id}/events", accounts.account_events, "Audit events",
             AccountEventsOut),
    ApiRoute("GET", "/auth_configs", accounts.list_auth_configs, "List auth configs (?toolkit=)", AuthConfigListOut),
    ApiRoute("POST", "/auth_configs", accounts.create_auth_config, "Create an auth config", AuthConfigOut,
             AuthConfigCreate, 201),
    ApiRoute("GET", "/auth_configs/{config_id}", accounts.get_auth_config, "Get an auth config", AuthConfigOut),
    ApiRoute("PATCH", "/auth_configs/{config_id}", accounts.update_auth_config, "Update an auth config",
             AuthConfigOut, AuthConfigUpdate),
    ApiRoute("DELETE", "/auth_configs/{config_id}", accounts.delete_auth_config, "Delete an auth config", None,
             status=204),
]


def starlette_routes(table: list[ApiRoute]) -> list[Route]:
    return [Route(r.path, endpoint(r.handler, r.status), methods=[r.method]) for r in table]
