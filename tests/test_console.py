"""The admin console over real HTTP: who may use it (login, logout, cookies, CSRF, rate limit), what its
pages show (filters, keyset pages, a session's runs), revoking an account, and that no page leaks a secret."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from server.app import build_app
from tests.auth_fixtures import ResourceApi
from tests.console_fixtures import KEY, connect_key, hidden, login, run_keyed, write_keyed_toolkit
from tests.live import API_KEY, LiveServer
from tests.mcp_helpers import initialize_body, raw_post

PAGES = ["/admin", "/admin/sessions", "/admin/accounts", "/admin/auth-configs", "/admin/tools", "/admin/audit",
         "/admin/live"]


def test_console_refuses_everything_without_a_login(console_server: LiveServer) -> None:
    anonymous = httpx.Client(base_url=console_server.url, follow_redirects=False, timeout=30)
    session = console_server.create_session(user_id="nobody", toolkits=["keyed"])
    for path in [*PAGES, f"/admin/sessions/{session['id']}"]:
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/admin/login?next="), path
    # the REST admin key is not a console login, and a made-up cookie is not one either
    assert anonymous.get("/admin/sessions", headers=console_server.headers).status_code == 303
    anonymous.cookies.set("concierge_console", "made-up-token", path="/admin")
    assert anonymous.get("/admin/sessions").status_code == 303
    for path in ["/admin/accounts/ca_x/revoke", "/admin/logout"]:
        refused = anonymous.post(path, data={"csrf_token": "anything"})
        assert refused.status_code == 401 and "Log in again" in refused.text, path


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(console_server: LiveServer) -> None:
    client = httpx.Client(base_url=console_server.url, follow_redirects=False, timeout=30)
    form = client.get("/admin/login?next=/admin/audit")
    assert form.headers["content-security-policy"].startswith("default-src 'none'")
    wrong = client.post("/admin/login", data={"csrf_token": hidden(form.text, "csrf_token"), "admin_key": "ck_wrong"})
    assert wrong.status_code == 401 and "not the admin key" in wrong.text
    done = client.post("/admin/login", data={"csrf_token": hidden(form.text, "csrf_token"), "admin_key": API_KEY,
                                             "next": "/admin/audit"})
    assert done.status_code == 303 and done.headers["location"] == "/admin/audit"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("concierge_console="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= flags and "secure" not in flags, cookie
    assert "samesite=strict" in cookie.lower() and "path=/admin" in cookie.lower()
    audit = client.get("/admin/audit")
    assert audit.status_code == 200 and "console.login_failed" in audit.text and "console.login" in audit.text
    token = client.cookies.get("concierge_console")
    assert token and token not in audit.text
    out = client.post("/admin/logout", data={"csrf_token": hidden(audit.text, "csrf_token")})
    assert out.status_code == 303 and out.headers["location"] == "/admin/login"
    # the old cookie, replayed by someone who kept it, is dead on the server side
    replay = httpx.Client(base_url=console_server.url, follow_redirects=False, timeout=30)
    replay.cookies.set("concierge_console", token, path="/admin")
    assert replay.get("/admin/audit").status_code == 303


def test_cookie_is_secure_behind_an_https_proxy(console_server: LiveServer) -> None:
    """uvicorn believes X-Forwarded-Proto from a proxy on 127.0.0.1 (its default `forwarded_allow_ips`)."""
    client = httpx.Client(base_url=console_server.url, follow_redirects=False, timeout=30,
                          headers={"X-Forwarded-Proto": "https"})
    form = client.get("/admin/login")
    done = client.post("/admin/login", data={"csrf_token": hidden(form.text, "csrf_token"), "admin_key": API_KEY})
    assert done.status_code == 303
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("concierge_console="))
    assert "; secure" in cookie.lower() and "samesite=strict" in cookie.lower()


def test_missing_or_forged_csrf_is_refused_and_changes_nothing(console_server: LiveServer) -> None:
    session = console_server.create_session(user_id="csrf-user", toolkits=["keyed"])
    account = connect_key(console_server, session)
    # login form: no token, or a token from another browser's form cookie
    stranger = httpx.Client(base_url=console_server.url, follow_redirects=False, timeout=30)
    theirs = hidden(stranger.get("/admin/login").text, "csrf_token")
    victim = httpx.Client(base_url=console_server.url, follow_redirects=False, timeout=30)
    victim.get("/admin/login")
    for data in ({"admin_key": API_KEY}, {"admin_key": API_KEY, "csrf_token": theirs}):
        refused = victim.post("/admin/login", data=data)
        assert refused.status_code == 403 and "concierge_console=" not in refused.headers.get("set-cookie", "")
    # a logged-in console: revoke without the token, with a forged one, with another login's token
    client = login(console_server)
    other = hidden(login(console_server).get("/admin").text, "csrf_token")
    for data in ({}, {"csrf_token": "1700000000.forged"}, {"csrf_token": other}):
        refused = client.post(f"/admin/accounts/{account}/revoke", data=data)
        assert refused.status_code == 403 and "security token" in refused.text
        assert client.post("/admin/logout", data=data).status_code == 403
    assert console_server.api("GET", f"/connected_accounts/{account}").json()["status"] == "ACTIVE"
    assert run_keyed(console_server, session)["successful"]
    assert client.get("/admin").status_code == 200, "still logged in"


def test_revoke_from_the_console_stops_the_account_for_its_sessions(console_server: LiveServer) -> None:
    first = console_server.create_session(user_id="revoke-user", toolkits=["keyed"])
    second = console_server.create_session(user_id="revoke-user", toolkits=["keyed"])
    account = connect_key(console_server, first)
    assert run_keyed(console_server, second)["data"]["key_seen"] == KEY
    client = login(console_server)
    listing = client.get("/admin/accounts?user_id=revoke-user")
    assert account in listing.text and "ACTIVE" in listing.text
    back = "/admin/accounts?user_id=revoke-user"
    done = client.post(f"/admin/accounts/{account}/revoke",
                       data={"csrf_token": hidden(listing.text, "csrf_token"), "back": back})
    assert done.status_code == 303 and done.headers["location"].startswith("/admin/accounts?user_id=revoke-user")
    for session in (first, second):
        failed = run_keyed(console_server, session)
        assert not failed["successful"] and failed["error_details"]["code"] == "connection_required"
        assert f"{account} was revoked" in failed["error"]
    after = client.get(done.headers["location"])
    assert "REVOKED" in after.text and f"Account {account} is revoked" in after.text
    audit = client.get("/admin/audit").text
    assert "console.revoke" in audit and re.search(r"<td>revoked</td>\s*<td>console</td>", audit)


def test_sessions_filters_pages_and_a_sessions_runs(console_server: LiveServer) -> None:
    made = [console_server.create_session(user_id="pager", toolkits=["math"]) for _ in range(3)]
    other = console_server.create_session(user_id="pager", toolkits=["text"])
    failing = {"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1/0"}}
    console_server.api("POST", f"/sessions/{made[0]['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
                       json={"arguments": {"tools": [failing]}})
    client = login(console_server)
    mine = client.get("/admin/sessions?user_id=pager&toolkit=math")
    ids = re.findall(r'href="/admin/sessions/(sess_[^"]+)"', mine.text)
    assert ids == [s["id"] for s in reversed(made)] and other["id"] not in mine.text
    today = client.get("/admin/sessions?user_id=pager&created_from=2000-01-01&created_to=2999-12-31")
    assert len(re.findall(r'href="/admin/sessions/(sess_[^"]+)"', today.text)) == 4
    assert "No sessions match" in client.get("/admin/sessions?user_id=pager&created_to=2000-01-01").text
    uploaded = console_server.api("PUT", f"/sessions/{made[0]['id']}/files/inputs/report.csv", content=b"a,b\n1,2\n")
    assert uploaded.status_code == 200, uploaded.text
    opened = raw_post(made[0]["mcp"]["url"], initialize_body("console-probe"))
    assert opened.status_code == 200, opened.text
    detail = client.get(f"/admin/sessions/{made[0]['id']}")
    assert detail.status_code == 200 and "inputs/report.csv" in detail.text
    assert "console-probe 9.9" in detail.text and "2025-06-18" in detail.text
    assert "MATH_EVALUATE" in detail.text and "error" in detail.text and "Version 1" in detail.text
    for bad in ("/admin/sessions?after=nonsense", "/admin/sessions?created_from=yesterday",
                f"/admin/sessions/{made[0]['id']}?after=1.5", "/admin/audit?after=1~x~2", "/admin/tools?offset=-1"):
        answer = client.get(bad)
        assert answer.status_code == 400 and 'role="alert"' in answer.text, bad
    assert client.get("/admin/sessions/sess_" + "x" * 32).status_code == 404


def test_keyset_pages_walk_every_session_once(console_server: LiveServer) -> None:
    made = {console_server.create_session(user_id="walker", toolkits=["math"])["id"] for _ in range(55)}
    client = login(console_server)
    seen: list[str] = []
    url: str | None = "/admin/sessions?user_id=walker"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r'href="/admin/sessions/(sess_[^"]+)"', page.text)
        found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 55 and set(seen) == made


def test_tool_search_uses_the_catalog_search(console_server: LiveServer) -> None:
    client = login(console_server)
    found = client.get("/admin/tools", params={"q": "which api key does the service receive"})
    assert found.status_code == 200
    assert re.search(r"<ol class=\"results\">\s*<li><code>KEYED_WHOAMI</code>", found.text)
    scoped = client.get("/admin/tools", params={"q": "add two numbers", "toolkit": "keyed"})
    assert "MATH_" not in scoped.text.split("Toolkits (")[0]
    assert client.get("/admin/tools", params={"toolkit": "nope"}).status_code == 404


def test_no_console_page_contains_a_secret(console_server: LiveServer) -> None:
    session = console_server.create_session(user_id="secret-user", toolkits=["keyed"])
    connect_key(console_server, session)
    run_keyed(console_server, session)
    client = login(console_server)
    for path in [*PAGES, f"/admin/sessions/{session['id']}", "/admin/accounts?user_id=secret-user",
                 "/admin/login"]:
        text = client.get(path).text
        assert API_KEY not in text and KEY not in text and KEY[:12] not in text, path
    assert "csrf_token" in client.get("/admin").text


def test_login_attempts_are_rate_limited(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data").start()
    try:
        client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
        token = hidden(client.get("/admin/login").text, "csrf_token")
        codes = [client.post("/admin/login", data={"csrf_token": token, "admin_key": f"ck_guess_{i}"}).status_code
                 for i in range(12)]
        assert codes[:11] == [401] * 11 and codes[11:] == [429], codes
        blocked = client.post("/admin/login", data={"csrf_token": token, "admin_key": API_KEY})
        assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    finally:
        server.stop()


def test_live_counts_see_a_running_workbench(console_server: LiveServer) -> None:
    client = login(console_server)
    before = client.get("/admin/live").json()
    assert before["upstream_connections"] == 0 and before["upstream_processes"] == 0
    session = console_server.create_session(user_id="live-user", toolkits=["math"])
    ran = console_server.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_REMOTE_WORKBENCH",
                             json={"arguments": {"code_to_execute": "kept = 41 + 1"}})
    assert ran.status_code == 200 and ran.json()["successful"], ran.text
    assert client.get("/admin/live").json()["workbench_processes"] == before["workbench_processes"] + 1
    overview = client.get("/admin")
    assert re.search(r"<dt>Workbench processes</dt><dd>\d+</dd>", overview.text)


@pytest.mark.usefixtures("store_backend")
def test_console_end_to_end_on_each_backend(tmp_path: Path) -> None:
    """Every console query on SQLite and on PostgreSQL: filters, keyset pages, a session's runs,
    accounts with revoke, the merged audit list, logout."""
    api = ResourceApi().start()
    server = LiveServer(tmp_path / "data", toolkit_paths=[write_keyed_toolkit(tmp_path / "kits", api.url)]).start()
    try:
        made = [server.create_session(user_id="both", toolkits=["keyed"]) for _ in range(3)]
        server.create_session(user_id="both", toolkits=["math"])
        account = connect_key(server, made[0])
        assert run_keyed(server, made[0])["successful"]
        client = login(server)
        page = client.get("/admin/sessions?user_id=both&toolkit=keyed&created_from=2000-01-01")
        assert re.findall(r'href="/admin/sessions/(sess_[^"]+)"', page.text) == [s["id"] for s in reversed(made)]
        detail = client.get(f"/admin/sessions/{made[0]['id']}")
        assert "KEYED_WHOAMI" in detail.text and "success" in detail.text
        listing = client.get("/admin/accounts?user_id=both")
        done = client.post(f"/admin/accounts/{account}/revoke", data={"csrf_token": hidden(listing.text, "csrf_token")})
        assert done.status_code == 303
        assert f"{account} was revoked" in run_keyed(server, made[0])["error"]
        audit = client.get("/admin/audit").text
        assert "console.revoke" in audit and "console.login" in audit and "activated" in audit
        assert client.post("/admin/logout", data={"csrf_token": hidden(audit, "csrf_token")}).status_code == 303
        assert client.get("/admin").status_code == 303
    finally:
        server.stop()
        api.stop()


def test_a_reset_admin_key_ends_every_console_login(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data").start()
    try:
        client = login(server)
        assert client.get("/admin").status_code == 200
        server.stop()
        server.overrides["api_key"] = "ck_the_new_admin_key_0123456789"
        server.serve(lambda: build_app(server.settings(), announce=server.lines.append, reset_admin_key=True))
        assert client.get("/admin").status_code == 303, "the old login is gone with the old key"
        assert login(server, "ck_the_new_admin_key_0123456789").get("/admin").status_code == 200
    finally:
        server.stop()


def test_a_sessions_executions_page_by_keyset(console_server: LiveServer) -> None:
    session = console_server.create_session(user_id="runs-user", toolkits=["math"])
    calls = [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": f"{i} + 1"}} for i in range(30)]
    ran = console_server.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
                             json={"arguments": {"tools": calls}})
    assert ran.status_code == 200 and ran.json()["successful"], ran.text
    client = login(console_server)
    rows = 0
    url: str | None = f"/admin/sessions/{session['id']}"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        rows += len(re.findall(r"<td><code>MATH_EVALUATE</code></td>", page.text))
        found = re.search(r'<a href="([^"]+)" rel="next">Older runs</a>', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert (rows, pages) == (30, 2)
