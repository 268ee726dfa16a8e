"""toolkits/outlook used for real: the Microsoft identity platform's OAuth round trip (tenant in the path,
offline_access, rotating refresh tokens), then mail and calendar through a Microsoft Graph stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from tests.auth_fixtures import submit_key_form
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.standins.cloud_base import connect_oauth
from tests.standins.cloud_base import run_tools as run
from tests.standins.msgraph import MAIL_SCOPES, GraphStandIn, throttled

pytestmark = pytest.mark.anyio


@pytest.fixture
def graph() -> Iterator[GraphStandIn]:
    stand_in = GraphStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def graph_server(data_dir: Path, graph: GraphStandIn, **app: str) -> LiveServer:
    """Concierge with the stand-in as Outlook's API and identity platform; `app` adds oauth_apps keys (tenant)."""
    return LiveServer(data_dir, oauth_apps={"outlook": {"client_id": graph.client_id,
                                                        "client_secret": graph.client_secret, **app}},
                      toolkit_overrides={"outlook": {"base_url": graph.base, "authorize_url": graph.authorize_url,
                                                     "token_url": graph.token_url}}).start()


@pytest.fixture
def server(tmp_path: Path, graph: GraphStandIn) -> Iterator[LiveServer]:
    live = graph_server(tmp_path / "data", graph)
    try:
        yield live
    finally:
        live.stop()


async def test_tenant_offline_access_and_rotating_refresh(tmp_path: Path, graph: GraphStandIn) -> None:
    live = graph_server(tmp_path / "data", graph, tenant="contoso.onmicrosoft.com")
    try:
        session = live.create_session(user_id="ms_user", toolkits=["outlook"])
        async with Client(session["mcp"]["url"]) as client:
            await connect_oauth(client, "outlook")
            assert graph.authorize_paths == ["/contoso.onmicrosoft.com/oauth2/v2.0/authorize"]
            assert graph.token_paths == ["/contoso.onmicrosoft.com/oauth2/v2.0/token"]
            asked = graph.authorize_requests[-1]
            assert set(asked["scope"].split()) == {"offline_access", "User.Read", "Mail.ReadWrite", "Mail.Send",
                                                   "Calendars.ReadWrite"}
            assert asked["code_challenge_method"] == "S256" and asked["response_mode"] == "query"
            folders, me, calendars = await run(client, ("OUTLOOK_LIST_MAIL_FOLDERS", {}), ("OUTLOOK_GET_PROFILE", {}),
                                               ("OUTLOOK_LIST_CALENDARS", {}))
            assert {f["displayName"] for f in folders["data"]["items"]} >= {"Inbox", "Sent Items", "Drafts"}
            assert me["data"]["mail"] == "megan@contoso.example"
            assert [c["name"] for c in calendars["data"]["items"]] == ["Calendar", "Team"]

            refreshes = []
            for _ in range(2):  # each refresh answers a new refresh token and the old one dies
                graph.expire_access_tokens()
                again, = await run(client, ("OUTLOOK_LIST_MAIL_FOLDERS", {}))
                assert again["successful"], again
                refreshes.append(graph.token_requests[-1]["refresh_token"])
            assert graph.counts["token_refresh_token"] == 2 and refreshes[0] != refreshes[1]
    finally:
        live.stop()


async def test_read_search_send_reply_and_file_mail(server: LiveServer, graph: GraphStandIn) -> None:
    session = server.create_session(user_id="ms_user", toolkits=["outlook"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "send an outlook email to my team"}]})
        assert "OUTLOOK_SEND_EMAIL" in found["data"]["results"][0]["primary_tool_slugs"]
        await connect_oauth(client, "outlook")

        unread, invoices = await run(
            client, ("OUTLOOK_LIST_MAIL_FOLDER_MESSAGES", {"folder_id": "inbox", "$filter": "isRead eq false"}),
            ("OUTLOOK_SEARCH_MESSAGES", {"$search": "subject:invoice"}))
        assert [m["subject"] for m in unread["data"]["items"]] == ["Invoice 4", "Weekly update 3", "Weekly update 2",
                                                                   "Invoice 1"]
        assert {m["subject"] for m in invoices["data"]["value"]} == {"Invoice 1", "Invoice 4", "Invoice 7",
                                                                     "Invoice 10"}
        assert "body" not in unread["data"]["items"][0]  # the list selects summary fields
        searched = [r for r in graph.api_calls("/v1.0/me/messages") if "$search" in r.query]
        assert searched[-1].query["$search"] == '"subject:invoice"'  # quoted as Graph wants
        first = invoices["data"]["value"][0]["id"]
        read, = await run(client, ("OUTLOOK_GET_MESSAGE", {"message_id": first}))
        assert read["data"]["body"]["contentType"] == "text" and read["data"]["body"]["content"].startswith("Update")
        assert graph.api_calls("/v1.0/me/messages/")[-1].headers["prefer"] == 'outlook.body-content-type="text"'
        files, = await run(client, ("OUTLOOK_LIST_ATTACHMENTS", {"message_id": first}))
        [listed] = files["data"]["value"]
        assert listed["name"] == "invoice.csv" and "contentBytes" not in listed
        got, = await run(client, ("OUTLOOK_GET_ATTACHMENT", {"message_id": first, "attachment_id": listed["id"]}))
        assert got["data"]["text"] == "item,eur\ntea,4\n" and got["data"]["size"] == 15

        sent, = await run(client, ("OUTLOOK_SEND_EMAIL", {
            "to": ["Adele <adele@contoso.example>", "alex@contoso.example"], "subject": "Launch",
            "body": "<p>We ship <b>Friday</b>.</p>", "is_html": True, "importance": "high",
            "attachments": [{"filename": "plan.txt", "content": "ship it"}]}))
        assert sent["successful"] and sent["data"] is None  # 202 Accepted, no body
        body = graph.api_calls("/v1.0/me/sendMail")[-1].body
        assert set(body) == {"Message"}  # Graph keeps a copy in Sent Items unless SaveToSentItems is false
        message = body["Message"]
        assert message["toRecipients"] == [{"emailAddress": {"address": "adele@contoso.example", "name": "Adele"}},
                                           {"emailAddress": {"address": "alex@contoso.example"}}]
        assert message["body"] == {"contentType": "HTML", "content": "<p>We ship <b>Friday</b>.</p>"}
        assert message["attachments"] == [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "plan.txt",
                                           "contentType": "application/octet-stream", "contentBytes": "c2hpcCBpdA=="}]

        replied, forwarded, marked = await run(
            client, ("OUTLOOK_REPLY_EMAIL", {"message_id": first, "comment": "Paid, thanks.",
                                             "cc": "finance@contoso.example"}),
            ("OUTLOOK_FORWARD_MESSAGE", {"message_id": first, "to": "finance@contoso.example", "comment": "FYI"}),
            ("OUTLOOK_UPDATE_MESSAGE", {"message_id": first, "isRead": True, "flag": {"flagStatus": "flagged"}}))
        assert replied["successful"] and forwarded["successful"]
        assert marked["data"]["isRead"] is True and marked["data"]["flag"] == {"flagStatus": "flagged"}
        sent_items, = await run(client, ("OUTLOOK_LIST_MAIL_FOLDER_MESSAGES", {"folder_id": "sentitems"}))
        subject = read["data"]["subject"]
        assert {m["subject"] for m in sent_items["data"]["items"]} == {"Launch", f"RE: {subject}", f"FW: {subject}"}
        reply = next(m for m in sent_items["data"]["items"] if m["subject"].startswith("RE:"))
        assert reply["ccRecipients"] == [{"emailAddress": {"address": "finance@contoso.example"}}]

        made, again = await run(client, ("OUTLOOK_CREATE_MAIL_FOLDER", {"displayName": "Receipts"}),
                                ("OUTLOOK_CREATE_MAIL_FOLDER", {"displayName": "Inbox"}))
        assert made["data"]["displayName"] == "Receipts" and made["data"]["id"].startswith("AAMkF")
        assert again["error"] == ("Microsoft Outlook refused OUTLOOK_CREATE_MAIL_FOLDER (HTTP 409 Conflict): A "
                                  "folder with the specified name already exists.")
        moved, = await run(client, ("OUTLOOK_MOVE_MESSAGE", {"message_id": first, "destinationId": "archive"}))
        assert moved["data"]["parentFolderId"] == "AAMkFarchive" and moved["data"]["id"] != first
        assert graph.api_calls("/v1.0/me/messages/")[-1].body == {"DestinationId": "archive"}

        draft, = await run(client, ("OUTLOOK_CREATE_DRAFT", {"subject": "Plan", "body": "draft"}))
        assert draft["data"]["isDraft"] is True
        unsendable, = await run(client, ("OUTLOOK_SEND_DRAFT", {"message_id": draft["data"]["id"]}))
        assert unsendable["error"] == ("Microsoft Outlook refused OUTLOOK_SEND_DRAFT (HTTP 400 Bad Request): At "
                                       "least one recipient isn't valid., A message can't be sent because it "
                                       "contains no recipients.")
        gone, = await run(client, ("OUTLOOK_GET_MESSAGE", {"message_id": first}))
        assert gone["error"] == ("Microsoft Outlook refused OUTLOOK_GET_MESSAGE (HTTP 404 Not Found): The specified "
                                 "object was not found in the store.")


async def test_calendar_schedule_page_throttle_and_respond(server: LiveServer, graph: GraphStandIn) -> None:
    session = server.create_session(user_id="ms_user", toolkits=["outlook"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "outlook")
        created, = await run(client, ("OUTLOOK_CREATE_EVENT", {
            "subject": "Kickoff", "body": "Agenda: scope", "location": "Room 4.01", "isOnlineMeeting": True,
            "start": {"dateTime": "2026-03-05T10:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-05T11:00:00", "timeZone": "Europe/Berlin"},
            "attendees": ["adele@contoso.example"], "optional_attendees": ["Alex <alex@contoso.example>"]}))
        event = created["data"]
        assert event["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/")
        assert event["start"] == {"dateTime": "2026-03-05T09:00:00.0000000", "timeZone": "UTC"}
        assert [(a["type"], a["emailAddress"]["address"]) for a in event["attendees"]] == [
            ("required", "adele@contoso.example"), ("optional", "alex@contoso.example")]
        posted = graph.api_calls("/v1.0/me/events")[-1].body
        assert posted["location"] == {"displayName": "Room 4.01"}
        assert posted["onlineMeetingProvider"] == "teamsForBusiness"

        graph.fail_next(429, throttled(), {"retry-after": "1"})
        week, = await run(client, ("OUTLOOK_GET_CALENDAR_VIEW", {
            "startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-03-08T00:00:00Z",
            "time_zone": "Europe/Berlin", "$top": 2, "max_results": 4}))
        assert week["successful"], week
        assert [e["subject"] for e in week["data"]["items"]] == ["Standup", "Design review", "Standup",
                                                                 "1:1 with Adele"]
        assert week["data"]["items"][0]["start"] == {"dateTime": "2026-03-02T10:00:00.0000000",
                                                     "timeZone": "Europe/Berlin"}
        assert week["data"]["has_more"] is True and week["data"]["next_cursor"] == "4"
        views = graph.api_calls("/v1.0/me/calendarView")
        assert [(v.query["$top"], v.query.get("$skip")) for v in views] == [("2", None), ("2", None), ("2", "2")]

        # Monday 2 March is busy 09:00-09:15 (standup) and 14:00-15:00 (design review), all times UTC.
        times, = await run(client, ("OUTLOOK_FIND_MEETING_TIMES", {
            "attendees": ["adele@contoso.example"], "duration_minutes": 60, "maxCandidates": 3,
            "start": {"dateTime": "2026-03-02T08:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-02T16:00:00", "timeZone": "UTC"}}))
        starts = [s["meetingTimeSlot"]["start"]["dateTime"][11:16] for s in times["data"]["meetingTimeSuggestions"]]
        assert starts == ["08:00", "09:30", "10:00"]  # 08:30 and 09:00 would overlap the standup
        asked = graph.api_calls("/v1.0/me/findMeetingTimes")[-1].body
        assert asked["meetingDuration"] == "PT60M" and asked["timeConstraint"]["timeSlots"][0]["start"] == {
            "dateTime": "2026-03-02T08:00:00", "timeZone": "UTC"}

        standups, = await run(client, ("OUTLOOK_LIST_EVENTS", {"$filter": "contains(subject,'standup')"}))
        invited = standups["data"]["items"][0]["id"]
        moved, accepted, own = await run(
            client, ("OUTLOOK_UPDATE_EVENT", {"event_id": event["id"],
                                              "start": {"dateTime": "2026-03-05T15:00:00", "timeZone": "UTC"},
                                              "end": {"dateTime": "2026-03-05T16:00:00", "timeZone": "UTC"}}),
            ("OUTLOOK_ACCEPT_EVENT", {"event_id": invited, "comment": "See you"}),
            ("OUTLOOK_DECLINE_EVENT", {"event_id": event["id"]}))
        assert moved["data"]["start"]["dateTime"] == "2026-03-05T15:00:00.0000000"
        assert accepted["successful"] and graph.events[invited]["responseStatus"]["response"] == "accepted"
        assert "you're the meeting organizer" in own["error"]
        cancelled, not_mine = await run(client, ("OUTLOOK_CANCEL_EVENT", {"event_id": event["id"], "comment": "Sorry"}),
                                        ("OUTLOOK_CANCEL_EVENT", {"event_id": invited}))
        assert cancelled["successful"] and graph.events[event["id"]]["isCancelled"] is True
        assert "You need to be an organizer to cancel a meeting" in not_mine["error"]
        no_window, = await run(client, ("OUTLOOK_GET_CALENDAR_VIEW", {"startDateTime": "2026-03-01T00:00:00Z",
                                                                      "endDateTime": ""}))
        assert "StartDateTime and EndDateTime" in no_window["error"]


async def test_graph_explorer_token_without_an_oauth_app(tmp_path: Path, graph: GraphStandIn) -> None:
    graph.add_token("eyJ0.explorer", MAIL_SCOPES)
    live = LiveServer(tmp_path / "data", toolkit_overrides={"outlook": {"base_url": graph.base}}).start()
    try:
        session = live.create_session(user_id="token_user", toolkits=["outlook"])
        async with Client(session["mcp"]["url"]) as client:
            entry = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["outlook"]}))["data"]["results"][
                "outlook"]
            assert entry["auth_scheme"] == "BEARER_TOKEN" and "Graph Explorer" in entry["credential_help"]
            assert submit_key_form(entry["redirect_url"], token="eyJ0.explorer").status_code == 200
            mail, calendar = await run(client, ("OUTLOOK_LIST_MESSAGES", {}), ("OUTLOOK_LIST_EVENTS", {}))
            assert mail["successful"] and len(mail["data"]["items"]) == 10  # Graph's page size, stated
            assert mail["data"]["has_more"] is True and mail["data"]["next_cursor"] == "10"
            rest, = await run(client, ("OUTLOOK_LIST_MESSAGES", {"$skip": 10}))
            assert len(rest["data"]["items"]) == 2 and rest["data"]["has_more"] is False
            assert calendar["error"] == ("Microsoft Outlook refused OUTLOOK_LIST_EVENTS (HTTP 403 Forbidden): Access "
                                         "is denied. Check credentials and try again. The connected account lacks "
                                         "permission (scope or role) for this.")
    finally:
        live.stop()
