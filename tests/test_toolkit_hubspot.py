"""toolkits/hubspot through a real server and MCP client against the HubSpot stand-in: a private app token
via the Connect Link, OAuth with form-encoded token requests, CRM reads and writes, `paging.next.after`
pages, search filters, the secondly rate limit and HubSpot's error bodies."""

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
from tests.standins.hubspot import HubSpotStandIn

pytestmark = pytest.mark.anyio

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


@pytest.fixture
def hubspot() -> Iterator[HubSpotStandIn]:
    with HubSpotStandIn({TOKEN: "portal-admin"}) as standin:
        yield standin


@pytest.fixture
def server(tmp_path: Path, hubspot: HubSpotStandIn) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", toolkit_overrides={"hubspot": {"base_url": hubspot.url}}).start()
    try:
        yield live
    finally:
        live.stop()


async def run(client: Client, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] or {"successful": False, "error": r["error"]} for r in batch["data"]["results"]]


async def connect_with_token(client: Client) -> None:
    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["hubspot"]}))["data"]["results"]["hubspot"]
    assert link["status"] == "initiated" and "Private app access token" in link["instruction"]
    assert "Private Apps" in httpx.get(link["redirect_url"], timeout=30).text
    assert submit_key_form(link["redirect_url"], token=TOKEN).status_code in (200, 303)


async def test_private_app_token_then_contacts(server: LiveServer, hubspot: HubSpotStandIn) -> None:
    session = server.create_session(user_id="sales", toolkits=["hubspot"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "add a new lead to our crm"}]})
        assert "HUBSPOT_CREATE_CONTACT" in found["data"]["results"][0]["primary_tool_slugs"]
        await connect_with_token(client)
        (created,) = await run(client, ("HUBSPOT_CREATE_CONTACT", {
            "email": "jane@acme.example", "firstname": "Jane", "lastname": "Doe", "jobtitle": "CTO",
            "properties": {"city": "Berlin"}}))
        before = len(hubspot.requests)
        leads, by_email, duplicate, invalid = await run(
            client,
            ("HUBSPOT_SEARCH_CONTACTS", {"filterGroups": [{"filters": [
                {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]}],
                "properties": ["email", "lifecyclestage"], "limit": 2, "max_results": 3}),
            ("HUBSPOT_GET_CONTACT", {"contactId": "jane@acme.example", "idProperty": "email",
                                     "properties": ["email", "jobtitle", "city"]}),
            ("HUBSPOT_CREATE_CONTACT", {"email": "jane@acme.example"}),
            ("HUBSPOT_UPDATE_CONTACT", {"contactId": "151", "properties": {"favourite_colour": "blue"}}))
    assert created["successful"], created
    jane = hubspot.objects["contacts"][created["data"]["id"]]["properties"]
    assert (jane["email"], jane["jobtitle"], jane["city"]) == ("jane@acme.example", "CTO", "Berlin")
    assert leads["successful"] and [c["properties"]["email"] for c in leads["data"]["items"]] == \
        [f"person{i}@example.com" for i in (1, 2, 3)]
    searches = [r.body for r in hubspot.requests[before:] if r.path.endswith("/search")]
    assert [(b["limit"], b.get("after")) for b in searches] == [(2, None), (1, "2")]
    assert leads["data"]["has_more"] is True and leads["data"]["next_cursor"] == "3"
    assert by_email["successful"] and by_email["data"]["properties"] == {
        "email": "jane@acme.example", "jobtitle": "CTO", "city": "Berlin"}
    assert not duplicate["successful"] and "Contact already exists. Existing ID: " in duplicate["error"]
    assert "409" in duplicate["error"]
    assert not invalid["successful"] and 'Property \\"favourite_colour\\" does not exist' in invalid["error"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in hubspot.requests if r.path.startswith("/crm"))


async def test_deals_notes_associations_and_rate_limit(server: LiveServer, hubspot: HubSpotStandIn) -> None:
    session = server.create_session(user_id="sales", toolkits=["hubspot"])
    company = next(iter(hubspot.objects["companies"]))
    async with Client(session["mcp"]["url"]) as client:
        await connect_with_token(client)
        linked, note, pipelines, owner, deals, won = await run(
            client,
            ("HUBSPOT_ASSOCIATE_OBJECTS", {"fromObjectType": "contacts", "fromObjectId": "151",
                                           "toObjectType": "companies", "toObjectId": company}),
            ("HUBSPOT_CREATE_NOTE", {"body": "Call with Person1: wants a demo", "contact_ids": ["151"],
                                     "deal_ids": ["159"]}),
            ("HUBSPOT_LIST_PIPELINES", {"objectType": "deals"}),
            ("HUBSPOT_LIST_OWNERS", {"email": "rep2@acme.example"}),
            ("HUBSPOT_LIST_DEALS", {"properties": ["dealname", "amount"], "max_results": 2}),
            ("HUBSPOT_UPDATE_DEAL", {"dealId": "159", "dealstage": "closedwon", "amount": "7500"}))
        before = len(hubspot.requests)
        hubspot.rate_limit_next(times=1)
        (big,) = await run(client, ("HUBSPOT_SEARCH_DEALS", {"filterGroups": [{"filters": [
            {"propertyName": "amount", "operator": "GT", "value": "7000"}]}], "properties": ["dealname", "amount"]}))
        tries = len(hubspot.requests) - before
        sent = len(hubspot.requests)
        (empty,) = await run(client, ("HUBSPOT_UPDATE_DEAL", {"dealId": "159"}))
        assert len(hubspot.requests) == sent  # refused before it reached HubSpot
        (acme,) = await run(client, ("HUBSPOT_GET_COMPANY", {"companyId": company, "associations": ["contacts"]}))
    assert linked["successful"] and linked["data"]["results"][0]["associationSpec"]["associationTypeId"] == 279
    assert note["successful"], note
    sent = hubspot.calls("/crm/v3/objects/notes")[0].body
    assert sent["properties"]["hs_note_body"] == "Call with Person1: wants a demo"
    assert sent["properties"]["hs_timestamp"].endswith("Z")
    assert [(a["to"]["id"], a["types"][0]["associationTypeId"]) for a in sent["associations"]] == \
        [("151", 202), ("159", 214)]
    assert [s["id"] for s in pipelines["data"]["results"][0]["stages"]] == \
        ["appointmentscheduled", "closedwon", "closedlost"]
    assert [o["id"] for o in owner["data"]["items"]] == ["402"]
    assert deals["successful"] and len(deals["data"]["items"]) == 2 and deals["data"]["next_cursor"] == "2"
    assert won["successful"] and hubspot.objects["deals"]["159"]["properties"]["dealstage"] == "closedwon"
    assert not empty["successful"] and "give at least one property" in empty["error"]
    assert big["successful"] and tries == 2, big  # the 429 (no Retry-After) was retried after a short backoff
    assert [d["properties"]["dealname"] for d in big["data"]["items"]] == ["Deal 1", "Deal 2", "Deal 3"]
    assert acme["data"]["associations"]["contacts"]["results"][0]["id"] == "151"


async def test_oauth_round_trip_with_form_token_requests(tmp_path: Path) -> None:
    with OAuthServer(require_pkce=False, rotate_refresh_tokens=False, access_token_lifetime=1800) as oauth, \
            HubSpotStandIn({}, verify=oauth.verify) as hubspot:
        server = LiveServer(tmp_path / "data", oauth_apps={
            "hubspot": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}},
            toolkit_overrides={"hubspot": {"base_url": hubspot.url, "authorize_url": oauth.authorize_url,
                                           "token_url": oauth.token_url}}).start()
        try:
            session = server.create_session(user_id="sales", toolkits=["hubspot"])
            async with Client(session["mcp"]["url"]) as client:
                link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["hubspot"]}))["data"]
                assert follow_oauth_link(link["results"]["hubspot"]["redirect_url"]).status_code == 200
                (owners,) = await run(client, ("HUBSPOT_LIST_OWNERS", {}))
                oauth.expire_all_access_tokens()  # HubSpot access tokens last 30 minutes
                (later,) = await run(client, ("HUBSPOT_LIST_PIPELINES", {"objectType": "deals"}))
        finally:
            server.stop()
    assert owners["successful"] and len(owners["data"]["items"]) == 3
    assert oauth.counts["token_authorization_code"] == 1
    assert later["successful"] and oauth.counts["token_refresh"] == 1  # refreshed once, then the call went through
    assert hubspot.requests[-1].headers["authorization"].startswith("Bearer ")


async def test_tasks_linked_records_and_archiving(server: LiveServer, hubspot: HubSpotStandIn) -> None:
    session = server.create_session(user_id="sales", toolkits=["hubspot"])
    company = next(iter(hubspot.objects["companies"]))
    async with Client(session["mcp"]["url"]) as client:
        await connect_with_token(client)
        task, *_ = await run(
            client,
            ("HUBSPOT_CREATE_TASK", {"subject": "Call Jane about the renewal", "due": "2026-03-02T09:00:00Z",
                                     "task_type": "CALL", "priority": "HIGH", "contact_ids": ["151"]}),
            ("HUBSPOT_ASSOCIATE_OBJECTS", {"fromObjectType": "contacts", "fromObjectId": "152",
                                           "toObjectType": "companies", "toObjectId": company}),
            ("HUBSPOT_ASSOCIATE_OBJECTS", {"fromObjectType": "contacts", "fromObjectId": "153",
                                           "toObjectType": "companies", "toObjectId": company}))
        linked, archived = await run(
            client,
            ("HUBSPOT_LIST_ASSOCIATIONS", {"objectType": "companies", "objectId": company,
                                           "toObjectType": "contacts"}),
            ("HUBSPOT_ARCHIVE_DEAL", {"dealId": "160"}))
        gone, company_gone = await run(client, ("HUBSPOT_GET_DEAL", {"dealId": "160"}),
                                       ("HUBSPOT_ARCHIVE_COMPANY", {"companyId": company}))
    assert task["successful"], task
    sent = hubspot.calls("/crm/v3/objects/tasks")[0].body
    assert sent["properties"] | {"hs_timestamp": "-"} == {
        "hs_task_subject": "Call Jane about the renewal", "hs_timestamp": "-", "hs_task_status": "NOT_STARTED",
        "hs_task_type": "CALL", "hs_task_priority": "HIGH"}
    assert sent["associations"][0]["types"][0]["associationTypeId"] == 204
    assert sorted(r["toObjectId"] for r in linked["data"]["items"]) == [152, 153]
    assert archived["successful"] and hubspot.objects["deals"]["160"]["archived"] is True
    assert not gone["successful"] and "Object not found" in gone["error"]
    assert company_gone["successful"] and hubspot.objects["companies"][company]["archived"] is True
