"""toolkits/googledrive used for real through Concierge against a stand-in speaking Drive v3's wire format
(partial responses by `fields`, opaque page tokens, Docs that must be exported rather than downloaded)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from tests.live import LiveServer
from tests.standins.cloud_base import connect_oauth
from tests.standins.cloud_base import run_tools as run
from tests.standins.google import (
    DOC,
    FOLDER,
    SCOPE,
    GoogleStandIn,
    google_error,
    serving,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path, google: GoogleStandIn) -> Iterator[LiveServer]:
    yield from serving(tmp_path / "data", google, "googledrive", "drive")


async def test_find_read_organise_and_share_files(server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="drive_user", toolkits=["googledrive"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "googledrive")
        assert google.authorize_requests[-1]["scope"] == SCOPE + "drive"

        found, = await run(client, ("GOOGLEDRIVE_FIND_FILE", {"q": "name contains 'budget' and trashed = false"}))
        [budget] = found["data"]["items"]
        assert budget["name"] == "Budget 2026.csv" and budget["webViewLink"].endswith("/view")
        assert budget["owners"] == [{"displayName": "Me", "emailAddress": "me@example.com"}]  # fields asked for
        projects = budget["parents"][0]

        content, roadmap = await run(client, ("GOOGLEDRIVE_DOWNLOAD_FILE", {"fileId": budget["id"]}), (
            "GOOGLEDRIVE_FIND_FILE", {"q": f"'{projects}' in parents and mimeType = '{DOC}'"}))
        assert content["data"] == "item,amount\nrent,1200\n"
        doc = roadmap["data"]["items"][0]
        as_file, exported = await run(client, ("GOOGLEDRIVE_DOWNLOAD_FILE", {"fileId": doc["id"]}), (
            "GOOGLEDRIVE_EXPORT_FILE", {"fileId": doc["id"], "mimeType": "text/plain"}))
        assert as_file["error"] == ("Google Drive refused GOOGLEDRIVE_DOWNLOAD_FILE (HTTP 403 Forbidden): Only files "
                                    "with binary content can be downloaded. Use Export with Docs Editors files. The "
                                    "connected account lacks permission (scope or role) for this.")
        assert exported["data"] == "Roadmap\nQ1: ship the connector.\n"

        named, = await run(client, ("GOOGLEDRIVE_FIND_FOLDER", {"name": "proj", "parent_id": "root"}))
        assert [(f["id"], f["name"]) for f in named["data"]["items"]] == [(projects, "Projects")]
        assert google.api_calls("/drive/v3/files")[-1].query["q"] == (
            "mimeType = 'application/vnd.google-apps.folder' and name contains 'proj' and trashed = false and "
            "'root' in parents")

        folder, = await run(client, ("GOOGLEDRIVE_CREATE_FOLDER", {"name": "Archive 2026"}))
        assert folder["data"]["mimeType"] == FOLDER and folder["data"]["parents"] == ["root"]
        made = google.api_calls("/drive/v3/files")[-1]
        assert made.method == "POST" and made.body == {"name": "Archive 2026", "mimeType": FOLDER}

        copied, = await run(client, ("GOOGLEDRIVE_COPY_FILE", {"fileId": budget["id"], "name": "Budget copy",
                                                               "parents": [folder["data"]["id"]]}))
        moved, renamed, shared = await run(client, (
            "GOOGLEDRIVE_MOVE_FILE", {"fileId": budget["id"], "addParents": folder["data"]["id"],
                                      "removeParents": projects}), (
            "GOOGLEDRIVE_UPDATE_FILE_METADATA", {"fileId": copied["data"]["id"], "name": "Budget (copy)",
                                                 "starred": True}), (
            "GOOGLEDRIVE_ADD_FILE_SHARING_PREFERENCE", {"fileId": doc["id"], "role": "writer", "type": "user",
                                                        "emailAddress": "alice@example.com",
                                                        "emailMessage": "Please review"}))
        assert moved["data"]["parents"] == [folder["data"]["id"]]
        assert renamed["data"]["name"] == "Budget (copy)" and renamed["data"]["starred"] is True
        assert shared["data"]["role"] == "writer" and shared["data"]["emailAddress"] == "alice@example.com"
        people, = await run(client, ("GOOGLEDRIVE_LIST_PERMISSIONS", {"fileId": doc["id"]}))
        assert {(p["role"], p.get("emailAddress")) for p in people["data"]["items"]} == {
            ("owner", "me@example.com"), ("writer", "alice@example.com")}

        trashed, = await run(client, ("GOOGLEDRIVE_TRASH_FILE", {"fileId": copied["data"]["id"]}))
        assert trashed["data"]["trashed"] is True
        left, = await run(client, ("GOOGLEDRIVE_FIND_FILE", {"q": f"'{folder['data']['id']}' in parents and "
                                                                  "trashed = false"}))
        assert [f["name"] for f in left["data"]["items"]] == ["Budget 2026.csv"]
        nameless, = await run(client, ("GOOGLEDRIVE_ADD_FILE_SHARING_PREFERENCE",
                                       {"fileId": doc["id"], "role": "reader", "type": "user"}))
        assert nameless["error"].endswith("The permission emailAddress field is required for the specified "
                                          "permission type.")
        about, = await run(client, ("GOOGLEDRIVE_GET_ABOUT", {}))
        assert about["data"]["storageQuota"]["limit"] == "16106127360"


async def test_listing_pages_bad_queries_and_rate_limits(server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="drive_user", toolkits=["googledrive"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "googledrive")
        google.fail_next(429, google_error(429, "User rate limit exceeded.", "userRateLimitExceeded"),
                         {"retry-after": "1"})
        notes, = await run(client, ("GOOGLEDRIVE_FIND_FILE", {"q": "name contains 'notes'", "orderBy": "name",
                                                              "pageSize": 2, "max_results": 4}))
        assert notes["successful"], notes
        assert [f["name"] for f in notes["data"]["items"]] == [f"notes-{n}.txt" for n in range(1, 5)]
        assert notes["data"]["has_more"] is True
        pages = google.api_calls("/drive/v3/files")[-3:]
        assert [p.query.get("pageToken") is None for p in pages] == [True, True, False]
        assert all("nextPageToken" in p.query["fields"] and p.query["supportsAllDrives"] == "true" for p in pages)

        more, = await run(client, ("GOOGLEDRIVE_FIND_FILE", {"q": "name contains 'notes'", "orderBy": "name",
                                                             "pageToken": notes["data"]["next_cursor"]}))
        assert [f["name"] for f in more["data"]["items"]] == ["notes-5.txt"] and more["data"]["has_more"] is False

        bad, = await run(client, ("GOOGLEDRIVE_FIND_FILE", {"q": "title = 'x'"}))
        assert bad["error"] == "Google Drive refused GOOGLEDRIVE_FIND_FILE (HTTP 400 Bad Request): Invalid Value."
        missing, = await run(client, ("GOOGLEDRIVE_GET_FILE_METADATA", {"fileId": "nope"}))
        assert missing["error"] == ("Google Drive refused GOOGLEDRIVE_GET_FILE_METADATA (HTTP 404 Not Found): "
                                    "File not found: nope.")
