"""The executor against five providers' wire formats (tests/wire_standin.py): every pagination style
behind one `max_results`, rate-limit retries inside the budget, provider error bodies as one sentence,
prepare/transform hooks, and the same through a real server's COMPOSIO_MULTI_EXECUTE_TOOL."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from server.catalog.catalog import apply_override
from server.catalog.loader import load_toolkits
from server.catalog.model import Toolkit
from server.errors import ToolError, UpstreamError
from server.execute import http_tool, retry
from server.execute.credentials import Credential
from tests.live import LiveServer, ThreadedServer
from tests.wire_standin import ITEMS, WireStandin

FIXTURES = Path(__file__).parent / "fixtures" / "wire_toolkits"
PATHS = {"wslack": "/slack/api", "wgoogle": "/gmail/v1", "wjira": "/rest/api/3", "wgraph": "", "wgithub": ""}


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[WireStandin, ThreadedServer]]:
    api = WireStandin()
    server = ThreadedServer()
    server.serve(api.app)
    yield api, server
    server.stop()


@pytest.fixture
def kits(standin: tuple[WireStandin, ThreadedServer]) -> dict[str, Toolkit]:
    api, server = standin
    api.requests.clear()
    api.queued.clear()
    return {tk.slug: apply_override(tk, {"base_url": server.url + PATHS[tk.slug]}) for tk in load_toolkits([FIXTURES])}


async def run(toolkit: Toolkit, slug: str, arguments: dict[str, Any]) -> Any:
    tool = toolkit.tools[slug]
    client = http_tool.new_client(20)

    async def exchange(args: dict[str, Any], url: str | None) -> http_tool.HttpResponse:
        request = http_tool.build_request(tool, toolkit, args, Credential(None), url)
        return await http_tool.send(client, request, 1 << 20)

    try:
        return await http_tool.run(tool, toolkit, arguments, exchange)
    finally:
        await client.close()


@pytest.mark.anyio
@pytest.mark.parametrize(("kit", "slug", "arguments", "pages"), [
    ("wslack", "WSLACK_HISTORY", {"channel": "C1"}, 2),            # cursor in response_metadata, limit 3
    ("wgoogle", "WGOOGLE_LIST_MESSAGES", {"q": "in:inbox", "maxResults": 3}, 2),  # pageToken/nextPageToken
    ("wjira", "WJIRA_SEARCH", {"jql": "project = A"}, 3),          # startAt + total, page size capped at 2
    ("wgraph", "WGRAPH_ISSUES", {}, 2),                           # pageInfo endCursor, first capped at 4
    ("wgithub", "WGITHUB_ISSUES", {"owner": "o", "repo": "r"}, 2),  # Link header, per_page capped at 3
])
async def test_every_page_style_gathers_exactly_max_results_and_says_where_to_continue(
        kits: dict[str, Toolkit], standin: tuple[WireStandin, ThreadedServer], kit: str, slug: str,
        arguments: dict[str, Any], pages: int) -> None:
    api, _ = standin
    got = await run(kits[kit], slug, {**arguments, "max_results": 5})
    assert [m["id"] for m in got["items"]] == ["m1", "m2", "m3", "m4", "m5"]
    assert got["has_more"] is True and got["next_cursor"]
    assert len(api.requests) == pages
    assert all("max_results" not in r["query"] and "max_results" not in r["body"] for r in api.requests)
    cursor_arg = kits[kit].tools[slug].http.pagination.cursor_param  # type: ignore[union-attr]
    rest = await run(kits[kit], slug, {**arguments, cursor_arg: got["next_cursor"], "max_results": 50})
    assert rest["has_more"] is False and rest["next_cursor"] is None
    assert len(got["items"]) + len(rest["items"]) >= len(ITEMS) - 1  # a page cut at max_results may skip its tail
    assert rest["items"][-1]["id"] == "m7"


@pytest.mark.anyio
async def test_without_max_results_one_page_comes_back_with_its_cursor(
        kits: dict[str, Toolkit], standin: tuple[WireStandin, ThreadedServer]) -> None:
    got = await run(kits["wslack"], "WSLACK_HISTORY", {"channel": "C1", "limit": 2})
    assert [m["id"] for m in got["items"]] == ["m1", "m2"] and got["has_more"] is True
    assert base64.b64decode(got["next_cursor"]) == b"offset:2" and len(standin[0].requests) == 1


@pytest.mark.anyio
async def test_429_with_retry_after_seconds_or_date_is_retried_within_the_budget(
        kits: dict[str, Toolkit], standin: tuple[WireStandin, ThreadedServer]) -> None:
    api, _ = standin
    api.fail_next("/gmail/v1/users/me/messages", 429, {"Retry-After": "1"},
                  {"error": {"code": 429, "message": "Rate Limit Exceeded"}})
    api.fail_next("/gmail/v1/users/me/messages", 503, {"Retry-After": formatdate(time.time() + 1, usegmt=True)},
                  {"error": {"code": 503, "message": "Backend Error"}})
    started = time.monotonic()
    got = await run(kits["wgoogle"], "WGOOGLE_LIST_MESSAGES", {"maxResults": 2})
    assert [m["id"] for m in got["items"]] == ["m1", "m2"] and len(api.requests) == 3
    assert 0.9 <= time.monotonic() - started < 8


@pytest.mark.anyio
async def test_slack_ratelimited_body_and_discord_retry_after_body_are_retried(
        kits: dict[str, Toolkit], standin: tuple[WireStandin, ThreadedServer]) -> None:
    api, _ = standin
    api.fail_next("/slack/api/conversations.history", 200, {}, {"ok": False, "error": "ratelimited"})
    got = await run(kits["wslack"], "WSLACK_HISTORY", {"channel": "C1", "limit": 1})
    assert got["items"] == [ITEMS[0]] and len(api.requests) == 2
    api.fail_next("/repos/o/r/issues", 429, {}, {"message": "You are being rate limited.", "retry_after": 0.2,
                                                 "global": False})
    got = await run(kits["wgithub"], "WGITHUB_ISSUES", {"owner": "o", "repo": "r", "per_page": 2})
    assert len(got["items"]) == 2 and len(api.requests) == 4


@pytest.mark.anyio
async def test_a_graphql_rate_limit_code_is_retried_with_backoff(kits: dict[str, Toolkit],
                                                                  standin: tuple[WireStandin, ThreadedServer]) -> None:
    api, _ = standin
    api.fail_next("/graphql", 400, {}, {"errors": [{"message": "Rate limit exceeded",
                                                    "extensions": {"code": "RATELIMITED"}}]})
    got = await run(kits["wgraph"], "WGRAPH_ISSUES", {"first": 2})
    assert [i["id"] for i in got["items"]] == ["m1", "m2"] and len(api.requests) == 2


@pytest.mark.anyio
async def test_a_wait_longer_than_the_budget_fails_at_once_with_a_clear_sentence(
        kits: dict[str, Toolkit], standin: tuple[WireStandin, ThreadedServer]) -> None:
    api, _ = standin
    api.fail_next("/slack/api/conversations.history", 429, {"Retry-After": "120"},
                  {"ok": False, "error": "ratelimited"})
    started = time.monotonic()
    with pytest.raises(UpstreamError) as raised:
        await run(kits["wslack"], "WSLACK_HISTORY", {"channel": "C1"})
    assert time.monotonic() - started < 2
    assert str(raised.value) == ("WireSlack is rate limiting WSLACK_HISTORY (HTTP 429: ratelimited); gave up after 1 "
                                 "attempt and 0.0 s of waiting; try again in 120 s.")
    assert raised.value.details["rate_limited"] is True and raised.value.details["retry_after"] == "120"
    for _ in range(4):  # max_attempts 4: the fourth rate limit in a row ends it
        api.fail_next("/slack/api/conversations.history", 200, {}, {"ok": False, "error": "ratelimited"})
    with pytest.raises(UpstreamError, match="gave up after 4 attempts"):
        await run(kits["wslack"], "WSLACK_HISTORY", {"channel": "C1"})


@pytest.mark.anyio
@pytest.mark.parametrize(("kit", "slug", "arguments", "sentence", "kind"), [
    ("wslack", "WSLACK_HISTORY", {"channel": "C404"}, "WireSlack refused WSLACK_HISTORY: channel_not_found.",
     ToolError),
    ("wgoogle", "WGOOGLE_LIST_MESSAGES", {"q": "missing"},
     "WireGoogle refused WGOOGLE_LIST_MESSAGES (HTTP 404 Not Found): Requested entity was not found.", ToolError),
    ("wjira", "WJIRA_SEARCH", {"jql": "project = NOPE"},
     "WireJira refused WJIRA_SEARCH (HTTP 400 Bad Request): The value 'NOPE' does not exist for the field "
     "'project'.", ToolError),
    ("wjira", "WJIRA_SEARCH", {"jql": "bad fields"},
     "WireJira refused WJIRA_SEARCH (HTTP 400 Bad Request): summary: You must specify a summary.", ToolError),
    ("wgraph", "WGRAPH_ISSUES", {"filter": "bad"}, "WireGraph refused WGRAPH_ISSUES: Argument Validation Error.",
     ToolError),
])
async def test_provider_error_bodies_become_one_sentence(kits: dict[str, Toolkit], kit: str, slug: str,
                                                         arguments: dict[str, Any], sentence: str,
                                                         kind: type[Exception]) -> None:
    with pytest.raises(kind) as raised:
        await run(kits[kit], slug, arguments)
    assert str(raised.value) == sentence


@pytest.mark.anyio
async def test_prepare_builds_base64url_mime_and_transform_shapes_the_result(
        kits: dict[str, Toolkit], standin: tuple[WireStandin, ThreadedServer]) -> None:
    got = await run(kits["wgoogle"], "WGOOGLE_SEND", {"to": "bob@example.com", "subject": "Report", "body": "Hi Bob"})
    assert got["id"] == "msg_1" and got["sent"] is True
    assert "To: bob@example.com" in got["mime"] and "Subject: Report" in got["mime"] and "Hi Bob" in got["mime"]
    sent = standin[0].requests[-1]["body"]
    assert '"raw"' in sent and "=" not in sent.split('"raw":')[1] and "+" not in sent


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry.retry_after("3") == 3.0 and retry.retry_after("0.5") == 0.5
    assert retry.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry.retry_after("soon") is None and retry.retry_after(None) is None
    assert retry.retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def test_a_next_page_link_to_another_site_is_not_followed(kits: dict[str, Toolkit]) -> None:
    toolkit = kits["wgithub"]
    tool = toolkit.tools["WGITHUB_ISSUES"]
    with pytest.raises(UpstreamError, match="points to another site"):
        http_tool.build_request(tool, toolkit, {}, Credential("ca_1", headers={"Authorization": "Bearer x"}),
                                "https://evil.example/steal?page=2")


def test_through_a_real_server_pages_retries_and_errors_reach_the_agent(
        tmp_path: Path, standin: tuple[WireStandin, ThreadedServer]) -> None:
    api, wire = standin
    api.queued.clear()
    overrides = {slug: {"base_url": wire.url + path} for slug, path in PATHS.items()}
    server = LiveServer(tmp_path / "data", toolkit_paths=[FIXTURES], builtin_toolkits=False,
                        toolkit_overrides=overrides).start()
    try:
        session = server.create_session(toolkits=["wslack", "wjira"])
        api.fail_next("/rest/api/3/search", 429, {"Retry-After": "1"}, {"errorMessages": ["Rate limit exceeded."]})
        done = server.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL", json={"arguments": {
            "tools": [{"tool_slug": "WJIRA_SEARCH", "arguments": {"jql": "project = A", "max_results": 3}},
                      {"tool_slug": "WSLACK_HISTORY", "arguments": {"channel": "C404"}}]}}).json()
        paged, failed = (r["response"] for r in done["data"]["results"])
        assert paged["successful"] and [i["id"] for i in paged["data"]["items"]] == ["m1", "m2", "m3"]
        assert paged["data"]["next_cursor"] == "3"
        assert not failed["successful"] and failed["error"] == "WireSlack refused WSLACK_HISTORY: channel_not_found."
    finally:
        server.stop()
