"""toolkits/notion through a real server and MCP client against the Notion stand-in: connecting with an
internal integration secret through the Connect Link (no OAuth app configured), Notion's OAuth quirks
(HTTP Basic + JSON token request, owner=user), reads, writes, cursor pages, a rate limit and an error."""

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
from tests.standins.notion import VERSION, NotionStandIn

pytestmark = pytest.mark.anyio

SECRET = "ntn_4a1bc2d3e4f5_integration_secret"
OWNER = "u0000001-0000-4000-8000-000000000001"


@pytest.fixture
def notion(tmp_path: Path) -> Iterator[NotionStandIn]:
    with NotionStandIn({SECRET: OWNER}) as standin:
        yield standin


def _server(tmp_path: Path, notion: NotionStandIn, **settings: Any) -> LiveServer:
    overrides = {"notion": {"base_url": notion.url + "/v1", "authorize_url": notion.authorize_url,
                            "token_url": notion.token_url}}
    return LiveServer(tmp_path / "data", toolkit_overrides=overrides, **settings).start()


async def run(client: Client, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] or {"successful": False, "error": r["error"]} for r in batch["data"]["results"]]


async def connect_with_secret(client: Client) -> None:
    """What a user does without an OAuth app: open the Connect Link, paste the integration secret."""
    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["notion"]}))["data"]["results"]["notion"]
    assert link["status"] == "initiated" and "Internal integration secret" in link["instruction"]
    page = httpx.get(link["redirect_url"], timeout=30)
    assert page.status_code == 200
    assert "Internal integration secret" in page.text and "https://www.notion.so/profile/integrations" in page.text
    assert submit_key_form(link["redirect_url"], token=SECRET).status_code in (200, 303)


async def test_connect_with_integration_secret_then_read_and_write(tmp_path: Path, notion: NotionStandIn) -> None:
    server = _server(tmp_path, notion)  # no [oauth_apps]: the Connect Link asks for the secret instead
    try:
        session = server.create_session(user_id="writer", toolkits=["notion"])
        async with Client(session["mcp"]["url"]) as client:
            found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [
                {"use_case": "add a to-do checklist to my notion page"}]})
            assert "NOTION_APPEND_BLOCK_CHILDREN" in found["data"]["results"][0]["primary_tool_slugs"]
            await connect_with_secret(client)
            me, created, listed, missing = await run(
                client,
                ("NOTION_GET_ME", {}),
                ("NOTION_CREATE_PAGE", {"parent_page_id": notion.home["id"].replace("-", ""), "title": "Weekly sync",
                                        "content": "Agenda\n[ ] Review roadmap\n[x] Send notes"}),
                ("NOTION_GET_BLOCK_CHILDREN", {"block_id": notion.home["id"], "max_results": 5}),
                ("NOTION_GET_PAGE", {"page_id": "0" * 32}))
    finally:
        server.stop()
    assert me["successful"] and me["data"]["bot"]["workspace_name"] == "Acme HQ"
    assert created["successful"], created
    page = notion.pages[created["data"]["id"]]
    assert page["parent"] == {"type": "page_id", "page_id": notion.home["id"]}
    assert page["properties"]["title"]["title"][0]["text"]["content"] == "Weekly sync"
    kinds = [(notion.blocks[b]["type"], notion.blocks[b].get("to_do", {}).get("checked"))
             for b in notion.children[page["id"]]]
    assert kinds == [("paragraph", None), ("to_do", False), ("to_do", True)]
    # one page of 5 (page_size capped by max_results), and the cursor to continue from
    assert listed["successful"] and len(listed["data"]["items"]) == 5
    assert listed["data"]["has_more"] is True and listed["data"]["next_cursor"] == "5"
    assert [r.query.get("page_size") for r in notion.calls("/children") if r.method == "GET"] == ["5"]
    assert not missing["successful"]
    assert "Could not find page with ID" in missing["error"] and "404" in missing["error"]
    api = [r for r in notion.requests if not r.path.startswith("/v1/oauth")]
    assert api and all(r.headers["notion-version"] == VERSION and r.headers["authorization"] == f"Bearer {SECRET}"
                       for r in api)


async def test_cursor_pages_rate_limit_and_bad_input(tmp_path: Path, notion: NotionStandIn) -> None:
    server = _server(tmp_path, notion)
    try:
        session = server.create_session(user_id="writer", toolkits=["notion"])
        async with Client(session["mcp"]["url"]) as client:
            await connect_with_secret(client)
            before = len(notion.requests)
            notion.rate_limit_next(times=1, retry_after="1")
            (rows,) = await run(client, ("NOTION_QUERY_DATA_SOURCE", {
                "data_source_id": notion.data_source, "page_size": 2, "max_results": 5}))
            queries = notion.requests[before:]
            (done,) = await run(client, ("NOTION_QUERY_DATA_SOURCE", {
                "data_source_id": notion.data_source, "filter": {"property": "Status", "status": {"equals": "Done"}}}))
            sent = len(notion.requests)
            (bad,) = await run(client, ("NOTION_CREATE_PAGE", {"title": "Nowhere"}))
            (trashed,) = await run(client, ("NOTION_ARCHIVE_PAGE", {"page_id": notion.home["id"]}))
            (comment,) = await run(client, ("NOTION_CREATE_COMMENT", {"page_id": notion.home["id"], "text": "LGTM"}))
            (comments,) = await run(client, ("NOTION_LIST_COMMENTS", {"block_id": notion.home["id"]}))
    finally:
        server.stop()
    # 429 once, then pages of 2, 2 and 1 (the last sized to what max_results still wants), cursor in the body
    assert rows["successful"], rows
    assert [r["properties"]["Name"]["title"][0]["plain_text"] for r in rows["data"]["items"]] == \
        [f"Task {i}" for i in range(1, 6)]
    assert [(r.body or {}).get("page_size") for r in queries] == [2, 2, 2, 1]
    assert [(r.body or {}).get("start_cursor") for r in queries] == [None, None, "2", "4"]
    assert rows["data"]["has_more"] is False and rows["data"]["next_cursor"] is None
    assert done["successful"] and {p["properties"]["Status"]["status"]["name"] for p in done["data"]["items"]} == \
        {"Done"}
    assert not bad["successful"] and "parent_page_id" in bad["error"]
    assert trashed["successful"] and trashed["data"]["in_trash"] is True
    assert notion.requests[sent].body == {"in_trash": True}
    assert comment["successful"] and comment["data"]["rich_text"][0]["plain_text"] == "LGTM"
    assert comment["data"]["parent"] == {"type": "page_id", "page_id": notion.home["id"]}
    assert [c["id"] for c in comments["data"]["items"]] == [comment["data"]["id"]]


async def test_rate_limit_past_the_budget_is_one_clear_error(tmp_path: Path, notion: NotionStandIn) -> None:
    server = _server(tmp_path, notion)
    try:
        session = server.create_session(user_id="writer", toolkits=["notion"])
        async with Client(session["mcp"]["url"]) as client:
            await connect_with_secret(client)
            notion.rate_limit_next(times=1, retry_after="120")  # longer than the toolkit's 30 s budget
            (limited,) = await run(client, ("NOTION_SEARCH", {"query": "Task"}))
    finally:
        server.stop()
    assert not limited["successful"]
    assert "rate limiting NOTION_SEARCH" in limited["error"] and "You have been rate limited" in limited["error"]
    assert len(notion.calls("/v1/search")) == 1  # it did not wait 120 s or hammer the API


async def test_a_rejected_secret_says_to_reconnect(tmp_path: Path, notion: NotionStandIn) -> None:
    server = _server(tmp_path, notion)
    try:
        session = server.create_session(user_id="writer", toolkits=["notion"])
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["notion"]}))["data"]
            submit_key_form(link["results"]["notion"]["redirect_url"], token="secret_revoked_or_mistyped")
            (me,) = await run(client, ("NOTION_GET_ME", {}))
    finally:
        server.stop()
    assert not me["successful"]
    assert "API token is invalid" in me["error"] and "reconnect" in me["error"]


async def test_oauth_round_trip_with_basic_auth_and_json_token_request(tmp_path: Path, notion: NotionStandIn) -> None:
    server = _server(tmp_path, notion, oauth_apps={
        "notion": {"client_id": notion.client_id, "client_secret": notion.client_secret}})
    try:
        session = server.create_session(user_id="writer", toolkits=["notion"])
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["notion"]}))["data"]["results"]
            assert follow_oauth_link(link["notion"]["redirect_url"]).status_code == 200
            (found,) = await run(client, ("NOTION_SEARCH", {"query": "team", "filter": {"property": "object",
                                                                                         "value": "page"}}))
    finally:
        server.stop()
    authorize = notion.calls("/v1/oauth/authorize")[0]
    assert authorize.query["owner"] == "user" and authorize.query["response_type"] == "code"
    token = notion.calls("/v1/oauth/token")[0]
    assert token.headers["authorization"].startswith("Basic ") and isinstance(token.body, dict)
    assert token.body["grant_type"] == "authorization_code" and "client_secret" not in token.body
    assert found["successful"], found
    assert [_title(p) for p in found["data"]["items"]] == ["Team home"]
    assert notion.calls("/v1/search")[-1].headers["authorization"].startswith("Bearer ntn_oauth_")


def _title(page: dict[str, Any]) -> str:
    return page["properties"]["title"]["title"][0]["plain_text"]


async def test_database_schema_and_templates(tmp_path: Path, notion: NotionStandIn) -> None:
    server = _server(tmp_path, notion)
    try:
        session = server.create_session(user_id="writer", toolkits=["notion"])
        async with Client(session["mcp"]["url"]) as client:
            await connect_with_secret(client)
            changed, templates = await run(
                client,
                ("NOTION_UPDATE_DATA_SOURCE", {"data_source_id": notion.data_source, "properties": {
                    "Priority": {"select": {"options": [{"name": "High"}, {"name": "Low"}]}}}}),
                ("NOTION_LIST_DATA_SOURCE_TEMPLATES", {"data_source_id": notion.data_source, "page_size": 2,
                                                       "max_results": 3}))
    finally:
        server.stop()
    assert changed["successful"] and changed["data"]["properties"]["Priority"]["type"] == "select"
    assert [r.body for r in notion.calls("/v1/data_sources/") if r.method == "PATCH"] == [{"properties": {
        "Priority": {"select": {"options": [{"name": "High"}, {"name": "Low"}]}}}}]
    assert [t["name"] for t in templates["data"]["items"]] == ["Bug report", "Feature request", "Meeting notes"]
    assert [r.query.get("start_cursor") for r in notion.calls("/templates")] == [None, "2"]
