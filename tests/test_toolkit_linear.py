"""toolkits/linear through a real server and MCP client against the Linear stand-in, which validates every
query against Linear's published GraphQL schema: personal API key via the Connect Link, OAuth round trip,
reads and writes, pageInfo pages bounded by max_results, GraphQL errors and rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.auth_fixtures import follow_oauth_link, submit_key_form
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer
from tests.standins.linear import LinearStandIn

pytestmark = pytest.mark.anyio

API_KEY = "lin_api_0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def linear() -> Iterator[LinearStandIn]:
    with LinearStandIn({API_KEY: "Ada"}) as standin:
        yield standin


@pytest.fixture
def server(tmp_path: Path, linear: LinearStandIn) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", toolkit_overrides={"linear": {"base_url": linear.url}}).start()
    try:
        yield live
    finally:
        live.stop()


async def run(client: Client, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] or {"successful": False, "error": r["error"]} for r in batch["data"]["results"]]


async def connect_with_key(client: Client) -> None:
    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["linear"]}))["data"]["results"]["linear"]
    assert link["status"] == "initiated" and "Personal API key" in link["instruction"]
    page = httpx.get(link["redirect_url"], timeout=30)
    assert "Personal API key" in page.text and "Security &amp; access" in page.text
    assert submit_key_form(link["redirect_url"], api_key=API_KEY).status_code in (200, 303)


async def test_api_key_then_read_write_and_errors(server: LiveServer, linear: LinearStandIn) -> None:
    session = server.create_session(user_id="dev", toolkits=["linear"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "file a bug in linear"}]})
        assert "LINEAR_CREATE_ISSUE" in found["data"]["results"][0]["primary_tool_slugs"]
        await connect_with_key(client)
        me, teams, created, mine, missing = await run(
            client,
            ("LINEAR_GET_VIEWER", {}),
            ("LINEAR_LIST_TEAMS", {}),
            ("LINEAR_CREATE_ISSUE", {"teamId": linear.team["id"], "title": "Login page crashes on Safari",
                                     "description": "Steps: open /login", "priority": 2,
                                     "labelIds": [linear.labels[0]["id"]], "dueDate": "2026-03-01"}),
            ("LINEAR_LIST_ISSUES", {"assignee": "me", "state_type": ["started"], "team_key": "eng"}),
            ("LINEAR_GET_ISSUE", {"id": "ENG-404"}))
        sent_before_bad = len(linear.requests)
        (bad,) = await run(client, ("LINEAR_CREATE_ISSUE", {"teamId": linear.team["id"]}))
        assert len(linear.requests) == sent_before_bad  # refused before anything reached Linear
    assert me["successful"] and me["data"]["name"] == "Ada" and me["data"]["organization"]["urlKey"] == "acme"
    assert teams["successful"] and [t["key"] for t in teams["data"]["items"]] == ["ENG"]
    assert created["successful"], created
    issue = created["data"]["issue"]
    assert issue["identifier"] == "ENG-8" and issue["priority"] == 2 and issue["dueDate"] == "2026-03-01"
    assert linear.issues[-1]["labels"]["nodes"][0]["name"] == "Bug"
    # Ada's started issues: ENG-1 and ENG-3, newest first, through the filter the prepare hook built
    assert [i["identifier"] for i in mine["data"]["items"]] == ["ENG-3", "ENG-1"]
    sent = [r.body for r in linear.requests if "ListIssues" in str(r.body)][0]["variables"]["filter"]
    assert {"assignee": {"isMe": {"eq": True}}} in sent["and"]
    assert not missing["successful"] and "Entity not found: Issue" in missing["error"]
    assert not bad["successful"] and "title" in bad["error"]
    assert all(r.headers["authorization"] == API_KEY for r in linear.requests)  # a personal key goes bare


async def test_pages_updates_and_comments(server: LiveServer, linear: LinearStandIn) -> None:
    session = server.create_session(user_id="dev", toolkits=["linear"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_with_key(client)
        before = len(linear.requests)
        (listed,) = await run(client, ("LINEAR_LIST_ISSUES", {"first": 3, "max_results": 5}))
        pages = [r.body["variables"] for r in linear.requests[before:]]
        done = next(s for s in linear.states if s["name"] == "Done")
        moved, commented = await run(
            client,
            ("LINEAR_UPDATE_ISSUE", {"id": "ENG-2", "stateId": done["id"], "assigneeId": None}),
            ("LINEAR_CREATE_COMMENT", {"issueId": "ENG-2", "body": "Fixed in #456"}))
        (comments,) = await run(client, ("LINEAR_LIST_ISSUE_COMMENTS", {"id": "ENG-2"}))
        (states,) = await run(client, ("LINEAR_LIST_WORKFLOW_STATES", {"team_id": linear.team["id"], "max_results": 2}))
    assert listed["successful"] and len(listed["data"]["items"]) == 5
    assert [i["identifier"] for i in listed["data"]["items"]] == [f"ENG-{n}" for n in (7, 6, 5, 4, 3)]
    assert pages == [{"first": 3}, {"first": 2, "after": "3"}]
    assert listed["data"]["has_more"] is True and listed["data"]["next_cursor"] == "5"
    assert moved["successful"] and moved["data"]["issue"]["state"]["name"] == "Done"
    assert moved["data"]["issue"]["assignee"] is None
    assert commented["successful"] and commented["data"]["comment"]["body"] == "Fixed in #456"
    assert [c["body"] for c in comments["data"]["items"]] == ["Fixed in #456"]
    assert [s["name"] for s in states["data"]["items"]] == ["Backlog", "Todo"]
    assert linear.requests[-1].body["variables"]["filter"] == {"team": {"id": {"eq": linear.team["id"]}}}


async def test_rate_limited_call_is_retried(server: LiveServer, linear: LinearStandIn) -> None:
    """Linear says "slow down" as HTTP 400 with `extensions.code = RATELIMITED` (no Retry-After)."""
    session = server.create_session(user_id="dev", toolkits=["linear"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_with_key(client)
        before = len(linear.requests)
        linear.rate_limit_next(times=1)
        (teams,) = await run(client, ("LINEAR_LIST_TEAMS", {}))
        tries = len(linear.requests) - before
        linear.rate_limit_next(times=4)  # more than max_attempts: one clear sentence, not an endless wait
        (limited,) = await run(client, ("LINEAR_LIST_TEAMS", {}))
    assert teams["successful"] and tries == 2, teams
    assert teams["data"]["items"][0]["key"] == "ENG"
    assert not limited["successful"] and "rate limiting LINEAR_LIST_TEAMS" in limited["error"]
    assert "Rate limit exceeded" in limited["error"]


async def test_oauth_round_trip(tmp_path: Path) -> None:
    with OAuthServer() as oauth, LinearStandIn({}, verify=oauth.verify) as linear:
        server = LiveServer(tmp_path / "data", oauth_apps={
            "linear": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}},
            toolkit_overrides={"linear": {"base_url": linear.url, "authorize_url": oauth.authorize_url,
                                          "token_url": oauth.token_url, "revoke_url": oauth.revoke_url}}).start()
        try:
            session = server.create_session(user_id="dev", toolkits=["linear"])
            async with Client(session["mcp"]["url"]) as client:
                link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["linear"]}))["data"]
                assert follow_oauth_link(link["results"]["linear"]["redirect_url"]).status_code == 200
                (me,) = await run(client, ("LINEAR_GET_VIEWER", {}))
        finally:
            server.stop()
    assert me["successful"], me
    assert linear.requests[-1].headers["authorization"].startswith("Bearer ")


async def test_teams_users_projects_and_labels(server: LiveServer, linear: LinearStandIn) -> None:
    session = server.create_session(user_id="dev", toolkits=["linear"])
    ada = linear.users["Ada"]["id"]
    async with Client(session["mcp"]["url"]) as client:
        await connect_with_key(client)
        team, user, project, label = await run(
            client,
            ("LINEAR_GET_TEAM", {"id": linear.team["id"]}),
            ("LINEAR_GET_USER", {"id": ada}),
            ("LINEAR_CREATE_PROJECT", {"name": "Checkout redesign", "teamIds": [linear.team["id"]],
                                       "targetDate": "2026-04-30"}),
            ("LINEAR_CREATE_LABEL", {"name": "Regression", "teamId": linear.team["id"], "color": "#eb5757"}))
        project_id = project["data"]["project"]["id"] if project["successful"] else "?"
        fetched, updated = await run(
            client,
            ("LINEAR_GET_PROJECT", {"id": project_id}),
            ("LINEAR_UPDATE_PROJECT", {"id": project_id, "targetDate": "2026-05-15", "leadId": ada}))
        (missing,) = await run(client, ("LINEAR_GET_TEAM", {"id": "no-such-team"}))
    assert team["successful"] and [s["name"] for s in team["data"]["states"]["nodes"]][:2] == ["Backlog", "Todo"]
    assert team["data"]["activeCycle"]["name"] == "Sprint 2"
    assert user["successful"] and [i["identifier"] for i in user["data"]["assignedIssues"]["nodes"]] == \
        ["ENG-1", "ENG-3", "ENG-5", "ENG-7"]
    assert project["successful"] and project["data"]["project"]["targetDate"] == "2026-04-30"
    assert label["successful"] and label["data"]["issueLabel"]["team"]["key"] == "ENG"
    assert fetched["successful"] and fetched["data"]["teams"]["nodes"][0]["key"] == "ENG"
    assert updated["successful"] and updated["data"]["project"]["targetDate"] == "2026-05-15"
    assert updated["data"]["project"]["lead"]["name"] == "Ada"
    assert not missing["successful"] and "Entity not found: Team" in missing["error"]
