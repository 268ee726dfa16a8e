"""Pieces for auth tests: a resource API that checks credentials, toolkit folders pointing at the
local OAuth server and that API, and a browser-like walk through a Connect Link."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.live import ThreadedServer

Verifier = Callable[[str], dict | None]


class ResourceApi(ThreadedServer):
    """A protected API: `/me` wants a bearer token the OAuth server issued; `/keyed` echoes the API key."""

    def __init__(self, verify: Verifier | None = None) -> None:
        super().__init__()
        self.verify = verify
        self.calls = 0
        self.lock = threading.Lock()

    async def me(self, request: Request) -> JSONResponse:
        with self.lock:
            self.calls += 1
        auth = request.headers.get("authorization", "")
        info = self.verify(auth[7:]) if self.verify and auth.startswith("Bearer ") else None
        if info is None:
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"login": info.get("user", "tester"), "scope": info.get("scope")})

    async def keyed(self, request: Request) -> JSONResponse:
        key = request.headers.get("x-api-key") or request.query_params.get("key")
        if not key:
            return JSONResponse({"message": "missing key"}, status_code=401)
        return JSONResponse({"key_seen": key, "region": request.path_params.get("region")})

    def start(self) -> ResourceApi:
        self.serve(lambda: Starlette(routes=[Route("/me", self.me), Route("/keyed", self.keyed),
                                             Route("/{region}/keyed", self.keyed)]))
        return self


def write_keyed_toolkit(root: Path, api_url: str) -> Path:
    """`keyed`: an API key in the X-Api-Key header."""
    (root / "keyed").mkdir(parents=True)
    (root / "keyed" / "toolkit.yaml").write_text(f"""
slug: keyed
name: Keyed
description: A test service that authenticates with an API key header.
base_url: {api_url}
auth_schemes:
  - type: api_key
    api_key_in: header
    api_key_name: X-Api-Key
tools:
  - slug: KEYED_WHOAMI
    name: Key check
    description: Return which API key the service received.
    tags: [readOnlyHint]
    input_schema: {{type: object, properties: {{}}}}
    http: {{method: GET, path: /keyed}}
""")
    return root


def write_toolkits(root: Path, oauth: Any, api_url: str) -> Path:
    """`acme` (OAuth2 + PKCE + refresh, pointing at the test OAuth server) and `keyed` (API key header)."""
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "toolkit.yaml").write_text(f"""
slug: acme
name: Acme
description: A test OAuth2 provider with a protected profile endpoint.
base_url: {api_url}
auth_schemes:
  - type: oauth2
    oauth2:
      authorize_url: {oauth.authorize_url}
      token_url: {oauth.token_url}
      revoke_url: {oauth.revoke_url}
      default_scopes: [profile]
tools:
  - slug: ACME_WHOAMI
    name: Who am I
    description: Return the profile of the connected Acme account.
    tags: [readOnlyHint]
    input_schema: {{type: object, properties: {{}}}}
    http: {{method: GET, path: /me}}
""")
    return write_keyed_toolkit(root, api_url)


def hidden_fields(html: str) -> dict[str, str]:
    """A page form's hidden fields (CSRF token, form state), as a browser would submit them."""
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    assert found, html
    return {name: unescape(value) for name, value in found}


def start_oauth(url: str, browser: httpx.Client | None = None) -> httpx.Response:
    """Open an OAuth Connect Link and press "Continue": the 303 to the provider's sign-in page (or the
    page that says why the link cannot be used)."""
    with httpx.Client(timeout=30) if browser is None else contextlib.nullcontext(browser) as client:
        page = client.get(url)
        if page.status_code != 200:
            return page
        return client.post(url, data=hidden_fields(page.text), follow_redirects=False)


def follow_oauth_link(url: str) -> httpx.Response:
    """What a browser does: open the link, press "Continue", follow the provider's redirects back."""
    with httpx.Client(timeout=30) as browser:
        step = start_oauth(url, browser)
        while step.is_redirect:
            step = browser.get(step.headers["location"])
        return step


def form_state(html: str) -> str:
    return hidden_fields(html)["state"]


def submit_key_form(url: str, **fields: str) -> httpx.Response:
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        return browser.post(url, data={**hidden_fields(page.text), **fields})
