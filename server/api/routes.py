"""The REST route table: one entry per endpoint, used for routing and for the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from starlette.routing import Route

from server.api import catalog, sessions
from server.api.endpoint import Handler, endpoint
from server.api.schemas import (
    EnvelopeOut,
    ExecutionListOut,
    ExecutionOut,
    SessionListOut,
    SessionOut,
    ToolCallIn,
    ToolkitListOut,
    ToolkitOut,
    ToolListingsOut,
    ToolListOut,
    ToolOut,
)
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
]


def starlette_routes(table: list[ApiRoute]) -> list[Route]:
    return [Route(r.path, endpoint(r.handler, r.status), methods=[r.method]) for r in table]
