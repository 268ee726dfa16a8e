"""Issue 2: the REST API under /api/v1 with the admin key."""

from __future__ import annotations

import httpx
import pytest

from tests.live import LiveServer
from tests.postgres import both_backends


def test_admin_key_required(server: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"x-api-key": "wrong"}, {"Authorization": "Basic x"}):
        response = server.api("GET", "/toolkits", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    response = server.api("POST", "/sessions", headers={}, json={"user_id": "u"})
    assert response.status_code == 401
    assert server.api("GET", "/toolkits", headers={"x-api-key": server.headers["Authorization"][7:]}).status_code == 200


@both_backends
def test_session_lifecycle(server: LiveServer) -> None:
    created = server.create_session(user_id="alice", toolkits=["datetime", "math"])
    sid = created["id"]
    assert sid.startswith("sess_") and len(sid) >= 5 + 32
    assert created["mcp"]["url"] == f"{server.url}/mcp/{sid}"
    assert created["config_version"] == 1 and created["allowed_tool_count"] > 5
    got = server.api("GET", f"/sessions/{sid}").json()
    assert got["config"] == created["config"] and got["clients"] == []

    patched = server.api("PATCH", f"/sessions/{sid}", json={"toolkits": ["math"]}).json()
    assert patched["id"] == sid and patched["config_version"] == 2
    assert patched["config"]["toolkits"] == {"enable": ["math"]}
    assert patched["allowed_tool_count"] < created["allowed_tool_count"]

    removed = server.api("PATCH", f"/sessions/{sid}", json={"toolkits": None}).json()
    assert "toolkits" not in removed["config"] and removed["config_version"] == 3

    server.create_session(user_id="alice")
    server.create_session(user_id="bob")
    listed = server.api("GET", "/sessions", params={"user_id": "alice"}).json()["items"]
    assert len(listed) == 2 and {s["user_id"] for s in listed} == {"alice"}

    assert server.api("DELETE", f"/sessions/{sid}").status_code == 204
    gone = server.api("GET", f"/sessions/{sid}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert server.api("DELETE", f"/sessions/{sid}").status_code == 404


@both_backends
def test_optimistic_concurrency(server: LiveServer) -> None:
    sid = server.create_session()["id"]
    ok = server.api("PATCH", f"/sessions/{sid}", json={"toolkits": ["math"], "expected_config_version": 1})
    assert ok.status_code == 200
    stale = server.api("PATCH", f"/sessions/{sid}", json={"toolkits": ["text"], "expected_config_version": 1})
    assert stale.status_code == 409
    assert stale.json()["error"]["details"] == {"config_version": 2, "expected_config_version": 1}
    assert server.api("GET", f"/sessions/{sid}").json()["config"]["toolkits"] == {"enable": ["math"]}
    for same in ({}, {"toolkits": ["math"]}, {"toolkits": ["math"], "expected_config_version": 2}):
        unchanged = server.api("PATCH", f"/sessions/{sid}", json=same)  # nothing changes: no new version
        assert unchanged.status_code == 200 and unchanged.json()["config_version"] == 2, (same, unchanged.text)
    stale_noop = server.api("PATCH", f"/sessions/{sid}", json={"toolkits": ["math"], "expected_config_version": 1})
    assert stale_noop.status_code == 409  # a stale version is refused even when the options are the same


@pytest.mark.parametrize(("body", "needle", "status"), [  # 400: against the schema; 422: valid shape, bad meaning
    ({"user_id": "u", "toolkits": ["mathz"]}, "did you mean math", 422),
    ({"user_id": "u", "toolkits": {"enabled": ["math"]}}, "did you mean 'enable'", 400),
    ({"user_id": "default"}, "allow_default_user", 422),
    ({"toolkits": ["math"]}, "user_id", 400),
    ({"user_id": "u", "tools": {"math": ["MATH_NOPE"]}}, "unknown tool of math", 422),
])
def test_bad_session_bodies(server: LiveServer, body: dict, needle: str, status: int) -> None:
    response = server.api("POST", "/sessions", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and needle in error["message"]


def test_malformed_body_and_unchanged_state(server: LiveServer) -> None:
    sid = server.create_session()["id"]
    for content in (b"{bad json", b"[1, 2]"):
        response = server.api("PATCH", f"/sessions/{sid}", content=content)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"
    response = server.api("PATCH", f"/sessions/{sid}", json={"toolkits": ["nope"]})
    assert response.status_code == 422
    assert server.api("GET", f"/sessions/{sid}").json()["config_version"] == 1


def test_catalog_endpoints(server: LiveServer) -> None:
    toolkits = server.api("GET", "/toolkits").json()["items"]
    slugs = {t["slug"] for t in toolkits}
    assert {"datetime", "math", "text", "sqlite", "http"} <= slugs
    datetime = server.api("GET", "/toolkits/datetime").json()
    assert datetime["is_no_auth"] and "DATETIME_CONVERT_TIMEZONE" in datetime["tools"]
    assert "did you mean datetime" in server.api("GET", "/toolkits/datetme").json()["error"]["message"]
    found = server.api("GET", "/tools", params={"search": "convert time zone", "toolkit": "datetime"}).json()
    assert found["items"][0]["slug"] == "DATETIME_CONVERT_TIMEZONE"
    assert all(t["toolkit"] == "math" for t in server.api("GET", "/tools", params={"toolkit": "math"}).json()["items"])
    tool = server.api("GET", "/tools/DATETIME_CONVERT_TIMEZONE").json()
    assert tool["kind"] == "local" and tool["input_schema"]["type"] == "object"
    assert server.api("GET", "/tools/NOPE").status_code == 404


def test_a_tool_call_body_with_a_misspelt_key_is_refused_not_run_without_arguments(server: LiveServer) -> None:
    session = server.create_session(toolkits=["math"])
    path = f"/sessions/{session['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL"
    run = {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "2+3"}}]}
    typo = server.api("POST", path, json={"argument": run})
    assert typo.status_code == 400 and "unknown option 'argument'" in typo.json()["error"]["message"]
    assert server.api("GET", f"/sessions/{session['id']}/executions").json()["items"] == []
    ran = server.api("POST", path, json={"arguments": run})
    assert ran.status_code == 200 and ran.json()["successful"], ran.text
    log_id = ran.json()["data"]["results"][0]["response"]["log_id"]
    assert server.api("GET", f"/executions/{log_id}").json()["source"] == "api"  # not "mcp": it came over REST
    schema = server.api("GET", "/openapi.json").json()["components"]["schemas"]["ToolCallIn"]
    assert schema["additionalProperties"] is False


def test_the_tool_listing_pages_with_offset_and_refuses_bad_values(server: LiveServer) -> None:
    whole = server.api("GET", "/tools", params={"limit": 1000}).json()
    slugs = [t["slug"] for t in whole["items"]]
    pages = [server.api("GET", "/tools", params={"limit": 7, "offset": offset}).json() for offset in range(0, 21, 7)]
    assert [t["slug"] for page in pages for t in page["items"]] == slugs[:21]
    assert {page["total"] for page in pages} == {whole["total"]}
    first = server.api("GET", "/tools", params={"search": "add numbers", "limit": 6}).json()["items"]
    found = [t["slug"] for t in first]
    later = server.api("GET", "/tools", params={"search": "add numbers", "limit": 3, "offset": 3}).json()["items"]
    assert [t["slug"] for t in later] == found[3:6]
    for params in ({"offset": -1}, {"limit": 0}, {"offset": "x"}):
        refused = server.api("GET", "/tools", params=params)
        assert refused.status_code == 400, (params, refused.text)


def test_openapi_document(server: LiveServer) -> None:
    doc = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/sessions", "/api/v1/sessions/{session_id}", "/api/v1/toolkits", "/api/v1/tools/{slug}"} <= set(
        doc["paths"])
    assert "SessionOut" in doc["components"]["schemas"]


def test_default_user_allowed_when_configured(tmp_path) -> None:  # noqa: ANN001
    live = LiveServer(tmp_path / "d", allow_default_user=True).start()
    try:
        session = live.create_session(user_id="default")
        assert any("default" in w for w in session["warnings"])
    finally:
        live.stop()
