"""Rendering: one Jinja2 environment (autoescaping on, undefined names are errors), the security
headers and the CSRF cookie on every page, and form reading with the CSRF check built in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from server.errors import ConciergeError, PayloadTooLarge
from server.web.csrf import FIELD, Csrf, CsrfRefused
from server.web.headers import security_headers

STATIC_PATH = "/static"
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 50


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("server.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _static_versions() -> dict[str, str]:
    """A content hash per static file, so `?v=` changes whenever the file does."""
    folder = resources.files("server.web") / "static"
    return {
        entry.name: hashlib.sha256(entry.read_bytes()).hexdigest()[:12] for entry in folder.iterdir() if entry.is_file()
    }


def static_files() -> StaticFiles:
    return StaticFiles(packages=[("server.web", "static")])


@dataclass
class Web:
    csrf: Csrf
    product_name: str
    env: Environment = field(default_factory=environment)
    static_versions: dict[str, str] = field(default_factory=_static_versions)

    def __post_init__(self) -> None:
        self.env.globals.update(static_url=self.static_url, product_name=self.product_name, csrf_field=FIELD)

    def static_url(self, name: str) -> str:
        return f"{STATIC_PATH}/{name}?v={self.static_versions[name]}"

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        csrf_purpose: str = "",
        form_targets: Iterable[str] = (),
    ) -> HTMLResponse:
        """`csrf_token` is in every template's context (forms `{% include "_csrf.html" %}`);
        `form_targets` widens the CSP's form-action to where a form's redirect leads."""
        issued = self.csrf.issue(request, csrf_purpose)
        html = self.env.get_template(template).render({**(context or {}), "csrf_token": issued.token})
        response = HTMLResponse(html, status_code=status, headers=security_headers(form_targets))
        self.csrf.attach(response, issued)
        return response

    def message(
        self,
        request: Request,
        title: str,
        text: str,
        *,
        status: int = 200,
        tone: str = "info",
        hint: str | None = None,
    ) -> HTMLResponse:
        """A page that only says something: a heading, a sentence, and optionally what to do next."""
        return self.render(
            request, "message.html", {"title": title, "text": text, "tone": tone, "hint": hint}, status=status
        )

    def refused(self, request: Request, exc: CsrfRefused) -> HTMLResponse:
        return self.message(
            request,
            "Request refused",
            exc.message,
            status=exc.http_status,
            tone="bad",
            hint="Nothing was changed.",
        )

    def error(self, request: Request, exc: ConciergeError, title: str = "Something went wrong") -> HTMLResponse:
        return self.message(request, title, exc.message, status=exc.http_status, tone="bad")

    async def form(
        self, request: Request, *, csrf_purpose: str = "", max_bytes: int = MAX_FORM_BYTES
    ) -> dict[str, str]:
        """The posted form's text fields, after the CSRF check (raises `CsrfRefused` or
        `PayloadTooLarge`; the caller has changed nothing yet). The token field is removed."""
        if int(request.headers.get("content-length") or 0) > max_bytes:
            raise PayloadTooLarge("The form is larger than allowed.")
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        self.csrf.check(request, values.pop(FIELD, None), csrf_purpose)
        return values


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web
