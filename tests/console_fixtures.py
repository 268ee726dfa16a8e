"""Pieces for admin-console tests: a server with a keyed toolkit whose API checks the key, a logged-in
HTTP client, and a connected account made through the real Connect form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.auth_fixtures import ResourceApi, submit_key_form, write_keyed_toolkit
from tests.live import API_KEY, LiveServer

KEY = "sk_live_console_secret_0123456789abcdef"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("console")
    api = ResourceApi().start()
    server = LiveServer(root / "data", toolkit_paths=[write_keyed_toolkit(root / "kits", api.url)]).start()
    try:
        yield server
    finally:
        server.stop()
        api.stop()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1)


def login(server: LiveServer, key: str = API_KEY) -> httpx.Client:
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    form = client.get("/admin/login")
    token = hidden(form.text, "csrf_token")
    done = client.post("/admin/login", data={"csrf_token": token, "admin_key": key, "next": "/admin"})
    assert done.status_code == 303 and done.headers["location"] == "/admin", done.text
    return client


def connect_key(server: LiveServer, session: dict[str, Any], key: str = KEY) -> str:
    made = server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": "keyed"})
    assert made.status_code == 201, made.text
    done = submit_key_form(made.json()["redirect_url"], api_key=key)
    assert done.status_code == 200, done.text
    return str(made.json()["connected_account_id"])


def run_keyed(server: LiveServer, session: dict[str, Any]) -> dict[str, Any]:
    """One tool execution through the session, as an agent would make it."""
    response = server.api(
        "POST",
        f"/sessions/{session['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
        json={"arguments": {"tools": [{"tool_slug": "KEYED_WHOAMI", "arguments": {}}]}},
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"]["results"][0]["response"])
