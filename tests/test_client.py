"""Issue 6: the Python client against a real server; every test runs with the sync and the async client.

Test bodies are async; the sync client is wrapped by `Awaiting` so the same body checks both.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.client import (
    AccountNotActiveError,
    APIConnectionError,
    AsyncConcierge,
    AuthenticationError,
    Concierge,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    WaitTimeoutError,
)
from server.client._base import RetryPolicy
from tests.auth_fixtures import hidden_fields
from tests.live import API_KEY, LiveServer

pytestmark = pytest.mark.anyio
FIXTURE_TOOLKITS = Path(__file__).parent / "fixtures" / "toolkits"
META_TOOLS = {"COMPOSIO_SEARCH_TOOLS", "COMPOSIO_GET_TOOL_SCHEMAS", "COMPOSIO_MULTI_EXECUTE_TOOL"}
FAST_RETRIES = RetryPolicy(max_retries=2, backoff=0.01)


class Awaiting:
    """The sync client's objects with every method made awaitable (the call itself still blocks)."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return _awaiting(value)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return _awaiting(value(*args, **kwargs))

        return call


def _awaiting(value: Any) -> Any:
    if isinstance(value, list):
        return [_awaiting(v) for v in value]
    return Awaiting(value) if type(value).__module__ == "server.client._sync" else value


Connect = Callable[..., Any]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("client") / "data", toolkit_paths=[FIXTURE_TOOLKITS]).start()
    yield server
    server.stop()


@pytest.fixture(params=["sync", "async"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    """`connect(base_url, **options)` -> a client of this test's flavour, closed after the test."""
    flavour = request.param
    opened: list[Any] = []

    def make(base_url: str | None, *, api_key: str | None = API_KEY, transport: Any = None,
             retry: RetryPolicy | None = None, on_request: Callable[[], None] | None = None) -> Any:
        hook_sync = (lambda _request: on_request()) if on_request else None

        async def hook_async(_request: httpx.Request) -> None:
            hook_sync(_request)  # type: ignore[misc]

        hooks = {"request": [hook_sync if flavour == "sync" else hook_async]} if on_request else {}
        http = (httpx.Client if flavour == "sync" else httpx.AsyncClient)(transport=transport, event_hooks=hooks)
        client = (Concierge if flavour == "sync" else AsyncConcierge)(base_url, api_key, http_client=http)
        client.retry = retry or client.retry
        opened.append(client)
        return Awaiting(client) if flavour == "sync" else client

    yield make
    for client in opened:
        if isinstance(client, AsyncConcierge):
            await client.aclose()
        else:
            client.close()


def user() -> str:
    return f"user_{uuid.uuid4().hex[:8]}"


async def test_seed_snippet(live: LiveServer, connect: Connect) -> None:
    """create -> tools() / mcp.url -> use -> update: same id, new filter, tools() follows."""
    concierge = connect(live.url)
    session = await concierge.create(user_id="user_123", toolkits=["datetime", "demo"])
    assert session.id.startswith("sess_") and session.user_id == "user_123" and session.config_version == 1
    tools = await session.tools()
    assert {t["name"] for t in tools} >= META_TOOLS
    assert all(t["input_schema"]["type"] == "object" and t["description"] for t in tools)
    mcp_url = session.mcp.url
    assert mcp_url == f"{live.url}/mcp/{session.id}"

    same = await concierge.use(session.id)
    assert (same.id, same.config, same.mcp.url) == (session.id, session.config, mcp_url)

    await same.update(toolkits=["demo"], preload={"tools": ["DEMO_ECHO"]})
    assert same.id == session.id and same.config_version == 2
    assert same.config["toolkits"] == {"enable": ["demo"]}
    names = {t["name"] for t in await same.tools()}
    assert names == {t["name"] for t in tools} | {"DEMO_ECHO"}
    found = await same.search("repeat a piece of text back")
    assert found["results"][0]["primary_tool_slugs"][0] == "DEMO_ECHO"
    assert not [s for s in found["tool_schemas"] if s.startswith("DATETIME_")]

    await session.refresh()
    assert session.config == same.config and session.config_version == 2
    async with Client(mcp_url) as mcp:  # the MCP URL serves the same, updated session
        assert {t.name for t in (await mcp.list_tools()).tools} == names


def complete_connect_link(url: str, token: str) -> None:
    """What the user does with a Connect Link for an API-token scheme: open the form, submit the token."""
    with httpx.Client(timeout=10) as browser:
        form = browser.get(url)
        assert form.status_code == 200, form.text
        done = browser.post(url, data={**hidden_fields(form.text), "token": token})
    assert done.status_code == 200 and "connected" in done.text, done.text


async def test_seed_snippet_authorize_and_wait(live: LiveServer, connect: Connect) -> None:
    """authorize -> redirect_url -> wait_for_connection, then the seed's update with real ids."""
    concierge = connect(live.url)
    owner = user()
    config = await concierge.auth_configs.create("github", auth_scheme="bearer_token", name="PAT")
    assert config.id.startswith("ac_") and config.auth_scheme == "BEARER_TOKEN"
    session = await concierge.create(user_id=owner, toolkits=["github"], auth_configs={"github": config.id})
    [github] = await session.toolkits()
    assert github.slug == "github" and github.connection["is_active"] is False

    request = await session.authorize("github")
    assert request.id.startswith("ca_") and request.status == "INITIATED"
    assert request.redirect_url.startswith(f"{live.url}/connect/")
    user_acts = threading.Timer(0.3, complete_connect_link, (request.redirect_url, "ghp_secret_123456"))
    user_acts.start()
    account = await request.wait_for_connection(timeout=10, poll_interval=0.1)
    user_acts.join()
    assert (account.id, account.status, account.user_id) == (request.id, "ACTIVE", owner)
    assert "ghp_secret_123456" not in account.model_dump_json()
    assert [t.slug for t in await session.toolkits(is_connected=True)] == ["github"]

    await session.update(toolkits=["github", "datetime"], auth_configs={"github": config.id},
                         connected_accounts={"github": [account.id]})
    assert session.config["connected_accounts"] == {"github": [account.id]}
    assert [a.id for a in await concierge.connected_accounts.list(user_id=owner, toolkit="github")] == [account.id]
    assert (await concierge.connected_accounts.get(account.id)).status == "ACTIVE"
    assert [c.id for c in await concierge.auth_configs.list(toolkit="github")].count(config.id) == 1
    assert (await concierge.auth_configs.update(config.id, name="renamed")).name == "renamed"


async def test_wait_for_connection_ends_on_timeout_or_a_final_state(live: LiveServer, connect: Connect) -> None:
    concierge = connect(live.url)
    config = await concierge.auth_configs.create("github", auth_scheme="bearer_token")
    session = await concierge.create(user_id=user(), toolkits=["github"], auth_configs={"github": config.id})
    pending = await session.authorize("github", alias="work")
    with pytest.raises(WaitTimeoutError) as late:
        await pending.wait_for_connection(timeout=0.3, poll_interval=0.1)
    assert late.value.account.status == "INITIATED"

    assert (await concierge.connected_accounts.revoke(pending.id)).account.status == "REVOKED"
    with pytest.raises(AccountNotActiveError) as ended:
        await pending.wait_for_connection(timeout=5)
    assert ended.value.account.status == "REVOKED" and pending.status == "REVOKED"

    await concierge.connected_accounts.delete(pending.id)
    with pytest.raises(NotFoundError):
        await concierge.connected_accounts.get(pending.id)
    await concierge.auth_configs.delete(config.id)
    with pytest.raises(NotFoundError):
        await concierge.auth_configs.get(config.id)


async def test_update_is_partial_with_optimistic_concurrency(live: LiveServer, connect: Connect) -> None:
    concierge = connect(live.url)
    session = await concierge.create(user_id=user(), toolkits=["demo"], tags=["readOnlyHint"])
    await session.update(tags=None)
    assert "tags" not in session.config and session.config["toolkits"] == {"enable": ["demo"]}

    seen = session.config_version
    other = await concierge.use(session.id)
    await other.update(toolkits=["datetime"], expected_config_version=seen)
    with pytest.raises(ConflictError) as caught:
        await session.update(toolkits=["demo"], expected_config_version=seen)
    assert caught.value.status_code == 409 and caught.value.code == "conflict"
    assert str(seen) in caught.value.message
    await session.refresh()
    assert session.config["toolkits"] == {"enable": ["datetime"]} and session.config_version == seen + 1


async def test_execute_search_and_tool_calls(live: LiveServer, connect: Connect) -> None:
    session = await connect(live.url).create(user_id="user_42", toolkits=["demo"])
    echoed = await session.execute("DEMO_ECHO", {"text": "hi", "times": 2})
    assert echoed.successful and echoed.data == {"text": "hihi", "user_id": "user_42"}
    assert echoed.log_id.startswith("log_")

    typo = await session.execute("DEMO_ECHOO", {"text": "hi"})
    assert not typo.successful and "DEMO_ECHO" in typo.error_details["details"]["suggestions"]
    failing = await session.execute("DEMO_FAIL")
    assert not failing.successful and failing.error_details["code"] == "tool_error"
    meta = await session.execute("COMPOSIO_GET_TOOL_SCHEMAS", {"tool_slugs": ["DEMO_ECHO"]})
    assert meta.successful and "DEMO_ECHO" in meta.data["tool_schemas"]

    message = {"role": "assistant", "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "COMPOSIO_SEARCH_TOOLS",
         "input": {"queries": [{"use_case": "echo some text"}]}},
        {"type": "tool_use", "id": "toolu_2", "name": "COMPOSIO_MULTI_EXECUTE_TOOL",
         "input": {"tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "yo"}}]}},
    ]}
    [reply] = await session.handle_tool_calls(message)
    assert reply["role"] == "user" and [b["tool_use_id"] for b in reply["content"]] == ["toolu_1", "toolu_2"]
    assert not any(b["is_error"] for b in reply["content"]) and '"text":"yo"' in reply["content"][1]["content"]


async def test_sessions_list_and_delete(live: LiveServer, connect: Connect) -> None:
    concierge = connect(live.url)
    owner = user()
    first, second = [await concierge.create(user_id=owner, toolkits=["demo"]) for _ in range(2)]
    assert {s.id for s in await concierge.sessions.list(user_id=owner)} == {first.id, second.id}
    await concierge.sessions.delete(first.id)
    with pytest.raises(NotFoundError):
        await concierge.use(first.id)
    await second.delete()
    assert await concierge.sessions.list(user_id=owner) == []


async def test_errors_carry_the_servers_code_and_message(live: LiveServer, connect: Connect) -> None:
    concierge = connect(live.url)
    missing = "sess_" + "x" * 32
    with pytest.raises(NotFoundError) as caught:
        await concierge.use(missing)
    assert caught.value.status_code == 404 and caught.value.code == "not_found"
    assert caught.value.message == live.api("GET", f"/sessions/{missing}").json()["error"]["message"]

    with pytest.raises(AuthenticationError) as denied:
        await connect(live.url, api_key="ck_wrong").use(missing)
    assert denied.value.status_code == 401 and denied.value.message == "invalid API key"

    with pytest.raises(InvalidRequestError) as invalid:
        await concierge.create(user_id="user_1", toolkits={"enabled": ["demo"]})
    assert invalid.value.details["problems"][0]["did_you_mean"] == "enable"

    session = await concierge.create(user_id="user_1", toolkits=["demo"])
    with pytest.raises(InvalidRequestError) as refused:  # a meta tool's failed envelope, same error types
        await session.search("x" * 2000)
    assert refused.value.status_code is None and "use_case" in refused.value.message


async def test_config_from_environment(live: LiveServer, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_BASE_URL", live.url)
    monkeypatch.setenv("CONCIERGE_API_KEY", API_KEY)
    session = await connect(None, api_key=None).create(user_id="user_1")
    assert session.mcp.url.startswith(live.url)
    monkeypatch.delenv("CONCIERGE_API_KEY")
    with pytest.raises(ConfigurationError, match="CONCIERGE_API_KEY"):
        connect(None, api_key=None)


async def test_retries_5xx_and_connection_errors_but_not_4xx(connect: Connect) -> None:
    seen: list[str] = []
    script: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, json={"error": {"code": "x", "message": f"status {step}", "details": {}}})

    concierge = connect("http://concierge.test", transport=httpx.MockTransport(answer), retry=FAST_RETRIES)

    script[:] = [503, httpx.ConnectError("refused"), 404]
    with pytest.raises(NotFoundError, match="status 404"):
        await concierge.use("sess_1")
    assert seen == ["GET /api/v1/sessions/sess_1"] * 3

    seen.clear()
    script[:] = [400]
    with pytest.raises(InvalidRequestError):
        await concierge.create(user_id="u")
    assert len(seen) == 1

    seen.clear()
    script[:] = [500]  # a POST's 500 may follow a tool that ran: not repeated
    with pytest.raises(ServerError):
        await concierge.create(user_id="u")
    assert len(seen) == 1

    seen.clear()
    script[:] = [500, 502, 500]
    with pytest.raises(ServerError, match="status 500"):
        await concierge.use("sess_1")
    assert len(seen) == 3

    seen.clear()
    script[:] = [httpx.ConnectError("refused")] * 3
    with pytest.raises(APIConnectionError, match="concierge.test"):
        await concierge.create(user_id="u")
    assert len(seen) == 3


async def test_server_restart_in_the_middle_of_a_loop(tmp_path: Path, connect: Connect) -> None:
    server = LiveServer(tmp_path / "data", toolkit_paths=[FIXTURE_TOOLKITS]).start()
    sent = 0

    def count() -> None:
        nonlocal sent
        sent += 1

    try:
        concierge = connect(server.url, on_request=count)
        session = await concierge.create(user_id="user_1", toolkits=["demo"])
        go = threading.Event()
        restarter = threading.Thread(target=lambda: (go.wait(), server.restart()))
        restarter.start()
        done = after_restart = 0
        while done < 10 or restarter.is_alive() or after_restart < 5:
            if done == 5:
                go.set()
            result = await session.execute("DEMO_ECHO", {"text": str(done)})
            await session.refresh()
            assert result.successful and result.data["text"] == str(done)
            done += 1
            after_restart += not restarter.is_alive() and go.is_set()
        restarter.join()
        assert sent > 2 * done + 1, "no request was retried: the restart did not fall inside the loop"
    finally:
        server.stop()
