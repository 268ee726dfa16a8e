"""toolkits/googlesheets used for real through Concierge against a stand-in speaking Sheets v4's wire format
(A1 ranges in the path, valueInputOption, batchUpdate replies)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from tests.live import LiveServer
from tests.standins.cloud_base import connect_oauth
from tests.standins.cloud_base import run_tools as run
from tests.standins.google import (
    GoogleStandIn,
    google_error,
    serving,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path, google: GoogleStandIn) -> Iterator[LiveServer]:
    yield from serving(tmp_path / "data", google, "googlesheets", "sheets")


async def test_build_a_spreadsheet_write_append_read_and_edit(server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="sheets_user", toolkits=["googlesheets"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "googlesheets")
        created, = await run(client, ("GOOGLESHEETS_CREATE_SPREADSHEET", {"title": "Budget 2026",
                                                                          "sheet_titles": ["Income", "My Costs"]}))
        book = created["data"]
        assert book["properties"]["title"] == "Budget 2026"
        assert [s["properties"]["title"] for s in book["sheets"]] == ["Income", "My Costs"]
        sid = book["spreadsheetId"]

        written, = await run(client, ("GOOGLESHEETS_UPDATE_VALUES", {
            "spreadsheetId": sid, "range": "'My Costs'!A1", "valueInputOption": "USER_ENTERED",
            "values": [["Item", "Amount"], ["Rent", "1200"], ["Food", 300.5]]}))
        assert written["data"]["updatedRange"] == "'My Costs'!A1:B3" and written["data"]["updatedCells"] == 6
        put = google.api_calls(f"/v4/spreadsheets/{sid}/values/")[-1]
        assert put.method == "PUT" and put.path.endswith("/values/'My Costs'!A1")
        assert put.query == {"valueInputOption": "USER_ENTERED"}

        appended, = await run(client, ("GOOGLESHEETS_SPREADSHEETS_VALUES_APPEND", {
            "spreadsheetId": sid, "range": "'My Costs'!A:B", "valueInputOption": "RAW", "values": [["Travel", "99"]]}))
        assert appended["data"]["updates"]["updatedRange"] == "'My Costs'!A4:B4"
        assert google.api_calls(f"/v4/spreadsheets/{sid}/values/")[-1].query == {
            "valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}

        read, both, unformatted = await run(
            client, ("GOOGLESHEETS_VALUES_GET", {"spreadsheetId": sid, "range": "'My Costs'!A1:B10"}),
            ("GOOGLESHEETS_BATCH_GET", {"spreadsheetId": sid, "ranges": ["'My Costs'!A2:A4", "Income!A1:B2"]}),
            ("GOOGLESHEETS_VALUES_GET", {"spreadsheetId": sid, "range": "'My Costs'!B2:B4",
                                         "valueRenderOption": "UNFORMATTED_VALUE"}))
        assert read["data"]["values"] == [["Item", "Amount"], ["Rent", "1200"], ["Food", "300.5"], ["Travel", "99"]]
        assert [r["valueRange"].get("values") for r in both["data"]["valueRanges"]] == [
            [["Rent"], ["Food"], ["Travel"]], None]
        assert unformatted["data"]["values"] == [[1200], [300.5], ["99"]]  # USER_ENTERED parsed, RAW kept text

        tab, replaced, info = await run(
            client, ("GOOGLESHEETS_ADD_SHEET", {"spreadsheetId": sid, "title": "March", "rows": 50}),
            ("GOOGLESHEETS_FIND_REPLACE", {"spreadsheetId": sid, "find": "Rent", "replacement": "Mortgage"}),
            ("GOOGLESHEETS_GET_SPREADSHEET_INFO", {"spreadsheetId": sid}))
        assert tab["data"]["properties"]["title"] == "March"
        assert tab["data"]["properties"]["gridProperties"] == {"rowCount": 50, "columnCount": 26}
        assert replaced["data"]["occurrencesChanged"] == 1 and replaced["data"]["spreadsheetId"] == sid
        assert info["data"]["spreadsheetUrl"].endswith("/edit")
        [got] = [r for r in google.api_calls(f"/v4/spreadsheets/{sid}") if r.path == f"/v4/spreadsheets/{sid}"]
        assert got.query["fields"].startswith("spreadsheetId")

        cleared, after = await run(client, ("GOOGLESHEETS_CLEAR_VALUES", {"spreadsheetId": sid,
                                                                           "range": "'My Costs'!A3:B4"}),
                                   ("GOOGLESHEETS_GET_SPREADSHEET_INFO", {"spreadsheetId": sid}))
        assert cleared["data"]["clearedRange"] == "'My Costs'!A3:B4"
        assert [s["properties"]["title"] for s in after["data"]["sheets"]] == ["Income", "My Costs", "March"]
        left, = await run(client, ("GOOGLESHEETS_VALUES_GET", {"spreadsheetId": sid, "range": "'My Costs'"}))
        assert left["data"]["values"] == [["Item", "Amount"], ["Mortgage", "1200"]]


async def test_sheet_errors_and_rate_limit(server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="sheets_user", toolkits=["googlesheets"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "googlesheets")
        google.fail_next(429, google_error(429, "Quota exceeded for quota metric 'Write requests'"),
                         {"retry-after": "1"})
        created, = await run(client, ("GOOGLESHEETS_CREATE_SPREADSHEET", {"title": "Log"}))
        assert created["successful"], created
        sid = created["data"]["spreadsheetId"]
        assert [r.method for r in google.api_calls("/v4/spreadsheets")] == ["POST", "POST"]

        duplicate, bad_range, no_input = await run(
            client, ("GOOGLESHEETS_ADD_SHEET", {"spreadsheetId": sid, "title": "Sheet1"}),
            ("GOOGLESHEETS_VALUES_GET", {"spreadsheetId": sid, "range": "Nope!A1"}),
            ("GOOGLESHEETS_BATCH_UPDATE", {"spreadsheetId": sid, "requests": [{"frobnicate": {}}]}))
        assert duplicate["error"] == ('Google Sheets refused GOOGLESHEETS_ADD_SHEET (HTTP 400 Bad Request): Invalid '
                                      'requests[0].addSheet: A sheet with the name "Sheet1" already exists. Please '
                                      'enter another name.')
        assert bad_range["error"].endswith("Unable to parse range: Nope!A1.")
        assert "Unknown name 'frobnicate'" in no_input["error"]
        missing, = await run(client, ("GOOGLESHEETS_VALUES_GET", {"spreadsheetId": "nope", "range": "A1"}))
        assert "(HTTP 404 Not Found): Requested entity was not found." in missing["error"]
