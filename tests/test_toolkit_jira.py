"""toolkits/jira through a real server and MCP client against the Atlassian stand-in: email + API token via
the Connect Link (the site filled into the base URL), OAuth 2.0 (3LO) with `audience` and cloud-id discovery
after connect, JQL search with nextPageToken, offset pages, ADF bodies, a rate limit and Jira's error bodies."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.auth_fixtures import follow_oauth_link, submit_key_form
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.standins.atlassian import AtlassianStandIn

pytestmark = pytest.mark.anyio


@pytest.fixture
def atlassian() -> Iterator[AtlassianStandIn]:
    with AtlassianStandIn() as standin:
        yield standin


def _server(tmp_path: Path, atlassian: AtlassianStandIn, **settings: Any) -> LiveServer:
    site_url = atlassian.url + "/sites/{site}/rest/api/3"
    return LiveServer(tmp_path / "data", toolkit_overrides={"jira": {
        "base_url": site_url, "authorize_url": atlassian.authorize_url, "token_url": atlassian.token_url,
        "after_connect_url": atlassian.resources_url,
        "scheme_base_urls": {"basic": site_url, "oauth2": atlassian.url + "/ex/jira/{cloud_id}/rest/api/3"}}},
        **settings).start()


async def run(client: Client, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] or {"successful": False, "error": r["error"]} for r in batch["data"]["results"]]


async def connect_with_token(client: Client, atlassian: AtlassianStandIn) -> None:
    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["jira"]}))["data"]["results"]["jira"]
    assert link["status"] == "initiated"
    assert "id.atlassian.com/manage-profile/security/api-tokens" in link["instruction"]
    page = httpx.get(link["redirect_url"], timeout=30)
    assert "Site (the part before .atlassian.net)" in page.text
    answer = submit_key_form(link["redirect_url"], username=atlassian.email, password=atlassian.api_token,
                             site=atlassian.site)
    assert answer.status_code in (200, 303)


async def test_email_and_api_token_then_issue_work(tmp_path: Path, atlassian: AtlassianStandIn) -> None:
    server = _server(tmp_path, atlassian)
    try:
        session = server.create_session(user_id="pm", toolkits=["jira"])
        async with Client(session["mcp"]["url"]) as client:
            found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [
                {"use_case": "move my jira ticket to done"}]})
            assert "JIRA_TRANSITION_ISSUE" in found["data"]["results"][0]["primary_tool_slugs"]
            await connect_with_token(client, atlassian)
            me, created, mine, missing, invalid = await run(
                client,
                ("JIRA_GET_MYSELF", {}),
                ("JIRA_CREATE_ISSUE", {"project_key": "ENG", "summary": "Login fails on Safari", "issue_type": "Bug",
                                       "description": "Steps:\n1. open /login\n\nExpected: a form",
                                       "priority": "High", "labels": ["safari"]}),
                ("JIRA_SEARCH_ISSUES", {"jql": "assignee = currentUser() AND statusCategory != Done ORDER BY "
                                               "updated DESC", "max_results": 3}),
                ("JIRA_GET_ISSUE", {"issueIdOrKey": "ENG-999"}),
                ("JIRA_CREATE_ISSUE", {"project_key": "NOPE", "summary": "x"}))
            key = created["data"]["key"] if created["successful"] else "?"
            (steps,) = await run(client, ("JIRA_GET_TRANSITIONS", {"issueIdOrKey": key}))
            moved, comments, edited, logged = await run(
                client,
                ("JIRA_TRANSITION_ISSUE", {"issueIdOrKey": key, "transition_id": "31", "comment": "Deployed."}),
                ("JIRA_LIST_COMMENTS", {"issueIdOrKey": "ENG-1", "maxResults": 2, "max_results": 3}),
                ("JIRA_EDIT_ISSUE", {"issueIdOrKey": key, "summary": "Login fails on Safari 17"}),
                ("JIRA_ADD_WORKLOG", {"issueIdOrKey": key, "timeSpent": "2h 30m", "comment_text": "Debugging"}))
            (commented,) = await run(client, ("JIRA_ADD_COMMENT", {"issueIdOrKey": key,
                                                                   "text": "Verified on staging.\n\nClosing."}))
    finally:
        server.stop()
    assert me["successful"] and me["data"]["emailAddress"] == atlassian.email
    assert created["successful"] and key == "ENG-8", created
    fields = atlassian.issues[key]["fields"]
    assert fields["description"]["content"][0]["content"] == [
        {"type": "text", "text": "Steps:"}, {"type": "hardBreak"}, {"type": "text", "text": "1. open /login"}]
    assert fields["issuetype"] == {"name": "Bug"} and fields["priority"] == {"name": "High"}
    assert mine["successful"] and [i["key"] for i in mine["data"]["items"]] == ["ENG-1", "ENG-3", "ENG-5"]
    assert mine["data"]["has_more"] is True and mine["data"]["next_cursor"] == "t3"
    search = atlassian.calls("/search/jql")[0]
    assert search.query["maxResults"] == "3"
    assert search.query["fields"] == "summary,status,assignee,priority,issuetype,updated"  # the toolkit's default
    assert not missing["successful"] and "Issue does not exist or you do not have permission" in missing["error"]
    assert not invalid["successful"] and "project: Specify a valid project ID or key" in invalid["error"]
    assert [t["id"] for t in steps["data"]["transitions"]] == ["21", "31"]  # a new issue is To Do
    assert moved["successful"] and fields["status"]["name"] == "Done"
    assert commented["successful"] and commented["data"]["body"]["content"][1]["content"][0]["text"] == "Closing."
    assert [len(c["body"]["content"]) for c in atlassian.comments[key]] == [1, 2]  # transition comment, then ours
    # offset pages: startAt 0 (2 items) then startAt 2 (1 item, sized to what max_results still wants)
    assert [(r.query.get("startAt"), r.query["maxResults"]) for r in atlassian.calls("/issue/ENG-1/comment")] == \
        [(None, "2"), ("2", "1")]
    assert len(comments["data"]["items"]) == 3 and comments["data"]["next_cursor"] == "3"
    assert edited["successful"] and fields["summary"] == "Login fails on Safari 17"
    assert logged["successful"] and logged["data"]["timeSpentSeconds"] == 9000
    basic = base64.b64encode(f"{atlassian.email}:{atlassian.api_token}".encode()).decode()
    api = [r for r in atlassian.requests if "/rest/api/3/" in r.path]
    assert api and all(r.path.startswith("/sites/acme/") and r.headers["authorization"] == f"Basic {basic}"
                       for r in api)


async def test_rate_limit_is_retried_and_delete_needs_nothing_else(tmp_path: Path, atlassian: AtlassianStandIn) -> None:
    server = _server(tmp_path, atlassian)
    try:
        session = server.create_session(user_id="pm", toolkits=["jira"])
        async with Client(session["mcp"]["url"]) as client:
            await connect_with_token(client, atlassian)
            before = len(atlassian.requests)
            atlassian.rate_limit_next(times=1, retry_after="1")
            (projects,) = await run(client, ("JIRA_LIST_PROJECTS", {"query": "o"}))
            tries = len(atlassian.requests) - before
            sent = len(atlassian.requests)
            (nothing,) = await run(client, ("JIRA_EDIT_ISSUE", {"issueIdOrKey": "ENG-2"}))
            assert len(atlassian.requests) == sent  # refused before it reached Jira
            assigned, deleted, gone = await run(
                client,
                ("JIRA_ASSIGN_ISSUE", {"issueIdOrKey": "ENG-2", "accountId": atlassian.account_id}),
                ("JIRA_DELETE_ISSUE", {"issueIdOrKey": "ENG-7"}),
                ("JIRA_GET_PROJECT", {"projectIdOrKey": "NOPE"}))
    finally:
        server.stop()
    assert not nothing["successful"] and "nothing to change" in nothing["error"]
    assert projects["successful"] and tries == 2
    assert [p["key"] for p in projects["data"]["items"]] == ["OPS", "MOB"]
    assert assigned["successful"] and atlassian.issues["ENG-2"]["fields"]["assignee"]["accountId"] == \
        atlassian.account_id
    assert deleted["successful"] and "ENG-7" not in atlassian.issues
    assert not gone["successful"] and "No project could be found with key 'NOPE'" in gone["error"]


async def test_oauth_with_audience_then_cloud_id_discovery(tmp_path: Path, atlassian: AtlassianStandIn) -> None:
    server = _server(tmp_path, atlassian, oauth_apps={
        "jira": {"client_id": atlassian.client_id, "client_secret": atlassian.client_secret}})
    try:
        session = server.create_session(user_id="pm", toolkits=["jira"])
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["jira"]}))["data"]["results"]
            assert follow_oauth_link(link["jira"]["redirect_url"]).status_code == 200
            me, found = await run(client, ("JIRA_GET_MYSELF", {}),
                                  ("JIRA_SEARCH_ISSUES", {"jql": "project = ENG", "max_results": 2}))
            first_refresh = set(atlassian.refresh_tokens)
            atlassian.expire_access_tokens()
            (again,) = await run(client, ("JIRA_GET_ISSUE", {"issueIdOrKey": "ENG-1"}))
    finally:
        server.stop()
    authorize = atlassian.calls("/authorize")[0].query
    assert authorize["audience"] == "api.atlassian.com" and authorize["prompt"] == "consent"
    assert "offline_access" in authorize["scope"].split() and authorize.get("code_challenge")
    token = atlassian.calls("/oauth/token")[0]
    assert token.headers["content-type"].startswith("application/json") and token.body["grant_type"] == \
        "authorization_code"
    assert len(atlassian.refresh_tokens) == 1  # offline_access gave a refresh token
    assert atlassian.calls("/accessible-resources")[0].headers["authorization"].startswith("Bearer ")
    assert me["successful"] and found["successful"], (me, found)
    assert [i["key"] for i in found["data"]["items"]] == ["ENG-1", "ENG-2"]
    # the expired token: one 401, one refresh (JSON, rotating: the old refresh token is gone), the same cloud id
    assert again["successful"] and again["data"]["key"] == "ENG-1", again
    refresh = [r.body for r in atlassian.calls("/oauth/token") if (r.body or {}).get("grant_type") == "refresh_token"]
    assert len(refresh) == 1 and refresh[0]["refresh_token"] in first_refresh
    assert atlassian.refresh_tokens and not atlassian.refresh_tokens & first_refresh
    api = [r for r in atlassian.requests if "/rest/api/3/" in r.path]
    assert len(api) == 4 and all(r.path.startswith(f"/ex/jira/{atlassian.cloud_id}/rest/api/3/") for r in api)


async def test_comments_watchers_statuses_and_assignable_users(tmp_path: Path, atlassian: AtlassianStandIn) -> None:
    server = _server(tmp_path, atlassian)
    first, second = (c["id"] for c in atlassian.comments["ENG-1"][:2])
    try:
        session = server.create_session(user_id="pm", toolkits=["jira"])
        async with Client(session["mcp"]["url"]) as client:
            await connect_with_token(client, atlassian)
            edited, deleted, watchers, statuses, assignable, unbounded = await run(
                client,
                ("JIRA_UPDATE_COMMENT", {"issueIdOrKey": "ENG-1", "id": first, "text": "Reworded."}),
                ("JIRA_DELETE_COMMENT", {"issueIdOrKey": "ENG-1", "id": second}),
                ("JIRA_LIST_WATCHERS", {"issueIdOrKey": "ENG-1"}),
                ("JIRA_LIST_STATUSES", {}),
                ("JIRA_FIND_ASSIGNABLE_USERS", {"project": "ENG", "query": "ada"}),
                ("JIRA_FIND_ASSIGNABLE_USERS", {"query": "ada"}))
    finally:
        server.stop()
    assert edited["successful"] and edited["data"]["body"]["content"][0]["content"][0]["text"] == "Reworded."
    assert deleted["successful"] and second not in [c["id"] for c in atlassian.comments["ENG-1"]]
    assert watchers["successful"] and watchers["data"]["watchCount"] == 1
    assert [s["name"] for s in statuses["data"]] == ["To Do", "In Progress", "Done"]
    assert [u["accountId"] for u in assignable["data"]] == [atlassian.account_id]
    assert not unbounded["successful"] and "issueKey, project" in unbounded["error"]
