"""The two wrappers every console route goes through: pages (GET) need a login or redirect to the login
form; actions (POST) need a login (401) and the login's CSRF token (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.console.login import ConsoleAuth, Login, same
from server.console.render import render
from server.errors import ConciergeError
from server.runtime import Runtime

MAX_FORM_BYTES = 16 * 1024


@dataclass(frozen=True)
class Console:
    """What a console handler gets: the server's runtime, the console's login service and this login."""

    runtime: Runtime
    auth: ConsoleAuth
    login: Login


Handler = Callable[[Request, Console], Awaitable[Response]]


def console_of(request: Request) -> tuple[Runtime, ConsoleAuth]:
    return request.app.state.api.runtime, request.app.state.console


def error_page(request: Request, exc: ConciergeError, login: Login | None) -> Response:
    return render(
        request, "console_error.html", {"title": "Cannot do that", "message": exc.message}, login, exc.http_status
    )


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
            return error_page(request, exc, login)

    return run


async def form_fields(request: Request) -> dict[str, str]:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return {}
    form = await request.form(max_files=0, max_fields=20)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def action(handler: Callable[[Request, Console, dict[str, str]], Awaitable[Response]]) -> Callable[
    [Request], Awaitable[Response]
]:
    @wraps(handler)
    async def run(request: Request) -> Response:
        runtime, auth = console_of(request)
        login = await auth.current(request)
        if login is None:
            return render(
                request,
                "console_error.html",
                {"title": "Not logged in", "message": "Your console login has ended. Log in again."},
                None,
                401,
            )
        fields = await form_fields(request)
        if not same(fields.get("csrf"), login.csrf):
            return render(
                request,
                "console_error.html",
                {
                    "title": "Form expired",
                    "message": "This form's security token is missing or wrong. Reload the page and try again.",
                },
                login,
                403,
            )
        try:
            return await handler(request, Console(runtime, auth, login), fields)
        except ConciergeError as exc:
            return error_page(request, exc, login)

    return run

