"""Console pages from Jinja2 templates (autoescaped), with the headers every console page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.console.login import Login
from server.console.paging import when

TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = when

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def render(
    request: Request, template: str, context: dict[str, Any], login: Login | None, status: int = 200
) -> HTMLResponse:
    html = _env.get_template(template).render(
        {"request_path": request.url.path, "csrf": login.csrf if login else None, "logged_in": login is not None}
        | context
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
