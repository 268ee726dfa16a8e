"""toolkits/gmail used for real: Google's OAuth round trip with its quirks, then mail sent, read, replied to,
searched and paged through a stand-in that stores RFC 2822 bytes and serves Gmail's wire format."""

from __future__ import annotations

import base64
import email
from collections.abc import Iterator
from email.policy import default as default_policy
from pathlib import Path

import pytest
from mcp import Client

from tests.auth_fixtures import submit_key_form
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.standins.cloud_base import connect_oauth, live_server
from tests.standins.cloud_base import run_tools as run
from tests.standins.google import (
    SCOPE,
    GoogleStandIn,
    rate_limited,
    serving,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path, google: GoogleStandIn) -> Iterator[LiveServer]:
    yield from serving(tmp_path / "data", google, "gmail", "gmail")


async def test_google_oauth_quirks_offline_access_and_refresh_without_rotation(
        server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="gmail_user", toolkits=["gmail"])
    async with Client(session["mcp"]["url"]) as client:
        link = await connect_oauth(client, "gmail")
        asked = google.authorize_requests[-1]
        assert asked["access_type"] == "offline" and asked["prompt"] == "consent"
        assert asked["code_challenge_method"] == "S256" and asked["scope"] == SCOPE + "gmail.modify"
        exchange = google.token_requests[-1]
        assert exchange["grant_type"] == "authorization_code" and exchange["client_secret"] == google.client_secret
        assert exchange["code_verifier"]

        [profile] = await run(client, ("GMAIL_GET_PROFILE", {}))
        assert profile["successful"] and profile["data"]["emailAddress"] == "me@example.com"

        for round_ in (1, 2):  # Google answers a refresh without a new refresh token: the first one stays valid
            google.expire_access_tokens()
            [labels] = await run(client, ("GMAIL_LIST_LABELS", {}))
            assert labels["successful"], labels
            assert google.counts["token_refresh_token"] == round_
        first, second = (r["refresh_token"] for r in google.token_requests if r["grant_type"] == "refresh_token")
        assert first == second and first.startswith("1//")

        # Disconnecting revokes at Google's revoke endpoint; the grant is gone there too.
        account = link["connected_account_id"]
        revoked = server.api("POST", f"/sessions/{session['id']}/connected_accounts/{account}/revoke").json()
        assert revoked["account"]["status"] == "REVOKED" and google.counts["revoke"] == 1
        assert google.revoked == [first]
        after, = await run(client, ("GMAIL_GET_PROFILE", {}))
        assert not after["successful"] and after["error_details"]["code"] == "connection_required"

        # Connecting again: Google has seen this user consent before, so only prompt=consent brings a new
        # refresh token (the stand-in enforces that), and the new connection refreshes like the first.
        await connect_oauth(client, "gmail")
        assert google.counts["authorize"] == 2 and google.authorize_requests[-1]["prompt"] == "consent"
        google.expire_access_tokens()
        back, = await run(client, ("GMAIL_GET_PROFILE", {}))
        assert back["successful"] and google.counts["token_refresh_token"] == 3
        assert google.token_requests[-1]["refresh_token"] not in (first, second)
    calls = google.api_calls("/gmail/v1/users/me/")
    assert calls and all(r.headers["authorization"].startswith("Bearer ya29.") for r in calls)


async def test_send_read_reply_and_organise_mail(server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="gmail_user", toolkits=["gmail"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "email the report to bob"}]})
        assert "GMAIL_SEND_EMAIL" in found["data"]["results"][0]["primary_tool_slugs"]
        await connect_oauth(client, "gmail")

        [sent] = await run(client, ("GMAIL_SEND_EMAIL", {
            "to": ["Bob <bob@example.com>", "carol@example.com"], "cc": "dave@example.com", "subject": "Launch plan",
            "body": "Hi all,\nthe plan is attached. Grüße!", "html": "<p>Hi all, the plan is <b>attached</b>.</p>",
            "attachments": [{"filename": "plan.csv", "mime_type": "text/csv", "content": "step,owner\nship,bob\n"}]}))
        assert sent["successful"], sent
        assert sent["data"]["labelIds"] == ["SENT"]
        raw = base64.urlsafe_b64decode(google.api_calls("/gmail/v1/users/me/messages/send")[-1].body["raw"])
        mime = email.message_from_bytes(raw, policy=default_policy)
        assert mime["To"] == "Bob <bob@example.com>, carol@example.com" and mime["Cc"] == "dave@example.com"
        assert [p.get_content_type() for p in mime.walk()] == [
            "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/csv"]
        assert b"\r\n" in raw  # RFC 2822 line endings

        listed, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "subject:(launch plan)", "includeSpamTrash": False}))
        assert listed["successful"] and [m["id"] for m in listed["data"]["items"]] == [sent["data"]["id"]]

        read, = await run(client, ("GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID", {"id": sent["data"]["id"]}))
        message = read["data"]
        assert message["subject"] == "Launch plan" and message["body"].startswith("Hi all,\nthe plan is attached.")
        assert "Grüße" in message["body"] and message["has_html"] is True
        [attachment] = message["attachments"]
        assert attachment["filename"] == "plan.csv" and attachment["mimeType"] == "text/csv"

        got, = await run(client, ("GMAIL_GET_ATTACHMENT", {"messageId": message["id"],
                                                           "id": attachment["attachmentId"]}))
        assert got["data"]["text"] == "step,owner\nship,bob\n"
        assert base64.b64decode(got["data"]["content_base64"]) == b"step,owner\nship,bob\n"

        # A reply joins the conversation only with Gmail's threading rules: In-Reply-To and a matching subject.
        reply, stray = await run(client, (
            "GMAIL_REPLY_TO_THREAD", {"threadId": message["threadId"], "in_reply_to": message["message_id"],
                                      "to": "bob@example.com", "subject": "Re: Launch plan", "body": "Ping?"}), (
            "GMAIL_SEND_EMAIL", {"to": "bob@example.com", "subject": "Launch plan", "body": "no thread"}))
        assert reply["data"]["threadId"] == message["threadId"]
        assert stray["data"]["threadId"] != message["threadId"]
        thread, = await run(client, ("GMAIL_FETCH_MESSAGE_BY_THREAD_ID", {"id": message["threadId"]}))
        assert [m["subject"] for m in thread["data"]["messages"]] == ["Launch plan", "Re: Launch plan"]
        assert thread["data"]["messages"][1]["headers"]["In-Reply-To"] == message["message_id"]

        before, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "is:unread from:alice@example.com"}))
        alice = [m["id"] for m in before["data"]["items"]]
        bulk, = await run(client, ("GMAIL_BATCH_MODIFY_MESSAGES", {"ids": alice, "removeLabelIds": ["UNREAD"]}))
        assert bulk["successful"] and bulk["data"] is None and len(alice) == 2
        after, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "is:unread from:alice@example.com"}))
        assert after["data"]["items"] == []

        unread, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "is:unread from:bob@example.com"}))
        bob_id = unread["data"]["items"][0]["id"]
        marked, archived_thread, html_only = await run(
            client, ("GMAIL_ADD_LABEL_TO_EMAIL", {"id": bob_id, "removeLabelIds": ["UNREAD", "INBOX"],
                                                  "addLabelIds": ["STARRED"]}),
            ("GMAIL_MODIFY_THREAD_LABELS", {"id": message["threadId"], "addLabelIds": ["Label_1"]}),
            ("GMAIL_FETCH_EMAILS", {"q": "label:receipts"}))
        assert marked["data"]["labelIds"] == ["STARRED"]
        assert all("Label_1" in m["labelIds"] for m in archived_thread["data"]["messages"])
        receipt = html_only["data"]["items"][-1]["id"]
        receipt_read, = await run(client, ("GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID", {"id": receipt}))
        assert receipt_read["data"]["body"] == "Thanks for your order #123."  # text made from the html-only mail


async def test_drafts_labels_trash_and_forward(server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="gmail_user", toolkits=["gmail"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "gmail")
        draft, label, duplicate = await run(
            client, ("GMAIL_CREATE_EMAIL_DRAFT", {"to": "erin@example.com", "subject": "Proposal", "body": "v1"}),
            ("GMAIL_CREATE_LABEL", {"name": "Projects/Alpha"}), ("GMAIL_CREATE_LABEL", {"name": "Receipts"}))
        assert draft["successful"] and draft["data"]["message"]["labelIds"] == ["DRAFT"]
        assert label["data"]["name"] == "Projects/Alpha" and label["data"]["id"].startswith("Label_")
        assert not duplicate["successful"]
        assert duplicate["error"] == ("Gmail refused GMAIL_CREATE_LABEL (HTTP 409 Conflict): "
                                      "Label name exists or conflicts.")
        drafts, = await run(client, ("GMAIL_LIST_DRAFTS", {}))
        assert [d["id"] for d in drafts["data"]["items"]] == [draft["data"]["id"]]
        sent, = await run(client, ("GMAIL_SEND_DRAFT", {"id": draft["data"]["id"]}))
        again, = await run(client, ("GMAIL_DELETE_DRAFT", {"id": draft["data"]["id"]}))
        assert sent["data"]["labelIds"] == ["SENT"] and "404" in again["error"]

        first, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "from:alice@example.com subject:Q3"}))
        original_id = first["data"]["items"][0]["id"]
        original, = await run(client, ("GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID", {"id": original_id}))
        o = original["data"]
        forwarded, trashed = await run(client, ("GMAIL_FORWARD_MESSAGE", {
            "to": "frank@example.com", "body": "FYI", "original_from": o["from"], "original_date": o["date"],
            "original_subject": o["subject"], "original_to": o["to"], "original_body": o["body"]}),
            ("GMAIL_MOVE_TO_TRASH", {"id": original_id}))  # independent calls: a batch runs them together
        assert forwarded["successful"] and "TRASH" in trashed["data"]["labelIds"]
        fwd, = await run(client, ("GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID", {"id": forwarded["data"]["id"]}))
        assert fwd["data"]["subject"] == "Fwd: Q3 report"
        assert fwd["data"]["body"].startswith("FYI\n\n---------- Forwarded message ---------\nFrom: alice@example.com")
        inbox, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "subject:Q3 from:alice@example.com"}))
        assert inbox["data"]["items"] == []  # trashed mail leaves searches unless includeSpamTrash
        restored, = await run(client, ("GMAIL_UNTRASH_MESSAGE", {"id": original_id}))
        assert "TRASH" not in restored["data"]["labelIds"]


async def test_paged_search_bounded_by_max_results_and_rate_limit_retried(
        server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="gmail_user", toolkits=["gmail"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "gmail")
        before = len(google.api_calls("/gmail/v1/users/me/messages"))
        paged, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "in:inbox", "maxResults": 2, "max_results": 3}))
        assert paged["successful"], paged
        assert len(paged["data"]["items"]) == 3 and paged["data"]["has_more"] is True
        pages = google.api_calls("/gmail/v1/users/me/messages")[before:]
        assert [(p.query.get("maxResults"), "pageToken" in p.query) for p in pages] == [("2", False), ("1", True)]
        rest, = await run(client, ("GMAIL_FETCH_EMAILS", {"q": "in:inbox", "pageToken": paged["data"]["next_cursor"]}))
        assert len(rest["data"]["items"]) == 2 and rest["data"]["has_more"] is False

        google.fail_next(429, rate_limited(), {"retry-after": "1"})
        limited, = await run(client, ("GMAIL_LIST_LABELS", {}))
        assert limited["successful"] and any(lab["id"] == "INBOX" for lab in limited["data"]["labels"])
        assert [r.path for r in google.requests[-2:]] == ["/gmail/v1/users/me/labels"] * 2

        google.fail_next(429, rate_limited(), {"retry-after": "120"})  # longer than the toolkit's 30 s budget
        gave_up, = await run(client, ("GMAIL_GET_PROFILE", {}))
        assert not gave_up["successful"] and "Gmail is rate limiting GMAIL_GET_PROFILE (HTTP 429" in gave_up["error"]
        assert "Quota exceeded" in gave_up["error"] and "gave up after 1 attempt" in gave_up["error"]


async def test_errors_are_one_clear_sentence_and_bad_input_sends_nothing(
        server: LiveServer, google: GoogleStandIn) -> None:
    session = server.create_session(user_id="gmail_user", toolkits=["gmail"])
    async with Client(session["mcp"]["url"]) as client:
        await connect_oauth(client, "gmail")
        before = len(google.requests)
        missing, = await run(client, ("GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID", {"id": "does-not-exist"}))
        assert missing["error"] == ("Gmail refused GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID (HTTP 404 Not Found): "
                                    "Requested entity was not found.")
        no_one, = await run(client, ("GMAIL_SEND_EMAIL", {"to": [], "subject": "x", "body": "y"}))
        assert "invalid arguments" in no_one["error"] and "to" in no_one["error"]
        bad_file, = await run(client, ("GMAIL_SEND_EMAIL", {"to": "a@example.com", "subject": "x", "attachments": [
            {"filename": "a.bin", "content_base64": "%%%"}]}))
        assert "content_base64 is not valid base64" in bad_file["error"]
        nothing, = await run(client, ("GMAIL_ADD_LABEL_TO_EMAIL", {"id": "x"}))
        assert "invalid arguments" in nothing["error"]
        assert len(google.requests) == before + 1  # only the lookup of a missing message reached Gmail


async def test_access_token_without_an_oauth_app(tmp_path: Path, google: GoogleStandIn) -> None:
    """No [oauth_apps.gmail]: the Connect Link asks for an access token (OAuth Playground / gcloud)."""
    google.add_token("ya29.playground", {SCOPE + "gmail.modify"})
    google.add_token("ya29.calendar-only", {SCOPE + "calendar"})
    live = live_server(tmp_path / "data", google, {"gmail": google.base("gmail")}, oauth=False)
    try:
        session = live.create_session(user_id="token_user", toolkits=["gmail"])
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["gmail"]}))["data"]["results"]
            entry = link["gmail"]
            assert entry["auth_scheme"] == "BEARER_TOKEN" and "oauthplayground" in entry["credential_help"]
            assert submit_key_form(entry["redirect_url"], token="ya29.calendar-only").status_code == 200
            wrong, = await run(client, ("GMAIL_GET_PROFILE", {}))
            assert wrong["error"] == ("Gmail refused GMAIL_GET_PROFILE (HTTP 403 Forbidden): Request had "
                                      "insufficient authentication scopes. The connected account lacks permission "
                                      "(scope or role) for this.")
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS",
                               {"toolkits": ["gmail"], "reinitiate_all": True}))["data"]["results"]
            assert submit_key_form(link["gmail"]["redirect_url"], token="ya29.playground").status_code == 200
            profile, = await run(client, ("GMAIL_GET_PROFILE", {}))
            assert profile["successful"] and profile["data"]["emailAddress"] == "me@example.com"
    finally:
        live.stop()
