"""A shorter way in for the requests a server gets most: those to an MCP path.

Starlette takes every request through its error middleware, the user middleware, its exception
middleware (a `Request` and a wrapper of `send` each time), the router and the route before the
endpoint runs. For an MCP request, which the endpoint answers itself (JSON-RPC errors included), none
of that does anything but cost time on every tool call. `LanedApp` sends a request that fully matches
a lane route to that route's endpoint through the request context only; what the skipped layers would
do with an exception that escapes the endpoint, the lane does: the app's handler for it answers if
nothing was sent yet, and an exception only the catch-all handler takes is raised on for the server
to log, as Starlette's outermost middleware does. Anything else (another path, a method the route
does not take, WebSocket, lifespan) goes through Starlette unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, HTTPExceptionHandler, Message, Receive, Scope, Send

CATCH_ALL = (Exception, 500)


class LanedApp(Starlette):
    """`lane_routes`: routes of the app whose requests take the lane, through the app's own middleware
    (`middleware=`, put around the lane as Starlette puts it around the router) and nothing else."""

    def __init__(self, *, lane_routes: Sequence[Route], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lane_routes = tuple(lane_routes)
        lane: ASGIApp = self._guarded
        for cls, args, options in reversed(self.user_middleware):
            lane = cls(lane, *args, **options)
        self._lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self._lane_routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self
                    scope["route"] = route
                    scope.update(child_scope)
                    await self._lane(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await scope["route"].app(scope, receive, sending)
        except Exception as exc:
            handler, unexpected = self._handler_for(exc)
            if handler is None or (started and not unexpected):
                raise
            answer = handler(Request(scope, receive), exc)
            response = await answer if inspect.isawaitable(answer) else answer
            if not started:
                await response(scope, receive, send)
            if unexpected:
                raise

    def _handler_for(self, exc: Exception) -> tuple[HTTPExceptionHandler | None, bool]:
        """The app's handler for `exc`, and whether only the catch-all one takes it."""
        handlers = cast(dict[Any, HTTPExceptionHandler], self.exception_handlers)  # an HTTP app's
        for key in type(exc).__mro__:
            if key in handlers and key not in CATCH_ALL:
                return handlers[key], False
        return next((handlers[k] for k in CATCH_ALL if k in handlers), None), True
