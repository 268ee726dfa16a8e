"""toolkits/slack end to end: a real Concierge server, a real MCP client, and a stand-in that speaks the Slack
Web API's wire format (200 + ok:false errors, cursor pages, 429 + Retry-After, OAuth v2's authed_user)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from tests.auth_fixtures import follow_oauth_link, hidden_fields
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio
BOT = "xoxb-1111-2222-standinbottoken"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn({BOT: "bot"}) as standin:
        yield standin


@pytest.fixture
def server(tmp_path: Path, slack: SlackStandIn) -> Iterator[LiveServer]:
    """No [oauth_apps]: Slack is connected with a bot token through the Connect Link form."""
    live = LiveServer(tmp_path / "data", toolkit_overrides={"slack": {"base_url": slack.base_url}}).start()
    try:
        yield live
    finally:
        live.stop()


def connect_with_token(redirect_url: str, token: str) -> httpx.Response:
    """What a person does: open the Connect Link, read the form, paste the token, submit."""
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        page = browser.get(redirect_url)
        assert page.status_code == 200 and "Bot token" in page.text and "api.slack.com/apps" in page.text
        return browser.post(redirect_url, data={**hidden_fields(page.text), "token": token})


async def execute(client: Client, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] for r in batch["data"]["results"]]


def test_toolkit_loads_with_its_tools() -> None:
    toolkit = load_toolkit_folder(BUILTIN_TOOLKITS / "slack")
    assert len(toolkit.tools) >= 20 and toolkit.base_url == "https://slack.com/api"
    schemes = {s.type: s for s in toolkit.auth_schemes}
    assert schemes["oauth2"].oauth2 is not None and schemes["oauth2"].oauth2.token_response_path == "authed_user"
    assert schemes["bearer_token"].label == "Bot token" and "xoxb" in (schemes["bearer_token"].help or "")
    for tool in toolkit.tools.values():
        hints = {"readOnlyHint", "createHint", "updateHint", "destructiveHint"} & set(tool.tags)
        assert len(hints) == 1, tool.slug
        assert tool.http is not None and ("readOnlyHint" in hints) == (tool.http.method == "GET"), tool.slug


def test_standin_answers_like_slack(slack: SlackStandIn) -> None:
    api = slack.base_url
    assert httpx.get(f"{api}/auth.test").json() == {"ok": False, "error": "not_authed"}
    assert httpx.get(f"{api}/auth.test", headers={"Authorization": "Bearer xoxb-nope"}).json() == {
        "ok": False, "error": "invalid_auth"}
    bearer = {"Authorization": f"Bearer {BOT}"}
    first = httpx.get(f"{api}/conversations.history", params={"channel": "C0GENERAL", "limit": 3},
                      headers=bearer).json()
    assert first["ok"] and len(first["messages"]) == 3 and first["has_more"] is True
    rest = httpx.get(f"{api}/conversations.history", headers=bearer, params={
        "channel": "C0GENERAL", "limit": 100, "cursor": first["response_metadata"]["next_cursor"]}).json()
    assert rest["response_metadata"]["next_cursor"] == "" and len(rest["messages"]) == 5  # 8 top-level in all
    form = httpx.post(f"{api}/chat.postMessage", data={"channel": "C0GENERAL", "text": "form"}, headers=bearer)
    as_json = httpx.post(f"{api}/chat.postMessage", json={"channel": "#general", "text": "json"}, headers=bearer)
    assert form.json()["ok"] and as_json.json()["channel"] == "C0GENERAL"
    assert httpx.post(f"{api}/chat.postMessage", json={"channel": "C0NOPE", "text": "x"}, headers=bearer).json() \
        == {"ok": False, "error": "channel_not_found"}
    assert httpx.get(f"{api}/search.messages", params={"query": "x"}, headers=bearer).json()["error"] \
        == "not_allowed_token_type"
    slack.rate_limit_next("http")
    limited = httpx.get(f"{api}/auth.test", headers=bearer)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json() == {"ok": False, "error": "ratelimited"}


async def test_connect_with_a_bot_token_and_work(server: LiveServer, slack: SlackStandIn) -> None:
    """Issue #10 item 3 for Slack: no OAuth app configured, a token through the Connect Link, then tools run."""
    session = server.create_session(user_id="alice", toolkits=["slack"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "post a message in the #general slack channel"}]})
        assert "SLACK_SEND_MESSAGE" in found["data"]["results"][0]["primary_tool_slugs"]
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["slack"]}))["data"]["results"]["slack"]
        assert link["status"] == "initiated" and link["auth_scheme"] == "BEARER_TOKEN"
        done = connect_with_token(link["redirect_url"], BOT)
        assert done.status_code == 200 and "connected" in done.text.lower()

        (sent,) = await execute(client, ("SLACK_SEND_MESSAGE",
                                         {"channel": "C0GENERAL", "text": "Deploy finished :tada:"}))
        assert sent["successful"], sent
        ts = sent["data"]["ts"]
        assert re.fullmatch(r"\d+\.\d+", ts) and sent["data"]["message"]["text"] == "Deploy finished :tada:"
        history, missing = await execute(  # one batch runs concurrently
            client,
            ("SLACK_FETCH_CONVERSATION_HISTORY", {"channel": "C0GENERAL", "limit": 2, "max_results": 5}),
            ("SLACK_GET_CHANNEL_INFO", {"channel": "C0MISSING"}))
        assert history["successful"] and len(history["data"]["items"]) == 5 and history["data"]["has_more"] is True
        assert history["data"]["items"][0]["ts"] == ts  # newest first: the message just sent
        assert not missing["successful"] and "channel_not_found" in missing["error"]

        reacted, thread_reply, edited = await execute(  # independent of each other
            client,
            ("SLACK_ADD_REACTION", {"channel": "C0GENERAL", "timestamp": ts, "name": "eyes"}),
            ("SLACK_SEND_MESSAGE", {"channel": "C0GENERAL", "text": "Details in thread", "thread_ts": ts}),
            ("SLACK_UPDATE_MESSAGE", {"channel": "C0GENERAL", "ts": ts, "text": "Deploy finished (v2.1)"}))
        assert reacted["successful"] and thread_reply["successful"] and edited["successful"]
        (thread,) = await execute(client, ("SLACK_LIST_THREAD_REPLIES", {"channel": "C0GENERAL", "ts": ts}))
        texts = [m["text"] for m in thread["data"]["items"]]
        assert texts == ["Deploy finished (v2.1)", "Details in thread"]
        assert thread["data"]["items"][0]["reactions"] == [{"name": "eyes", "users": ["U0BOT"], "count": 1}]

        created, = await execute(client, ("SLACK_CREATE_CHANNEL", {"name": "proj-apollo"}))
        new_id = created["data"]["channel"]["id"]
        renamed, purposed, taken = await execute(
            client, ("SLACK_RENAME_CHANNEL", {"channel": new_id, "name": "proj-apollo-2"}),
            ("SLACK_SET_CHANNEL_PURPOSE", {"channel": new_id, "purpose": "Apollo launch"}),
            ("SLACK_RENAME_CHANNEL", {"channel": "C0RANDOM", "name": "general"}))
        assert renamed["data"]["channel"]["name"] == "proj-apollo-2" and purposed["data"]["purpose"] == "Apollo launch"
        assert not taken["successful"] and "name_taken" in taken["error"]
        left, stuck = await execute(client, ("SLACK_LEAVE_CHANNEL", {"channel": new_id}),
                                    ("SLACK_LEAVE_CHANNEL", {"channel": "C0GENERAL"}))
        assert left["successful"] and not stuck["successful"] and "cant_leave_general" in stuck["error"]

    pages = [r for r in slack.requests if r.method == "conversations.history"]
    assert [r.args.get("limit") for r in pages] == ["2", "2", "1"]  # 5 items asked: the last page asks for 1
    assert all(r.authorization == f"Bearer {BOT}" for r in slack.requests)
    posted = next(r for r in slack.requests if r.method == "chat.postMessage")
    assert posted.http_method == "POST" and posted.content_type.startswith("application/json")


async def test_rate_limits_are_waited_out(server: LiveServer, slack: SlackStandIn) -> None:
    session = server.create_session(user_id="alice", toolkits=["slack"])
    async with Client(session["mcp"]["url"]) as client:
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["slack"]}))["data"]["results"]["slack"]
        connect_with_token(link["redirect_url"], BOT)
        slack.rate_limit_next("http", "body")  # a 429 with Retry-After: 1, then a 200 {"ok": false, "ratelimited"}
        (listed,) = await execute(client, ("SLACK_LIST_CHANNELS", {"exclude_archived": True}))
        assert listed["successful"], listed
        assert [c["name"] for c in listed["data"]["items"]] == ["general", "random"]
        assert len([r for r in slack.requests if r.method == "conversations.list"]) == 3

        (denied,) = await execute(client, ("SLACK_SEARCH_MESSAGES", {"query": "release"}))
        assert not denied["successful"] and "not_allowed_token_type" in denied["error"]

        before = len(slack.requests)
        bad = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            {"tool_slug": "SLACK_SEND_MESSAGE", "arguments": {"channel": "C0GENERAL"}},  # neither text nor blocks
            {"tool_slug": "SLACK_ADD_REACTION", "arguments": {"channel": "C0GENERAL", "timestamp": "yesterday",
                                                              "name": "eyes"}}]})
        assert bad["data"]["error_count"] == 2 and len(slack.requests) == before  # refused here, nothing sent
        errors = [r["error"] or r["response"]["error"] for r in bad["data"]["results"]]
        assert "'text' is a required property" in str(errors[0]) and "timestamp" in str(errors[1])


async def test_oauth_connects_as_the_user_from_authed_user(tmp_path: Path, slack: SlackStandIn) -> None:
    """Slack's OAuth v2: user scopes go in `user_scope`, the user token comes back under `authed_user`."""
    server = LiveServer(tmp_path / "data", oauth_apps={"slack": {"client_id": slack.client_id,
                                                                 "client_secret": slack.client_secret}},
                        toolkit_overrides={"slack": {"base_url": slack.base_url, "authorize_url": slack.authorize_url,
                                                     "token_url": slack.token_url}}).start()
    try:
        session = server.create_session(user_id="alice", toolkits=["slack"])
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS",
                               {"toolkits": ["slack"]}))["data"]["results"]["slack"]
            assert link["auth_scheme"] == "OAUTH2"
            assert follow_oauth_link(link["redirect_url"]).status_code == 200
            (found,) = await execute(client, ("SLACK_SEARCH_MESSAGES", {"query": "review in:#general"}))
            assert found["successful"], found
            assert [m["text"] for m in found["data"]["messages"]["matches"]] == ["Who can review the release notes?"]
    finally:
        server.stop()
    authorize = next(r for r in slack.requests if r.method == "oauth/v2/authorize")
    assert "search:read" in authorize.args["user_scope"] and "code_challenge" not in authorize.args
    exchange = next(r for r in slack.requests if r.method == "oauth.v2.access")
    assert exchange.content_type.startswith("application/x-www-form-urlencoded") and exchange.args["code"]
    search = next(r for r in slack.requests if r.method == "search.messages")
    assert search.authorization.startswith("Bearer xoxp-")  # the user's token, not the bot's


async def test_upload_a_file_in_three_steps(server: LiveServer, slack: SlackStandIn) -> None:
    """Slack's external upload flow: reserve, POST the bytes to the pre-signed URL, complete and share."""
    report = b"region,total\nnorth,12\nsouth,30\n"
    session = server.create_session(user_id="alice", toolkits=["slack"])
    async with Client(session["mcp"]["url"]) as client:
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["slack"]}))["data"]["results"]["slack"]
        connect_with_token(link["redirect_url"], BOT)
        (reserved,) = await execute(client, ("SLACK_GET_FILE_UPLOAD_URL", {"filename": "report.csv",
                                                                           "length": len(report)}))
        assert reserved["successful"], reserved
        async with httpx.AsyncClient() as uploader:  # step 2 happens outside Slack's API (workbench, HTTP tool)
            stored = await uploader.post(reserved["data"]["upload_url"], content=report)
        assert stored.text == f"OK - {len(report)}"
        (shared,) = await execute(client, ("SLACK_COMPLETE_FILE_UPLOAD", {
            "files": [{"id": reserved["data"]["file_id"], "title": "Q3 report"}], "channel_id": "C0RANDOM",
            "initial_comment": "Numbers for Q3"}))
        assert shared["successful"] and shared["data"]["files"] == [{"id": reserved["data"]["file_id"],
                                                                     "title": "Q3 report"}]
        (listed,) = await execute(client, ("SLACK_LIST_FILES", {"channel": "C0RANDOM"}))
        assert [f["title"] for f in listed["data"]["files"]] == ["Q3 report"]
    reserve = next(r for r in slack.requests if r.method == "files.getUploadURLExternal")
    assert reserve.content_type.startswith("application/x-www-form-urlencoded")
    assert reserve.args == {"filename": "report.csv", "length": str(len(report))}


async def test_rotating_user_tokens_are_refreshed_before_they_expire(tmp_path: Path) -> None:
    """Slack with token rotation on: `xoxe.` tokens expire and come with single-use refresh tokens; the user
    token (under authed_user at connect, flat in the refresh answer) is refreshed ahead of expiry."""
    slack = SlackStandIn(rotate_after=4.0).start()
    server = LiveServer(tmp_path / "data", oauth_apps={"slack": {"client_id": slack.client_id,
                                                                 "client_secret": slack.client_secret}},
                        toolkit_overrides={"slack": {"base_url": slack.base_url, "authorize_url": slack.authorize_url,
                                                     "token_url": slack.token_url}}).start()
    try:
        session = server.create_session(user_id="alice", toolkits=["slack"])
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS",
                               {"toolkits": ["slack"]}))["data"]["results"]["slack"]
            assert follow_oauth_link(link["redirect_url"]).status_code == 200
            (first,) = await execute(client, ("SLACK_AUTH_TEST", {}))
            assert first["successful"] and first["data"]["user_id"] == "U0ALICE"
            await anyio.sleep(2.2)  # past half of the 4 s lifetime: the next call refreshes first
            (second,) = await execute(client, ("SLACK_AUTH_TEST", {}))
            assert second["successful"] and second["data"]["user_id"] == "U0ALICE"
    finally:
        server.stop()
        slack.stop()
    grants = [r.args.get("grant_type") for r in slack.requests if r.method == "oauth.v2.access"]
    assert grants[0] == "authorization_code" and grants[1:] == ["refresh_token"] * len(grants[1:]) and len(grants) > 1
    used = [r.authorization for r in slack.requests if r.method == "auth.test"]
    assert len(used) == 2 and used[0] != used[1] and all(u.startswith("Bearer xoxe.xoxp-") for u in used)
