"""Property-based fuzzing (hypothesis) of the JSON-RPC surface and of every meta tool's arguments:
whatever arrives (wrong types, unknown methods, odd ids, batches, huge strings, deep nesting, unicode,
nulls), the answer is a JSON-RPC result or a clear JSON-RPC / 4xx error, never a 5xx, and the server
keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.meta_tools.registry import CORE_META_TOOLS
from tests.live import LiveServer
from tests.mcp_helpers import JSONRPC_HEADERS, initialize_body

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
METHODS = ["initialize", "ping", "tools/list", "tools/call", "resources/list", "prompts/list", "logging/setLevel",
           "completion/complete", "notifications/initialized", "notifications/cancelled", "server/discover"]

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
           | st.sampled_from(["", "\x00", "\ud7ff\ufffd", "💥" * 50, "x" * 100_000, "${jndi:ldap://x}"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=25)


def deep(levels: int) -> Any:
    value: Any = None
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


ids = st.none() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False) | st.booleans() | json_values
messages = st.fixed_dictionaries({}, optional={
    "jsonrpc": st.sampled_from(["2.0", "1.0", None, 2]), "id": ids,
    "method": st.sampled_from(METHODS) | st.text(max_size=20) | json_values,
    "params": json_values | st.builds(deep, st.integers(min_value=10, max_value=2000)),
    "result": json_values, "error": json_values,
})
bodies = (messages.map(json.dumps) | st.lists(messages, max_size=3).map(json.dumps)
          | json_values.map(json.dumps) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, httpx.Client]]:
    live = LiveServer(tmp_path_factory.mktemp("fuzz") / "data", max_json_depth=64).start()
    session = live.create_session(user_id="fuzzer", toolkits=["math", "text", "datetime"])
    with httpx.Client(timeout=60, headers=JSONRPC_HEADERS) as http:
        yield live, f"{live.url}/mcp/{session['id']}", http
    live.stop()


def _check(answer: httpx.Response, sent: Any) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:500], str(sent)[:300])
    if answer.status_code == 202:
        items = sent if isinstance(sent, list) else [sent]
        assert all(isinstance(i, dict) and "id" not in i for i in items), f"a request got a silent 202: {sent!r:.300}"
        return
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    body = answer.json()
    replies = body if isinstance(body, list) else [body]
    for reply in replies:
        assert reply.get("jsonrpc") == "2.0" and ("result" in reply) != ("error" in reply), reply
        if "error" in reply:
            assert isinstance(reply["error"]["code"], int) and reply["error"]["message"], reply
    if answer.status_code >= 400:
        assert all("error" in r for r in replies)


@FUZZ
@given(body=bodies)
def test_any_jsonrpc_body_gets_a_clear_answer(fuzz_server: tuple[LiveServer, str, httpx.Client], body: str) -> None:
    _, url, http = fuzz_server
    answer = http.post(url, content=body.encode("utf-8", "surrogatepass"))
    try:
        sent = json.loads(body)
    except ValueError:
        sent = body
    _check(answer, sent)


def _schema_keys(name: str) -> list[str]:
    tool = next(t for t in CORE_META_TOOLS if t.name == name)
    return sorted(tool.input_schema.get("properties", {}))


@pytest.mark.parametrize("tool", [t.name for t in CORE_META_TOOLS])
def test_every_meta_tool_survives_any_arguments(fuzz_server: tuple[LiveServer, str, httpx.Client], tool: str) -> None:
    live, url, http = fuzz_server
    keys = _schema_keys(tool)
    arguments = st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), json_values, max_size=4) if keys \
        else st.dictionaries(st.text(max_size=8), json_values, max_size=3)

    @settings(FUZZ, max_examples=25)
    @given(args=arguments | json_values)
    def run(args: Any) -> None:
        sent = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
        answer = http.post(url, json=sent)
        _check(answer, sent)
        reply = answer.json()
        if "result" in reply:
            envelope = json.loads(reply["result"]["content"][0]["text"])
            assert set(envelope) >= {"data", "error", "successful"}
            assert envelope["successful"] or envelope["error"], envelope

    run()
    assert http.post(url, content=initialize_body()).status_code == 200, "still serving"
    assert live.api("GET", "/toolkits").status_code == 200


def test_server_still_healthy_after_fuzzing(fuzz_server: tuple[LiveServer, str, httpx.Client]) -> None:
    live, url, http = fuzz_server
    assert httpx.get(f"{live.url}/readyz", timeout=30).status_code == 200
    listed = http.post(url, json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}).json()
    assert "COMPOSIO_SEARCH_TOOLS" in [t["name"] for t in listed["result"]["tools"]]
