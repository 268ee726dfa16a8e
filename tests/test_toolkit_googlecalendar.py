"""toolkits/googlecalendar used for real through Concierge against a stand-in speaking Calendar v3's wire format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.standins.cloud_base import connect_oauth
from tests.standins.cloud_base import run_tools as run
from tests.standins.google import (
    SCOPE,
    GoogleStandIn,
    google_error,
    serving,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path, google: GoogleStandIn) -> Iterator[LiveServer]:
    yield from serving(tmp_path / "data", google, "googlecalendar", "calendar")


async def test_schedule_a_meeting_with_a_meet_link_then_reschedule_and_cancel(
        server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="cal_user", toolkits=["googlecalendar"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "schedule a meeting with alice tomorrow at 10"}]})
        assert "GOOGLECALENDAR_CREATE_EVENT" in found["data"]["results"][0]["primary_tool_slugs"]
        await connect_oauth(client, "googlecalendar")
        asked = google.authorize_requests[-1]
        assert (asked["access_type"], asked["prompt"], asked["scope"]) == ("offline", "consent", SCOPE + "calendar")

        created, = await run(client, ("GOOGLECALENDAR_CREATE_EVENT", {
            "calendarId": "primary", "summary": "Project kickoff", "add_google_meet": True, "sendUpdates": "all",
            "start": {"dateTime": "2026-03-10T10:00:00+01:00"}, "end": {"dateTime": "2026-03-10T11:00:00+01:00"},
            "attendees": [{"email": "alice@example.com"}, {"email": "bob@example.com", "optional": True}]}))
        assert created["successful"], created
        event = created["data"]
        assert event["hangoutLink"].startswith("https://meet.google.com/")
        assert [a["email"] for a in event["attendees"]] == ["alice@example.com", "bob@example.com"]
        sent = google.api_calls("/calendar/v3/calendars/primary/events")[-1]
        assert sent.query == {"sendUpdates": "all", "conferenceDataVersion": "1"}
        assert sent.body["conferenceData"]["createRequest"]["conferenceSolutionKey"] == {"type": "hangoutsMeet"}
        assert "add_google_meet" not in sent.body

        moved, busy = await run(client, (
            "GOOGLECALENDAR_PATCH_EVENT", {"calendarId": "primary", "eventId": event["id"],
                                           "start": {"dateTime": "2026-03-10T14:00:00Z"},
                                           "end": {"dateTime": "2026-03-10T15:00:00Z"}}), (
            "GOOGLECALENDAR_FIND_FREE_BUSY", {"timeMin": "2026-03-10T00:00:00Z", "timeMax": "2026-03-11T00:00:00Z",
                                              "items": [{"id": "primary"}, {"id": "nobody@example.com"}]}))
        assert moved["data"]["start"]["dateTime"] == "2026-03-10T14:00:00Z" and moved["data"]["summary"] == \
            "Project kickoff"
        calendars = busy["data"]["calendars"]
        assert calendars["nobody@example.com"]["errors"][0]["reason"] == "notFound"
        assert calendars["primary"]["busy"]  # the kickoff (before or after the patch) blocks that day

        deleted, = await run(client, ("GOOGLECALENDAR_DELETE_EVENT", {"calendarId": "primary", "eventId": event["id"]}))
        assert deleted["successful"] and deleted["data"] is None
        gone, backwards = await run(client, (
            "GOOGLECALENDAR_GET_EVENT", {"calendarId": "primary", "eventId": event["id"]}), (
            "GOOGLECALENDAR_CREATE_EVENT", {"calendarId": "primary", "summary": "Backwards",
                                            "start": {"dateTime": "2026-03-10T11:00:00Z"},
                                            "end": {"dateTime": "2026-03-10T10:00:00Z"}}))
        assert gone["error"] == ("Google Calendar refused GOOGLECALENDAR_GET_EVENT (HTTP 410 Gone): "
                                 "Resource has been deleted.")
        assert backwards["error"] == ("Google Calendar refused GOOGLECALENDAR_CREATE_EVENT (HTTP 400 Bad Request): "
                                      "The specified time range is empty.")


async def test_agenda_pages_under_max_results_and_survives_a_rate_limit(
        server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="cal_user", toolkits=["googlecalendar"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "googlecalendar")
        week = {"calendarId": "primary", "timeMin": "2026-03-01T00:00:00Z", "timeMax": "2026-03-08T00:00:00Z",
                "singleEvents": True, "orderBy": "startTime"}
        google.fail_next(429, google_error(429, "Rate Limit Exceeded", "rateLimitExceeded"), {"retry-after": "1"})
        agenda, = await run(client, ("GOOGLECALENDAR_EVENTS_LIST", week | {"maxResults": 3, "max_results": 5}))
        calendars, = await run(client, ("GOOGLECALENDAR_LIST_CALENDARS", {"minAccessRole": "writer"}))
        assert agenda["successful"], agenda
        items = agenda["data"]["items"]
        assert [e["summary"] for e in items] == ["Standup 1", "Standup 2", "Standup 3", "Dentist", "Standup 4"]
        assert agenda["data"]["has_more"] is True and agenda["data"]["next_cursor"]
        assert [c["summary"] for c in calendars["data"]["items"]] == ["me@example.com", "Team"]
        pages = [r for r in google.api_calls("/calendar/v3/calendars/primary/events") if r.method == "GET"]
        assert [p.query["maxResults"] for p in pages] == ["3", "3", "2"]  # the rate-limited try, its retry, page 2
        assert "pageToken" in pages[-1].query

        # Calendar also limits with 403 + reason rateLimitExceeded: retried; a 403 for another reason is not.
        google.fail_next(403, google_error(403, "Rate Limit Exceeded", "rateLimitExceeded"))
        primary, = await run(client, ("GOOGLECALENDAR_GET_CALENDAR", {"calendarId": "primary"}))
        assert primary["successful"] and primary["data"]["timeZone"] == "Europe/Berlin"
        google.fail_next(403, google_error(403, "The caller does not have permission", "forbidden"))
        refused, = await run(client, ("GOOGLECALENDAR_GET_CALENDAR", {"calendarId": "primary"}))
        assert "(HTTP 403 Forbidden): The caller does not have permission" in refused["error"]
        assert [r.path for r in google.requests[-3:]] == ["/calendar/v3/calendars/primary"] * 3

        unordered, = await run(client, ("GOOGLECALENDAR_EVENTS_LIST", week | {"singleEvents": False}))
        assert "The requested ordering is not available" in unordered["error"]
        text, = await run(client, ("GOOGLECALENDAR_EVENTS_LIST", {"calendarId": "primary", "q": "dentist"}))
        assert [e["location"] for e in text["data"]["items"]] == ["Main St 1"]
        assert google.api_calls("/calendar/v3/calendars/primary/events")[-1].query == {"q": "dentist",
                                                                                      "singleEvents": "true"}
        quick, = await run(client, ("GOOGLECALENDAR_QUICK_ADD", {"calendarId": "primary",
                                                                 "text": "Lunch with Sam tomorrow 12:30"}))
        assert quick["data"]["summary"] == "Lunch with Sam tomorrow 12:30"
        assert google.api_calls("/calendar/v3/calendars/primary/events/quickAdd")[-1].query["text"] == \
            "Lunch with Sam tomorrow 12:30"
