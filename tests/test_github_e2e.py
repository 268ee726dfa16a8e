"""Issue 3: the github toolkit used for real through Concierge: OAuth against the local authorization
server, API calls against a stand-in that speaks GitHub's wire format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.auth_fixtures import follow_oauth_link
from tests.github_standin import GitHubStandIn
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def github(tmp_path: Path) -> Iterator[dict[str, Any]]:
    oauth = OAuthServer().start()
    standin = GitHubStandIn(oauth.verify).start()
    server = LiveServer(tmp_path / "data", oauth_apps={
        "github": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}},
        toolkit_overrides={"github": {"base_url": standin.base_url, "authorize_url": oauth.authorize_url,
                                      "token_url": oauth.token_url}}).start()
    try:
        yield {"server": server, "oauth": oauth, "standin": standin}
    finally:
        server.stop()
        standin.stop()
        oauth.stop()


async def test_connect_then_work_with_issues(github: dict[str, Any]) -> None:
    server, standin = github["server"], github["standin"]
    session = server.create_session(user_id="octo_user", toolkits=["github"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "open a new issue in my github repo about a crash"}]})
        assert "GITHUB_CREATE_ISSUE" in found["data"]["results"][0]["primary_tool_slugs"]
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["github"]}))["data"]["results"]
        assert follow_oauth_link(link["github"]["redirect_url"]).status_code == 200

        created = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{
            "tool_slug": "GITHUB_CREATE_ISSUE",
            "arguments": {"owner": "octocat", "repo": "hello-world", "title": "Crash on start", "body": "Trace..."}}]})
        assert created["successful"], created
        issue = created["data"]["results"][0]["response"]["data"]
        assert issue["title"] == "Crash on start" and issue["state"] == "open" and issue["number"] > 5

        batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [
            {"tool_slug": "GITHUB_LIST_ISSUES", "arguments": {"owner": "octocat", "repo": "hello-world",
                                                              "state": "all", "per_page": 2}},
            {"tool_slug": "GITHUB_CREATE_ISSUE_COMMENT", "arguments": {
                "owner": "octocat", "repo": "hello-world", "issue_number": issue["number"], "body": "On it"}},
            {"tool_slug": "GITHUB_GET_ISSUE", "arguments": {"owner": "octocat", "repo": "hello-world",
                                                            "issue_number": 999}},
            {"tool_slug": "GITHUB_GET_AUTHENTICATED_USER", "arguments": {}},
        ]})
        listed, commented, missing, me = (r["response"] for r in batch["data"]["results"])
        assert listed["successful"] and listed["data"]["has_more"] is True and listed["data"]["next_page"] == 2
        assert len(listed["data"]["items"]) == 2
        assert commented["successful"] and commented["data"]["body"] == "On it"
        assert not missing["successful"] and "404" in missing["error"] and "Not Found" in missing["error"]
        assert me["successful"] and me["data"]["login"] == "octocat"
        assert batch["data"]["success_count"] == 3 and batch["data"]["error_count"] == 1

    api_calls = [r for r in standin.requests if r.path.startswith("/repos") or r.path == "/user"]
    assert api_calls and all(r.headers["accept"] == "application/vnd.github+json" and
                             r.headers["x-github-api-version"] == "2022-11-28" and
                             r.headers["authorization"].startswith("Bearer ") for r in api_calls)


async def test_secondary_rate_limit_is_an_upstream_error(github: dict[str, Any]) -> None:
    server, standin = github["server"], github["standin"]
    session = server.create_session(user_id="octo_user", toolkits=["github"])
    async with Client(session["mcp"]["url"]) as client:
        link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["github"]}))["data"]["results"]
        follow_oauth_link(link["github"]["redirect_url"])
        standin.fail_next(403, "You have exceeded a secondary rate limit", {"retry-after": "30"})
        limited = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "GITHUB_GET_AUTHENTICATED_USER", "arguments": {}}]})
    details = limited["data"]["results"][0]["response"]["error_details"]
    assert details["code"] == "upstream_error" and details["details"]["retry_after"] == "30"
