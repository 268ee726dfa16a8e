"""The plumbing the work-app stand-ins (Notion, Linear, Atlassian, HubSpot) share: a Starlette app on a
loopback port (tests.live.ThreadedServer), a log of every request, queued failures a test can make the next
calls answer with (rate limits, outages), and a credential check before any handler runs.

Each subclass names its routes, how it reads a credential, and how the provider words "unauthorized" and
"not found", so every answer is in that provider's own wire format.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.live import ThreadedServer

Handler = Callable[[Request, str], Awaitable[Response]]
"""(request, principal) -> response; the principal is whoever the credential belongs to."""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any


class ApiError(Exception):
    """Raised by a handler: answered as `body` with `status` (already in the provider's format)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


class WorkStandIn(ThreadedServer):
    """`with SomeStandIn(...) as api:` serves on `api.url`; `api.requests` holds what arrived."""

    public_paths: tuple[str, ...] = ()  # path prefixes answered without a credential (OAuth endpoints)

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Recorded] = []
        self._queued: list[tuple[int, Any, dict[str, str]]] = []
        self._ids = itertools.count(1)

    # what a provider module fills in ----------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        raise NotImplementedError

    def principal(self, request: Request) -> str | None:
        """Whose credential this request carries, or None when it carries no valid one."""
        raise NotImplementedError

    def unauthorized(self, request: Request) -> ApiError:
        raise NotImplementedError

    def not_found(self, request: Request) -> ApiError:
        raise NotImplementedError

    def precheck(self, request: Request) -> None:
        """Checks before authentication (Notion's required version header); raise ApiError to refuse."""

    # lifecycle -----------------------------------------------------------------------------------------------------

    def start(self) -> WorkStandIn:
        self.serve(lambda: Starlette(
            routes=[Route(path, self._endpoint(handler), methods=[method]) for method, path, handler in self.routes()],
            exception_handlers={HTTPException: self._unrouted}))
        return self

    def __enter__(self) -> WorkStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, body: Any, headers: Mapping[str, str] | None = None, times: int = 1) -> None:
        """The next `times` API requests get this answer instead of their normal one."""
        self._queued.extend([(status, body, dict(headers or {}))] * times)

    def next_id(self) -> int:
        return next(self._ids)

    def calls(self, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if path_part in r.path]

    # plumbing ------------------------------------------------------------------------------------------------------

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            self.requests.append(Recorded(request.method, request.url.path, dict(request.query_params),
                                          dict(request.headers), decode(raw, request.headers.get("content-type", ""))))
            try:
                if self._queued:
                    status, body, headers = self._queued.pop(0)
                    raise ApiError(status, body, headers)
                if request.url.path.startswith(self.public_paths):
                    return await handler(request, "")
                self.precheck(request)
                who = self.principal(request)
                if who is None:
                    raise self.unauthorized(request)
                return await handler(request, who)
            except ApiError as exc:
                return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

        return endpoint

    async def _unrouted(self, request: Request, exc: Exception) -> Response:
        error = self.not_found(request)
        return JSONResponse(error.body, status_code=error.status)


def decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "form-urlencoded" in content_type:
        return dict(parse_qsl(raw.decode()))
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def cursor_page(items: list[Any], start: str | None, size: int) -> tuple[list[Any], str | None]:
    """A page of `items` from the opaque cursor `start` (an index here), and the cursor of the next page."""
    offset = int(start) if start and start.isdigit() else 0
    chunk = items[offset:offset + size]
    return chunk, (str(offset + size) if offset + size < len(items) else None)
