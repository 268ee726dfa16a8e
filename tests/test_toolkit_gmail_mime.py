"""Gmail's hooks on their own: the RFC 2822 message GMAIL_SEND_EMAIL builds from plain fields, and how a
Gmail payload (nested parts, other charsets, attachments) reads back."""

from __future__ import annotations

import base64
import email
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

import pytest

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.errors import InvalidInput

GMAIL = load_toolkit_folder(BUILTIN_TOOLKITS / "gmail")


def prepared(slug: str, arguments: dict[str, Any]) -> dict[str, Any]:
    prepare = GMAIL.tools[slug].prepare
    assert prepare is not None
    return prepare(arguments)


def parsed(raw: str) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(base64.urlsafe_b64decode(raw), policy=default_policy))


def test_send_builds_headers_bodies_and_attachments() -> None:
    png = bytes(range(256))
    out = prepared("GMAIL_SEND_EMAIL", {
        "to": ["Zoë <zoe@example.com>", "bob@example.com"], "bcc": "audit@example.com", "subject": "Café menu ✓",
        "reply_to": "team@example.com", "from_address": "Team <team@example.com>", "html": "<p>Menu &amp; prices</p>",
        "attachments": [{"filename": "logo.png", "mime_type": "image/png",
                         "content_base64": base64.urlsafe_b64encode(png).decode().rstrip("=")},
                        {"filename": "notes.txt", "content": "plain text"}]})
    assert set(out) == {"userId", "raw"} and out["userId"] == "me"
    mime = parsed(out["raw"])
    assert mime["To"] == "Zoë <zoe@example.com>, bob@example.com" and mime["Bcc"] == "audit@example.com"
    assert mime["Subject"] == "Café menu ✓" and mime["Reply-To"] == "team@example.com"
    assert mime["From"] == "Team <team@example.com>" and mime["Message-ID"].endswith("@concierge.local>")
    text = next(p for p in mime.walk() if p.get_content_type() == "text/plain" and not p.get_filename())
    assert text.get_content().strip() == "Menu & prices"  # derived from the html when no text body is given
    files = {p.get_filename(): p for p in mime.walk() if p.get_filename()}
    assert files["logo.png"].get_payload(decode=True) == png
    assert files["notes.txt"].get_content_type() == "application/octet-stream"
    assert files["notes.txt"].get_payload(decode=True) == b"plain text"


def test_reply_and_draft_threading_headers() -> None:
    reply = prepared("GMAIL_REPLY_TO_THREAD", {"threadId": "t1", "in_reply_to": "<b@x>", "references": "<a@x>",
                                               "to": "alice@example.com", "subject": "Re: Hi", "body": "ok"})
    mime = parsed(reply["raw"])
    assert reply["threadId"] == "t1" and mime["In-Reply-To"] == "<b@x>" and mime["References"] == "<a@x> <b@x>"
    draft = prepared("GMAIL_CREATE_EMAIL_DRAFT", {"subject": "Later", "threadId": "t1", "in_reply_to": "<b@x>"})
    assert set(draft) == {"userId", "message"} and draft["message"]["threadId"] == "t1"
    assert parsed(draft["message"]["raw"])["To"] is None  # a draft may wait for its recipients


def test_bad_attachment_and_missing_recipient_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"attachments\[0\].content_base64 is not valid base64"):
        prepared("GMAIL_SEND_EMAIL", {"to": "a@example.com", "attachments": [{"filename": "x",
                                                                              "content_base64": "@@@"}]})
    with pytest.raises(InvalidInput, match="at least one recipient"):
        prepared("GMAIL_SEND_EMAIL", {"to": " ", "subject": "x"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_readable_message_walks_nested_parts_charsets_and_attachments() -> None:
    transform = GMAIL.tools["GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID"].transform
    assert transform is not None
    message = {"id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "snippet": "Grüße", "payload": {
        "mimeType": "multipart/mixed", "headers": [
            {"name": "From", "value": "Jörg <j@example.de>"}, {"name": "Subject", "value": "Grüße"},
            {"name": "message-id", "value": "<m1@example.de>"}, {"name": "X-Spam", "value": "no"}],
        "body": {"size": 0}, "parts": [
            {"mimeType": "multipart/alternative", "body": {"size": 0}, "parts": [
                {"mimeType": "text/plain", "headers": [{"name": "Content-Type",
                                                        "value": 'text/plain; charset="iso-8859-1"'}],
                 "body": {"size": 7, "data": b64("Grüße\r\nJörg".encode("latin-1"))}},
                {"mimeType": "text/html", "body": {"size": 20, "data": b64(b"<p>Gr&uuml;&szlig;e</p>")}}]},
            {"mimeType": "application/pdf", "filename": "a.pdf", "body": {"size": 3000, "attachmentId": "ANG1"}}]}}
    out = transform(message)
    assert out["body"] == "Grüße\nJörg" and out["has_html"] is True
    assert out["from"] == "Jörg <j@example.de>" and out["message_id"] == "<m1@example.de>"
    assert "X-Spam" not in out["headers"]
    assert out["attachments"] == [{"filename": "a.pdf", "mimeType": "application/pdf", "size": 3000,
                                   "attachmentId": "ANG1"}]
    html_only = transform({"id": "m2", "payload": {"mimeType": "text/html", "headers": [], "body": {
        "size": 30, "data": b64(b"<style>p{}</style><p>Hello<br>there &amp; bye</p>")}}})
    assert html_only["body"] == "Hello\nthere & bye"
