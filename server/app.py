"""Builds the ASGI application from explicit parts: runtime, REST routes, MCP endpoint, and the
operator's view of them (request context, health, readiness, metrics)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from server.api import admin_key, connect, session_token
from server.api.endpoint import ApiState
from server.api.errors import handle_concierge_error, handle_http_exception, handle_unexpected
from server.api.openapi import build_openapi, openapi_endpoint
from server.api.routes import API_ROUTES, starlette_routes
from server.api.validation import BodySchema
from server.catalog.catalog import Catalog
from server.config import Settings
from server.console.login import ConsoleAuth
from server.console.routes import PATHS as CONSOLE_PATHS
from server.console.routes import console_routes
from server.errors import ConciergeError
from server.lane import LanedApp
from server.limits.ratelimit import Throttles
from server.mcp_app import McpEndpoint, McpRoute, build_mcp_server, security_settings
from server.mcp_tools import ToolCalls
from server.meta_tools.base import MetaTool
from server.meta_tools.registry import CORE_META_TOOLS, ToolSurface
from server.observability.metrics import Metrics
from server.observability.middleware import RequestContext, RouteLabels
from server.replicas.internal import workbench_call
from server.replicas.workbench import FORWARD_PATH
from server.runtime import Runtime
from server.web import csrf as web_csrf
from server.web.pages import STATIC_PATH, Web, static_files

log = logging.getLogger("concierge")
API_PREFIX = "/api/v1"
READY_TIMEOUT_SECONDS = 2


def meta_tools_for(runtime: Runtime) -> Sequence[MetaTool]:
    return CORE_META_TOOLS


async def health(request: Request) -> JSONResponse:
    """Liveness: the process answers. Says nothing about the database (that is /readyz)."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers a read and the catalog has tools; 503 otherwise."""
    api: ApiState | None = getattr(request.app.state, "api", None)
    if api is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    catalog = api.runtime.catalog
    checks = {"catalog": bool(catalog.tools)}
    try:
        with anyio.fail_after(READY_TIMEOUT_SECONDS):
            await api.runtime.meta.get(admin_key.META_KEY)
        checks["database"] = True
    except Exception:  # any failure to read means not ready; the reason goes to the log
        log.exception("readiness: the database did not answer")
        checks["database"] = False
    ok = all(checks.values())
    return JSONResponse(
        {
            "status": "ready" if ok else "not_ready",
            "checks": checks,
            "toolkits": len(catalog.toolkits),
            "tools": len(catalog.tools),
        },
        status_code=200 if ok else 503,
    )


def metrics_endpoint(settings: Settings) -> Callable[[Request], Response]:
    async def serve(request: Request) -> Response:
        api: ApiState = request.app.state.api
        if settings.metrics == "admin":
            admin_key.check(request, api.admin_key_hash)
        return Response(generate_latest(api.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return serve  # type: ignore[return-value]


def build_app(
    settings: Settings,
    *,
    announce: Callable[[str], None] = print,
    catalog: Catalog | None = None,
    runtime: Runtime | None = None,
    reset_admin_key: bool = False,
) -> Starlette:
    """`announce` prints the start-up lines a person must see (URL, a newly generated admin key);
    `reset_admin_key` replaces the stored admin key (with the configured one, or a new one).

    Without `runtime`, the app starts its own in its lifespan (and closes it); a given one stays the caller's."""
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        current = runtime or await Runtime.start(settings, catalog)
        try:
            surface = ToolSurface(meta_tools_for(current), current.meta_services())
            key_hash, new_key = await admin_key.ensure_admin_key(
                current.meta, settings.api_key.get_secret_value() if settings.api_key else None, replace=reset_admin_key
            )
            metrics.observe_executions(current.executions)
            metrics.observe_refreshes(current.auth.accounts.store)
            limits = settings.rate_limits
            throttles = Throttles(
                limits.per_api_key,
                limits.per_session,
                limits.burst,
                lambda scope: metrics.rate_limited.labels(scope).inc(),
            )
            token_secret = (
                await session_token.load_secret(current.meta, current.auth.accounts.box)
                if settings.mcp_session_tokens
                else None
            )
            document = build_openapi(API_ROUTES, API_PREFIX, {}, current.catalog)
            schemas = {r.body: BodySchema(r.body, document) for r in API_ROUTES if r.body is not None}
            app.state.web = Web(
                web_csrf.Csrf(
                    await session_token.load_secret(current.meta, current.auth.accounts.box, web_csrf.META_KEY),
                    secure=settings.base_url.startswith("https://"),
                ),
                settings.pages.product_name,
            )
            app.state.api = ApiState(current, surface, key_hash, throttles, metrics, document, schemas, token_secret)
            app.state.console = ConsoleAuth(current.store.console_logins, key_hash, settings.public_url)
            calls = ToolCalls(current, surface, metrics, checked_per_request=True)
            server = build_mcp_server(calls, lambda ctx: ctx.request.path_params["session_id"])
            manager = StreamableHTTPSessionManager(
                app=server,
                stateless=True,
                json_response=True,
                security_settings=security_settings(settings),
                max_request_body_size=settings.max_request_bytes,
            )
            app.state.mcp = McpEndpoint(current, manager, app.state.api, calls)
            async with manager.run():
                announce(
                    f"Concierge listening on {settings.base_url} (MCP: {settings.base_url}/mcp/<session_id>, "
                    f"REST: {settings.base_url}{API_PREFIX})"
                )
                if new_key:
                    announce(f"Admin API key (shown once, store it now): {new_key}")
                yield
        finally:
            if runtime is None:  # ours: started above
                await current.aclose()

    mcp_routes = [  # most requests: they skip the router (`server/lane.py`)
        Route("/mcp/{session_id}", McpRoute(), methods=["GET", "POST", "DELETE"]),
        Route("/s/{session_id}/mcp", McpRoute(), methods=["GET", "POST", "DELETE"]),
    ]
    routes = [
        *mcp_routes,
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route(
            f"{API_PREFIX}/openapi.json",
            openapi_endpoint(lambda request: request.app.state.api.openapi),
            methods=["GET"],
        ),
        Route(connect.RETRY_PATH, connect.retry, methods=["POST"]),
        Route("/connect/{token}", connect.link_page, methods=["GET", "POST"]),
        Mount(STATIC_PATH, static_files(), name="static"),
        Route(f"{API_PREFIX}/auth/callback", connect.oauth_callback, methods=["GET"]),
        Mount(API_PREFIX, routes=starlette_routes(API_ROUTES)),
        Route(FORWARD_PATH, workbench_call, methods=["POST"]),
        *console_routes(),
    ]
    if settings.metrics != "off":
        routes.append(Route("/metrics", metrics_endpoint(settings), methods=["GET"]))
    labels = RouteLabels(
        [r.path for r in routes if isinstance(r, Route)] + [API_PREFIX + r.path for r in API_ROUTES] + CONSOLE_PATHS
    )
    return LanedApp(
        lane_routes=mcp_routes,
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestContext, metrics=metrics, labels=labels, access_lines=settings.log_format == "json")
        ],
        exception_handlers={
            ConciergeError: handle_concierge_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
