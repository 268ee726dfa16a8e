"""The outermost ASGI layer: gives each request an id (echoed as `X-Request-Id`), puts it and the
session id in the logging context, and records the request in the metrics (and, with JSON logs, one
access line)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.observability import context
from server.observability.metrics import Metrics

access_log = logging.getLogger("concierge.access")


class RouteLabels:
    """Maps a request path to its route template, so metrics have one series per route, not per id."""

    def __init__(self, templates: Sequence[str]) -> None:
        self._routes: list[tuple[re.Pattern[str], str]] = [(compile_path(t)[0], t) for t in templates]
        self._by_route: dict[int, str] = {}  # by id: routes compare by value and are unhashable

    def __call__(self, path: str, route: object = None) -> str:
        """`route`: the route object the router matched (`scope["route"]`, as long-lived as the app); its
        template is kept."""
        if route is not None:
            found = self._by_route.get(id(route))
            if found is not None:
                return found
        label = "other"
        for pattern, template in self._routes:
            if pattern.match(path):
                label = template
                break
        if route is not None:
            self._by_route[id(route)] = label
        return label


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics, labels: RouteLabels, access_lines: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.labels = labels
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = context.new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        rid_token = context.request_id.set(rid)
        sid_token = context.session_id.set(context.session_in_path(scope["path"]))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = self.labels(scope["path"], scope.get("route"))
            self.metrics.child(self.metrics.requests, scope["method"], route, str(status)).inc()
            self.metrics.child(self.metrics.request_seconds, route).observe(elapsed)
            if self.access_lines:
                access_log.info(
                    "%s %s %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            context.session_id.reset(sid_token)
            context.request_id.reset(rid_token)
