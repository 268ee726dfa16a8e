"""The two wrappers every console route goes through: pages (GET) need a login or redirect to the login
form; actions (POST) need a login (401) and a CSRF token issued for that login (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.console.login import ConsoleAuth, Login
from server.console.render import render
from server.errors import ConciergeError
from server.runtime import Runtime
from server.web import CsrfRefused, web_of

MAX_FORM_BYTES = 16 * 1024


@dataclass(frozen=True)
class Console:
    """What a console handler gets: the server's runtime, the console's login service and this login."""

    runtime: Runtime
    auth: ConsoleAuth
    login: Login


Handler = Callable[[Request, Console], Awaitable[Response]]
Action = Callable[[Request, Console, dict[str, str]], Awaitable[Response]]


def console_of(request: Request) -> tuple[Runtime, ConsoleAuth]:
    return request.app.state.api.runtime, request.app.state.console


def problem_page(request: Request, title: str, message: str, login: Login | None, status: int) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, login, status)


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def run(request: Request) -> Response:
        runtime, auth = console_of(request)
        login = await auth.current(request)
        if login is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/admin/login?next={quote(target, safe='')}", status_code=303)
        try:
            return await handler(request, Console(runtime, auth, login))
        except ConciergeError as exc:
            return problem_page(request, "Cannot show that", exc.message, login, exc.http_status)

    return run


def action(handler: Action) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def run(request: Request) -> Response:
        runtime, auth = console_of(request)
        login = await auth.current(request)
        if login is None:
            return problem_page(request, "Not logged in", "Your console login has ended. Log in again.", None, 401)
        try:
            fields = await web_of(request).form(request, csrf_purpose=login.csrf_purpose, max_bytes=MAX_FORM_BYTES)
        except CsrfRefused as exc:
            return problem_page(request, "Request refused", f"{exc.message} Nothing was changed.", login, 403)
        try:
            return await handler(request, Console(runtime, auth, login), fields)
        except ConciergeError as exc:
            return problem_page(request, "Cannot do that", exc.message, login, exc.http_status)

    return run
