"""Console pages through the shared web layer (`server/web`): its Jinja2 environment, security headers
and CSRF tokens. A logged-in page's forms carry a token bound to that login; the login form's token
is bound to the browser only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.console.login import LOGIN_PURPOSE, Login
from server.console.paging import when
from server.web import web_of


def render(
    request: Request, template: str, context: dict[str, Any], login: Login | None, status: int = 200
) -> HTMLResponse:
    web = web_of(request)
    web.env.filters.setdefault("when", when)
    return web.render(
        request,
        f"console/{template}",
        {"request_path": request.url.path, "logged_in": login is not None} | context,
        status=status,
        csrf_purpose=login.csrf_purpose if login else LOGIN_PURPOSE,
    )
