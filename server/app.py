"""Builds the ASGI application from explicit parts: runtime, REST routes, MCP endpoint."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from server.api import admin_key, connect
from server.api.endpoint import ApiState
from server.api.errors import handle_concierge_error, handle_unexpected
from server.api.openapi import build_openapi, openapi_endpoint
from server.api.routes import API_ROUTES, starlette_routes
from server.catalog.catalog import Catalog
from server.config import Settings
from server.errors import ConciergeError
from server.mcp_app import McpEndpoint, McpRoute, build_mcp_server, security_settings
from server.meta_tools.base import MetaTool
from server.meta_tools.registry import CORE_META_TOOLS, ToolSurface
from server.runtime import Runtime

log = logging.getLogger("concierge")
API_PREFIX = "/api/v1"


def meta_tools_for(runtime: Runtime) -> Sequence[MetaTool]:
    return CORE_META_TOOLS


async def health(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.api.runtime
    catalog = runtime.catalog
    return JSONResponse({"status": "ok", "toolkits": len(catalog.toolkits), "tools": len(catalog.tools)})


def build_app(settings: Settings, *, announce: Callable[[str], None] = print,
              catalog: Catalog | None = None, runtime: Runtime | None = None,
              reset_admin_key: bool = False) -> Starlette:
    """`announce` prints the start-up lines a person must see (URL, a newly generated admin key);
    `reset_admin_key` replaces the stored admin key (with the configured one, or a new one).

    Without `runtime`, the app starts its own in its lifespan (and closes it); a given one stays the caller's."""
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        current = runtime or await Runtime.start(settings, catalog)
        try:
            surface = ToolSurface(meta_tools_for(current), current.meta_services())
            key_hash, new_key = await admin_key.ensure_admin_key(current.meta, settings.api_key.get_secret_value()
                                                                 if settings.api_key else None,
                                                                 replace=reset_admin_key)
            app.state.api = ApiState(current, surface, key_hash)
            server = build_mcp_server(current, surface, lambda ctx: ctx.request.path_params["session_id"])
            manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True,
                                                   security_settings=security_settings(settings),
                                                   max_request_body_size=settings.max_request_bytes)
            app.state.mcp = McpEndpoint(current, manager)
            async with manager.run():
                announce(f"Concierge listening on {settings.base_url} (MCP: {settings.base_url}/mcp/<session_id>, "
                         f"REST: {settings.base_url}{API_PREFIX})")
                if new_key:
                    announce(f"Admin API key (shown once, store it now): {new_key}")
                yield
        finally:
            if runtime is None:  # ours: started above
                await current.aclose()

    document = build_openapi(API_ROUTES, API_PREFIX, {})
    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route(f"{API_PREFIX}/openapi.json", openapi_endpoint(document), methods=["GET"]),
        Route("/connect/{token}", connect.open_link, methods=["GET"]),
        Route("/connect/{token}", connect.submit_form, methods=["POST"]),
        Route(f"{API_PREFIX}/auth/callback", connect.oauth_callback, methods=["GET"]),
        Mount(API_PREFIX, routes=starlette_routes(API_ROUTES)),
        Route("/mcp/{session_id}", McpRoute(), methods=["GET", "POST", "DELETE"]),
        Route("/s/{session_id}/mcp", McpRoute(), methods=["GET", "POST", "DELETE"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={ConciergeError: handle_concierge_error, Exception: handle_unexpected})
