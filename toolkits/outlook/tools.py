"""Outlook (Microsoft Graph) hooks: plain fields (addresses, a text or HTML body, attachments) become Graph's
recipient, itemBody and fileAttachment objects, and list calls select the fields an agent reads."""

from __future__ import annotations

import base64
from typing import Any

MESSAGE_SUMMARY = ("id,subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,isRead,importance,"
                   "hasAttachments,bodyPreview,conversationId,parentFolderId,webLink,flag,categories")
EVENT_SUMMARY = ("id,subject,start,end,location,organizer,attendees,isAllDay,isCancelled,isOnlineMeeting,"
                 "onlineMeeting,showAs,bodyPreview,webLink,recurrence,seriesMasterId,type")
_COMPOSE = ("to", "cc", "bcc", "subject", "body", "is_html", "attachments", "importance")
_ACTION_PARAMETERS = ("message", "saveToSentItems", "comment", "toRecipients", "destinationId", "sendResponse")


def _recipients(value: Any) -> list[dict[str, Any]]:
    addresses = value if isinstance(value, list) else ([value] if value else [])
    out = []
    for address in addresses:
        text = str(address).strip()
        name, _, rest = text.rpartition("<")
        entry = {"address": rest.rstrip(">").strip()} if rest.endswith(">") and name else {"address": text}
        if name.strip():
            entry["name"] = name.strip().strip('"')
        out.append({"emailAddress": entry})
    return out


def _body(arguments: dict[str, Any]) -> dict[str, str]:
    return {"contentType": "HTML" if arguments.get("is_html") else "Text", "content": str(arguments.get("body") or "")}


def _attachments(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in arguments.get("attachments") or []:
        data = item.get("content_base64") or base64.b64encode(str(item.get("content", "")).encode()).decode()
        out.append({"@odata.type": "#microsoft.graph.fileAttachment", "name": item["filename"],
                    "contentType": item.get("mime_type") or "application/octet-stream", "contentBytes": data})
    return out


def _message(arguments: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"subject": str(arguments.get("subject") or ""), "body": _body(arguments)}
    for field, name in (("to", "toRecipients"), ("cc", "ccRecipients"), ("bcc", "bccRecipients")):
        if arguments.get(field):
            message[name] = _recipients(arguments[field])
    if arguments.get("importance"):
        message["importance"] = arguments["importance"]
    if arguments.get("attachments"):
        message["attachments"] = _attachments(arguments)
    return message


def _rest(arguments: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if k not in _COMPOSE}


def action(arguments: dict[str, Any]) -> dict[str, Any]:
    """Graph actions (sendMail, reply, move, accept...) name their parameters in PascalCase in Microsoft's
    description (`Message`, `Comment`, `DestinationId`), as its SDKs send them; Graph reads either case."""
    return {(k[0].upper() + k[1:] if k in _ACTION_PARAMETERS else k): v for k, v in arguments.items()}


def send_mail(arguments: dict[str, Any]) -> dict[str, Any]:
    """OUTLOOK_SEND_EMAIL: {Message, SaveToSentItems} for POST /me/sendMail."""
    return action(_rest(arguments) | {"message": _message(arguments)})


def draft(arguments: dict[str, Any]) -> dict[str, Any]:
    """OUTLOOK_CREATE_DRAFT: the message's own fields, for POST /me/messages."""
    return _rest(arguments) | _message(arguments)


def reply(arguments: dict[str, Any]) -> dict[str, Any]:
    """OUTLOOK_REPLY_EMAIL / OUTLOOK_FORWARD_MESSAGE: `comment` as text; extra cc and forward recipients."""
    out = {k: v for k, v in arguments.items() if k not in ("to", "cc")}
    if arguments.get("to"):
        out["toRecipients"] = _recipients(arguments["to"])
    if arguments.get("cc"):
        out["message"] = {"ccRecipients": _recipients(arguments["cc"])}
    return action(out)


def event(arguments: dict[str, Any]) -> dict[str, Any]:
    """OUTLOOK_CREATE_EVENT / OUTLOOK_UPDATE_EVENT: plain attendee addresses, text body, location name and
    an online-meeting flag become Graph's attendee, itemBody, location and onlineMeetingProvider."""
    out = dict(arguments)
    if "attendees" in out:
        out["attendees"] = [{"emailAddress": r["emailAddress"], "type": "required"}
                            for r in _recipients(out["attendees"])]
    if "optional_attendees" in out:
        out["attendees"] = out.get("attendees", []) + [
            {"emailAddress": r["emailAddress"], "type": "optional"} for r in _recipients(out.pop("optional_attendees"))]
    if "body" in out:
        out["body"] = _body(out)
    out.pop("is_html", None)
    if isinstance(out.get("location"), str):
        out["location"] = {"displayName": out["location"]}
    if out.get("isOnlineMeeting"):
        out.setdefault("onlineMeetingProvider", "teamsForBusiness")
    return out


def page(arguments: dict[str, Any]) -> dict[str, Any]:
    """Graph's page size stated explicitly (its own default is 10), so the next `$skip` can be worked out."""
    return {"$top": 10} | arguments


def message_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return page({"$select": MESSAGE_SUMMARY} | arguments)


def search_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """Graph wants the whole `$search` value in double quotes (`"from:alice subject:invoice"`)."""
    text = str(arguments["$search"]).strip()
    if not (len(text) > 1 and text.startswith('"') and text.endswith('"')):
        text = '"' + text.replace('"', "") + '"'
    return message_fields(arguments | {"$search": text})


def text_body(arguments: dict[str, Any]) -> dict[str, Any]:
    """Ask Graph for the body as text unless HTML is wanted (Prefer: outlook.body-content-type)."""
    kind = "html" if arguments.pop("as_html", False) else "text"
    return arguments | {"prefer": f'outlook.body-content-type="{kind}"'}


def event_zone(arguments: dict[str, Any]) -> dict[str, Any]:
    """`time_zone` -> Prefer: outlook.timezone, so start and end come back in the user's zone, not UTC."""
    out = dict(arguments)
    zone = out.pop("time_zone", None)
    if zone:
        out["prefer"] = f'outlook.timezone="{zone}"'
    return out


def event_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    return page(event_zone({"$select": EVENT_SUMMARY, "$orderby": "start/dateTime"} | arguments))


def attachment_list(arguments: dict[str, Any]) -> dict[str, Any]:
    """Names, types and sizes only: a listing with every file's bytes would be as large as the files."""
    return {"$select": "id,name,contentType,size,isInline,lastModifiedDateTime"} | arguments


def readable_attachment(data: Any) -> Any:
    """A file attachment with its text alongside the base64 bytes when it is text."""
    if not isinstance(data, dict) or not isinstance(data.get("contentBytes"), str):
        return data
    try:
        text = base64.b64decode(data["contentBytes"], validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return data
    return data | {"text": text}


def meeting_times(arguments: dict[str, Any]) -> dict[str, Any]:
    """Plain attendees, a window and a length in minutes -> findMeetingTimes' attendees, timeConstraint and
    ISO 8601 meetingDuration."""
    out = {k: v for k, v in arguments.items() if k not in ("attendees", "start", "end", "duration_minutes")}
    out["attendees"] = [{"type": "required", "emailAddress": r["emailAddress"]}
                        for r in _recipients(arguments["attendees"])]
    out["timeConstraint"] = {"activityDomain": "work",
                             "timeSlots": [{"start": arguments["start"], "end": arguments["end"]}]}
    out["meetingDuration"] = f"PT{int(arguments.get('duration_minutes', 30))}M"
    return out
