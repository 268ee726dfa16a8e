"""Gmail hooks: plain fields (to, subject, body, attachments) become the base64url RFC 2822 message Gmail
takes in `raw`, and Gmail's nested MIME payloads become headers and a readable text body."""

from __future__ import annotations

import base64
import binascii
import contextlib
import html as html_lib
import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any

from server.errors import InvalidInput

_MESSAGE_FIELDS = ("to", "cc", "bcc", "subject", "body", "html", "attachments", "in_reply_to", "references",
                   "from_address", "reply_to")
_HEADERS_KEPT = ("From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
                 "References")


def _addresses(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    return str(value or "").strip()


def _attachment_bytes(index: int, attachment: dict[str, Any]) -> bytes:
    if "content_base64" in attachment:
        text = re.sub(r"\s+", "", str(attachment["content_base64"])).replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"attachments[{index}].content_base64 is not valid base64; send the file's bytes "
                               "base64-encoded, or plain text in `content`") from None
    return str(attachment.get("content", "")).encode("utf-8")


def _build(arguments: dict[str, Any], *, need_recipient: bool) -> EmailMessage:
    """An RFC 2822 message from the plain fields; a text and an html body become multipart/alternative."""
    message = EmailMessage()
    for field, header in (("from_address", "From"), ("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"),
                          ("reply_to", "Reply-To")):
        value = _addresses(arguments.get(field))
        if value:
            message[header] = value
    if need_recipient and not any(message[h] for h in ("To", "Cc", "Bcc")):
        raise InvalidInput("give at least one recipient in `to`, `cc` or `bcc`")
    message["Subject"] = str(arguments.get("subject") or "")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="concierge.local")
    if arguments.get("in_reply_to"):
        original = str(arguments["in_reply_to"]).strip()
        message["In-Reply-To"] = original
        message["References"] = " ".join([str(arguments.get("references") or "").strip(), original]).strip()
    text, markup = arguments.get("body"), arguments.get("html")
    if markup and not text:
        text = _html_to_text(str(markup))
    message.set_content(str(text or ""))
    if markup:
        message.add_alternative(str(markup), subtype="html")
    for i, attachment in enumerate(arguments.get("attachments") or []):
        maintype, _, subtype = str(attachment.get("mime_type") or "application/octet-stream").partition("/")
        message.add_attachment(_attachment_bytes(i, attachment), maintype=maintype, subtype=subtype or "octet-stream",
                               filename=str(attachment["filename"]))
    return message


def _raw(message: EmailMessage) -> str:
    return base64.urlsafe_b64encode(message.as_bytes(policy=SMTP)).decode("ascii")


def mailbox(arguments: dict[str, Any]) -> dict[str, Any]:
    """Every Gmail path names a mailbox; "me" is the connected account's own."""
    return {"userId": "me"} | arguments


def _rest(arguments: dict[str, Any]) -> dict[str, Any]:
    return mailbox({k: v for k, v in arguments.items() if k not in _MESSAGE_FIELDS})


def build_message(arguments: dict[str, Any]) -> dict[str, Any]:
    """GMAIL_SEND_EMAIL / GMAIL_REPLY_TO_THREAD: {raw, threadId?}."""
    return _rest(arguments) | {"raw": _raw(_build(arguments, need_recipient=True))}


def build_draft(arguments: dict[str, Any]) -> dict[str, Any]:
    """GMAIL_CREATE_EMAIL_DRAFT: {message: {raw, threadId?}}; a draft may lack recipients."""
    rest = _rest(arguments)
    message: dict[str, Any] = {"raw": _raw(_build(arguments, need_recipient=False))}
    if "threadId" in rest:
        message["threadId"] = rest.pop("threadId")
    return rest | {"message": message}


def build_forward(arguments: dict[str, Any]) -> dict[str, Any]:
    """GMAIL_FORWARD_MESSAGE: the original (as read with GMAIL_FETCH_MESSAGE_BY_MESSAGE_ID) quoted below a note."""
    original = {k: str(arguments.get(k) or "") for k in ("original_from", "original_date", "original_subject",
                                                         "original_to", "original_body")}
    subject = original["original_subject"]
    quoted = "\n".join([
        "---------- Forwarded message ---------",
        f"From: {original['original_from']}", f"Date: {original['original_date']}",
        f"Subject: {subject}", f"To: {original['original_to']}", "", original["original_body"]])
    note = str(arguments.get("body") or "")
    fields = {k: v for k, v in arguments.items() if not k.startswith("original_")}
    fields |= {"subject": subject if subject.lower().startswith("fwd:") else f"Fwd: {subject}",
               "body": f"{note}\n\n{quoted}" if note else quoted}
    return build_message(fields)


def _html_to_text(markup: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</h[1-6]>|</li>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", html_lib.unescape(text)).strip()


def _decode_data(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _walk(part: dict[str, Any], found: dict[str, Any]) -> None:
    mime = str(part.get("mimeType") or "")
    body = part.get("body") or {}
    if part.get("filename") and (body.get("attachmentId") or body.get("data")):
        found["attachments"].append({"filename": part["filename"], "mimeType": mime, "size": body.get("size", 0),
                                     "attachmentId": body.get("attachmentId")})
    elif mime in ("text/plain", "text/html") and body.get("data"):
        charset = "utf-8"
        for header in part.get("headers") or []:
            match = re.search(r'charset="?([\w.-]+)', str(header.get("value")), re.I)
            if header.get("name", "").lower() == "content-type" and match:
                charset = match.group(1)
        text = _decode_data(body["data"]).decode(charset, "replace").replace("\r\n", "\n")
        key = "text" if mime == "text/plain" else "html"
        found[key] = found[key] + text if found[key] else text
    for child in part.get("parts") or []:
        _walk(child, found)


def readable_message(message: dict[str, Any]) -> dict[str, Any]:
    """A Gmail message resource as an agent reads mail: the usual headers by name, the plain-text body (from
    the html part when there is no text part) and the attachments with their ids."""
    if not isinstance(message, dict) or "payload" not in message:
        return message
    payload = message["payload"]
    headers = {h["name"]: h["value"] for h in payload.get("headers") or [] if "name" in h}
    wanted = {name.lower(): name for name in _HEADERS_KEPT}
    kept = {wanted[k.lower()]: v for k, v in headers.items() if k.lower() in wanted}
    found: dict[str, Any] = {"text": "", "html": "", "attachments": []}
    _walk(payload, found)
    return {
        "id": message.get("id"), "threadId": message.get("threadId"), "labelIds": message.get("labelIds", []),
        "snippet": message.get("snippet", ""), "internalDate": message.get("internalDate"),
        "from": kept.get("From"), "to": kept.get("To"), "cc": kept.get("Cc"), "subject": kept.get("Subject"),
        "date": kept.get("Date"), "message_id": kept.get("Message-ID"), "headers": kept,
        "body": found["text"] or _html_to_text(found["html"]), "has_html": bool(found["html"]),
        "attachments": found["attachments"],
    }


def readable_thread(thread: dict[str, Any]) -> dict[str, Any]:
    """A Gmail thread with each message made readable (see readable_message)."""
    if not isinstance(thread, dict):
        return thread
    return thread | {"messages": [readable_message(m) for m in thread.get("messages") or []]}


def readable_attachment(attachment: dict[str, Any]) -> dict[str, Any]:
    """An attachment's bytes as standard base64 (what most decoders expect) and, for text, as text too."""
    if not isinstance(attachment, dict) or "data" not in attachment:
        return attachment
    data = _decode_data(str(attachment["data"]))
    result: dict[str, Any] = {"size": attachment.get("size", len(data)),
                              "content_base64": base64.b64encode(data).decode("ascii")}
    with contextlib.suppress(UnicodeDecodeError):
        result["text"] = data.decode("utf-8")
    return result
