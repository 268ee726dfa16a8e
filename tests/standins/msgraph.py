"""A local stand-in for Microsoft Graph v1.0 (Outlook mail and calendar under `/v1.0/me/...`) and the Microsoft
identity platform's OAuth endpoints (`/{tenant}/oauth2/v2.0/...`), in Microsoft's wire format, for end-to-end
tests of toolkits/outlook. What it keeps faithful:
- errors as `{"error": {"code", "message"}}` (InvalidAuthenticationToken, ErrorItemNotFound, ...);
- `value` lists with `@odata.nextLink` (a `$skip` link) and `$top` (default 10), `$skip`, a `$filter`
  subset, `$orderby`, `$select`, `$search` (which refuses `$orderby`/`$skip` as Graph does);
- action bodies read case-insensitively (`Message` or `message`), 202 Accepted with no body for sendMail,
  reply, forward and the like, 201 for creations, 204 for deletes;
- `Prefer: outlook.body-content-type` and `outlook.timezone` honoured and echoed in `Preference-Applied`;
- 429 with Retry-After; OAuth: the tenant in the path, refresh tokens only with `offline_access`, and a new
  refresh token on every refresh.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.standins.cloud_base import ApiError, CloudStandIn, Grant, Handler, OAuthRules, json_body

MAIL_SCOPES = frozenset({"Mail.ReadWrite", "Mail.Read", "Mail.Send"})
CALENDAR_SCOPES = frozenset({"Calendars.ReadWrite", "Calendars.Read"})
WELL_KNOWN = {"inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts", "deleteditems": "Deleted Items",
              "archive": "Archive", "junkemail": "Junk Email"}


def graph_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": "2026-03-01T10:00:00", "request-id": "0000-stand-in"}}}


def fail(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, graph_error(code, message))


def throttled() -> dict[str, Any]:
    return graph_error("ApplicationThrottled", "Application is over its MailboxConcurrency limit.")


def _ms_offline(params: Mapping[str, str], consented_before: bool) -> bool:
    return "offline_access" in params.get("scope", "").split()


def _field(body: Mapping[str, Any], name: str) -> Any:
    """Graph reads action parameters case-insensitively (`Message` as `message`)."""
    for key, value in body.items():
        if key.lower() == name.lower():
            return value
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(when: Mapping[str, Any]) -> datetime:
    text = str(when.get("dateTime") or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(400, "ErrorInvalidRequest", f"Cannot convert the literal '{text}' to the expected type "
                                               "'Edm.DateTimeOffset'.") from None
    if parsed.tzinfo is None:
        zone = str(when.get("timeZone") or "UTC")
        try:
            parsed = parsed.replace(tzinfo=UTC if zone == "UTC" else ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified. The "
                                                             f"following TimeZone value is not supported: '{zone}'."
                       ) from None
    return parsed.astimezone(UTC)


class GraphStandIn(CloudStandIn):
    oauth_rules = OAuthRules(authorize_path="/{tenant}/oauth2/v2.0/authorize", token_path="/{tenant}/oauth2/v2.0/token",
                             revoke_path=None, wants_refresh=_ms_offline, rotates_refresh=True, token_prefix="eyJ0",
                             refresh_prefix="M.C5")

    def __init__(self, *, user: str = "megan@contoso.example") -> None:
        super().__init__(user=user)
        self.folders: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, list[dict[str, Any]]] = {}  # message id -> fileAttachments

    @property
    def base(self) -> str:
        return self.url + "/v1.0"

    def required_scopes(self, path: str) -> frozenset[str]:
        if path == "/v1.0/me":
            return frozenset({"User.Read", "User.ReadWrite"})
        calendar = re.search(r"/(events|calendarView|calendars|findMeetingTimes)\b", path)
        return CALENDAR_SCOPES if calendar else MAIL_SCOPES

    def unauthorized(self) -> ApiError:
        return ApiError(401, graph_error("InvalidAuthenticationToken", "Lifetime validation failed, the token is "
                                                                       "expired."),
                        {"www-authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                                             'common/oauth2/authorize"'})

    def forbidden_scope(self) -> ApiError:
        return fail(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    def not_found(self, request: Request) -> ApiError:
        return fail(400, "BadRequest", f"Resource not found for the segment '{request.url.path.rsplit('/', 1)[-1]}'.")

    def routes(self) -> list[tuple[str, str, Handler]]:
        me = "/v1.0/me"
        return [
            ("GET", me + "/messages", self._list_messages),
            ("POST", me + "/messages", self._create_draft),
            ("GET", me + "/messages/{id}", self._get_message),
            ("PATCH", me + "/messages/{id}", self._update_message),
            ("DELETE", me + "/messages/{id}", self._delete_message),
            ("POST", me + "/messages/{id}/send", self._send_draft),
            ("POST", me + "/messages/{id}/reply", self._reply),
            ("POST", me + "/messages/{id}/replyAll", self._reply),
            ("POST", me + "/messages/{id}/forward", self._reply),
            ("POST", me + "/messages/{id}/move", self._move),
            ("POST", me + "/sendMail", self._send_mail),
            ("GET", me + "/mailFolders", self._list_folders),
            ("POST", me + "/mailFolders", self._create_folder),
            ("POST", me + "/findMeetingTimes", self._find_meeting_times),
            ("GET", me + "/mailFolders/{folder}/messages", self._list_messages),
            ("GET", me + "/events", self._list_events),
            ("POST", me + "/events", self._create_event),
            ("GET", me + "/events/{id}", self._get_event),
            ("PATCH", me + "/events/{id}", self._update_event),
            ("DELETE", me + "/events/{id}", self._delete_event),
            ("POST", me + "/events/{id}/cancel", self._cancel_event),
            ("POST", me + "/events/{id}/accept", self._respond),
            ("POST", me + "/events/{id}/decline", self._respond),
            ("GET", me + "/calendarView", self._calendar_view),
            ("GET", me + "/calendars", self._list_calendars),
            ("GET", me + "/messages/{id}/attachments", self._list_attachments),
            ("GET", me + "/messages/{id}/attachments/{attachment}", self._get_attachment),
            ("GET", me, self._me),
        ]

    def seed(self) -> None:
        for key, name in WELL_KNOWN.items():
            self.folders[key] = {"id": "AAMkF" + key, "displayName": name, "parentFolderId": "AAMkRoot",
                                 "childFolderCount": 0, "unreadItemCount": 0, "totalItemCount": 0,
                                 "isHidden": False}
        senders = ["adele@contoso.example", "alex@contoso.example", "news@fabrikam.example"]
        for i in range(12):
            self._new_message("inbox", {
                "subject": f"Weekly update {i + 1}" if i % 3 else f"Invoice {i + 1}",
                "body": {"contentType": "html", "content": f"<html><body><p>Update number {i + 1}.</p></body></html>"},
                "from": {"emailAddress": {"address": senders[i % 3], "name": senders[i % 3].split("@")[0].title()}},
                "toRecipients": [{"emailAddress": {"address": self.user}}], "isRead": i >= 4,
                "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": "invoice.csv",
                                 "contentType": "text/csv", "contentBytes": "aXRlbSxldXIKdGVhLDQK"}] if i == 0 else []},
                received=f"2026-02-{i + 1:02d}T08:00:00Z")
        for day, subject in ((2, "Standup"), (2, "Design review"), (3, "Standup"), (4, "1:1 with Adele")):
            start = f"2026-03-{day:02d}T{'09' if subject == 'Standup' else '14'}:00:00"
            end = f"2026-03-{day:02d}T{'09:15' if subject == 'Standup' else '15:00'}:00"
            self._new_event({"subject": subject, "start": {"dateTime": start, "timeZone": "UTC"},
                             "end": {"dateTime": end, "timeZone": "UTC"}})
        self.events[next(iter(self.events))]["isOrganizer"] = False

    # --- mail ------------------------------------------------------------------------------------------------------

    def _folder(self, key: str) -> dict[str, Any]:
        folder = self.folders.get(key.lower()) or next((f for f in self.folders.values() if f["id"] == key), None)
        if folder is None:
            raise fail(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return folder

    def _new_message(self, folder: str, data: Mapping[str, Any], received: str | None = None) -> dict[str, Any]:
        message_id = "AAMkAG" + self.new_id() + "="
        when = received or _now()
        message: dict[str, Any] = {
            "@odata.etag": 'W/"CQAAABYAAAA"', "id": message_id, "createdDateTime": when,
            "lastModifiedDateTime": when, "receivedDateTime": when, "sentDateTime": when, "hasAttachments": False,
            "internetMessageId": f"<{message_id[:12]}@contoso.example>", "subject": "", "bodyPreview": "",
            "importance": "normal", "parentFolderId": self._folder(folder)["id"], "conversationId": "AAQk" + message_id,
            "isDeliveryReceiptRequested": False, "isReadReceiptRequested": False, "isRead": True,
            "isDraft": folder == "drafts", "webLink": f"https://outlook.office365.com/owa/?ItemID={message_id}",
            "inferenceClassification": "focused", "body": {"contentType": "text", "content": ""},
            "sender": {"emailAddress": {"address": self.user, "name": "Megan"}},
            "from": {"emailAddress": {"address": self.user, "name": "Megan"}}, "toRecipients": [], "ccRecipients": [],
            "bccRecipients": [], "replyTo": [], "flag": {"flagStatus": "notFlagged"}, "categories": []}
        for key, value in data.items():
            if key in message or key in ("attachments",):
                message[key] = value
        content = str(message["body"].get("content", ""))
        message["bodyPreview"] = " ".join(re.sub(r"<[^>]+>", " ", content).split())[:255]
        message.pop("attachments", None)
        self.attachments[message_id] = [
            {"@odata.type": "#microsoft.graph.fileAttachment", "id": f"AAMkATT{message_id[6:14]}{n}=",
             "lastModifiedDateTime": when, "name": a.get("name", ""), "contentType": a.get("contentType"),
             "size": len(base64.b64decode(a.get("contentBytes", ""))), "isInline": False,
             "contentBytes": a.get("contentBytes", "")} for n, a in enumerate(data.get("attachments") or [])]
        message["hasAttachments"] = bool(self.attachments[message_id])
        self.messages[message_id] = message
        return message

    def _message(self, request: Request) -> dict[str, Any]:
        message = self.messages.get(request.path_params["id"])
        if message is None:
            raise fail(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return message

    def _view(self, message: dict[str, Any], request: Request) -> dict[str, Any]:
        prefer = request.headers.get("prefer", "")
        out = dict(message)
        if 'outlook.body-content-type="text"' in prefer and out["body"]["contentType"] == "html":
            text = re.sub(r"<[^>]+>", " ", out["body"]["content"])
            out["body"] = {"contentType": "text", "content": " ".join(text.split())}
        return out

    def _select(self, items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        select = request.query_params.get("$select")
        if not select:
            return items
        names = {"id", "@odata.etag"} | {n.strip() for n in select.split(",")}
        return [{k: v for k, v in item.items() if k in names} for item in items]

    def _listing(self, items: list[dict[str, Any]], request: Request, context: str) -> Response:
        q = request.query_params
        try:
            top = int(q.get("$top", "10"))
            skip = int(q.get("$skip", "0"))
        except ValueError:
            raise fail(400, "BadRequest", "Invalid $top or $skip value.") from None
        if not 1 <= top <= 1000 or skip < 0:
            raise fail(400, "ErrorInvalidUrlQuery", "The value of $top must be between 1 and 1000.")
        page = items[skip:skip + top]
        body: dict[str, Any] = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
                                "value": self._select(page, request)}
        if skip + top < len(items):
            rest = {k: v for k, v in q.items() if k != "$skip"} | {"$skip": str(skip + top)}
            body["@odata.nextLink"] = f"{self.base}{request.url.path.removeprefix('/v1.0')}?{urlencode(rest)}"
        return JSONResponse(body)

    async def _list_messages(self, request: Request, grant: Grant) -> Response:
        q = request.query_params
        folder = self._folder(request.path_params["folder"])["id"] if "folder" in request.path_params else None
        items = [m for m in self.messages.values() if folder is None or m["parentFolderId"] == folder]
        search = q.get("$search")
        if search:
            if "$orderby" in q or "$skip" in q:
                raise fail(400, "ErrorInvalidUrlQuery", "The query parameter '$orderby' is not supported with "
                                                        "'$search'." if "$orderby" in q else
                           "The query parameter '$skip' is not supported with '$search'.")
            items = [m for m in items if _search(m, search)]
        if q.get("$filter"):
            test = _filter(q["$filter"])
            items = [m for m in items if test(m)]
        order = q.get("$orderby", "" if search else "receivedDateTime desc")
        if order:
            key = order.split()[0]
            items.sort(key=lambda m: str(m.get(key, "")), reverse=order.endswith("desc"))
        return self._listing(items, request, "users('me')/messages")

    async def _get_message(self, request: Request, grant: Grant) -> Response:
        view = self._view(self._message(request), request)
        applied = request.headers.get("prefer", "")
        return JSONResponse(self._select([view], request)[0],
                            headers={"preference-applied": applied} if "body-content-type" in applied else {})

    async def _update_message(self, request: Request, grant: Grant) -> Response:
        message = self._message(request)
        data = await json_body(request, _invalid)
        for key in ("isRead", "flag", "importance", "categories", "subject"):
            if key in data:
                message[key] = data[key]
        message["lastModifiedDateTime"] = _now()
        return JSONResponse(message)

    async def _delete_message(self, request: Request, grant: Grant) -> Response:
        message = self._message(request)
        message["parentFolderId"] = self.folders["deleteditems"]["id"]
        return Response(status_code=204)

    def _check_recipients(self, message: Mapping[str, Any]) -> None:
        everyone = [r for key in ("toRecipients", "ccRecipients", "bccRecipients") for r in message.get(key) or []]
        if not everyone:
            raise fail(400, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't be sent "
                                                      "because it contains no recipients.")
        for r in everyone:
            address = str((r.get("emailAddress") or {}).get("address", ""))
            if "@" not in address:
                raise fail(400, "ErrorInvalidRecipients", f"At least one recipient isn't valid., Recipient "
                                                          f"'{address}' isn't resolved. All recipients must be "
                                                          "resolved before a message can be submitted.")

    async def _send_mail(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        message = _field(data, "message")
        if not isinstance(message, dict):
            raise fail(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
        self._check_recipients(message)
        if _field(data, "saveToSentItems") is not False:
            self._new_message("sentitems", message)
        return Response(status_code=202)

    async def _create_draft(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        return JSONResponse(self._new_message("drafts", data), status_code=201)

    async def _send_draft(self, request: Request, grant: Grant) -> Response:
        message = self._message(request)
        if not message["isDraft"]:
            raise fail(400, "ErrorInvalidOperation", "Only draft messages can be sent.")
        self._check_recipients(message)
        message.update(isDraft=False, parentFolderId=self.folders["sentitems"]["id"], sentDateTime=_now())
        return Response(status_code=202)

    async def _reply(self, request: Request, grant: Grant) -> Response:
        original = self._message(request)
        data = await json_body(request, _invalid)
        kind = request.url.path.rsplit("/", 1)[-1]
        comment = str(_field(data, "comment") or "")
        extra = _field(data, "message") or {}
        if kind == "forward":
            to = _field(data, "toRecipients") or extra.get("toRecipients") or []
            subject = "FW: " + original["subject"]
        else:
            to = [original["from"]] + (original["toRecipients"] if kind == "replyAll" else [])
            subject = "RE: " + original["subject"]
        reply = {"subject": subject, "toRecipients": to, "ccRecipients": extra.get("ccRecipients") or [],
                 "body": {"contentType": "text", "content": comment + "\n\n" + original["bodyPreview"]},
                 "conversationId": original["conversationId"]}
        self._check_recipients(reply)
        self._new_message("sentitems", reply)
        return Response(status_code=202)

    async def _move(self, request: Request, grant: Grant) -> Response:
        message = self._message(request)
        data = await json_body(request, _invalid)
        destination = _field(data, "destinationId")
        if not destination:
            raise fail(400, "ErrorInvalidParameter", "The value of the parameter 'DestinationId' is empty.")
        folder = self._folder(str(destination))
        del self.messages[message["id"]]
        moved = dict(message, id="AAMkAG" + self.new_id() + "=", parentFolderId=folder["id"])
        self.messages[moved["id"]] = moved
        return JSONResponse(moved, status_code=201)

    async def _list_folders(self, request: Request, grant: Grant) -> Response:
        folders = []
        for folder in self.folders.values():
            inside = [m for m in self.messages.values() if m["parentFolderId"] == folder["id"]]
            folders.append(folder | {"totalItemCount": len(inside),
                                     "unreadItemCount": sum(not m["isRead"] for m in inside)})
        return self._listing(folders, request, "users('me')/mailFolders")

    async def _list_attachments(self, request: Request, grant: Grant) -> Response:
        return self._listing(self.attachments.get(self._message(request)["id"], []), request,
                             "users('me')/messages('id')/attachments")

    async def _get_attachment(self, request: Request, grant: Grant) -> Response:
        found = [a for a in self.attachments.get(self._message(request)["id"], [])
                 if a["id"] == request.path_params["attachment"]]
        if not found:
            raise fail(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return JSONResponse(self._select(found, request)[0])

    async def _me(self, request: Request, grant: Grant) -> Response:
        return JSONResponse({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                             "id": "48d31887-5fad-4d73-a9f5-3c356e68a038", "displayName": "Megan Bowen",
                             "mail": grant.user, "userPrincipalName": grant.user, "jobTitle": "Marketing Manager",
                             "officeLocation": "12/1110", "preferredLanguage": "en-US"})

    async def _list_calendars(self, request: Request, grant: Grant) -> Response:
        calendars = [{"id": "AAMkCAL1", "name": "Calendar", "color": "auto", "isDefaultCalendar": True,
                      "canEdit": True, "owner": {"name": "Megan Bowen", "address": self.user}},
                     {"id": "AAMkCAL2", "name": "Team", "color": "lightBlue", "isDefaultCalendar": False,
                      "canEdit": False, "owner": {"name": "Adele", "address": "adele@contoso.example"}}]
        return self._listing(calendars, request, "users('me')/calendars")

    async def _create_folder(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        name = str(_field(data, "displayName") or "").strip()
        if not name:
            raise fail(400, "ErrorInvalidParameter", "The value of the parameter 'DisplayName' is empty.")
        if any(f["displayName"].lower() == name.lower() for f in self.folders.values()):
            raise fail(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder_id = "AAMkF" + self.new_id()
        folder: dict[str, Any] = {"id": folder_id, "displayName": name, "parentFolderId": "AAMkRoot",
                                  "childFolderCount": 0, "unreadItemCount": 0, "totalItemCount": 0,
                                  "isHidden": bool(data.get("isHidden"))}
        self.folders[folder_id] = folder
        return JSONResponse(folder, status_code=201)

    async def _find_meeting_times(self, request: Request, grant: Grant) -> Response:
        """Candidate slots on the half hour inside the window where the organizer's calendar is free."""
        data = await json_body(request, _invalid)
        slots = ((data.get("timeConstraint") or {}).get("timeSlots") or [])
        duration = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", str(data.get("meetingDuration") or "PT30M"))
        if not slots or duration is None:
            raise fail(400, "ErrorInvalidRequest", "Your request can't be completed. The time constraint or the "
                                                   "meeting duration is invalid.")
        length = timedelta(hours=int(duration.group(1) or 0), minutes=int(duration.group(2) or 0))
        busy = [(_moment(e["start"]), _moment(e["end"])) for e in self.events.values() if not e["isCancelled"]]
        attendees = [{"attendee": {"type": a.get("type", "required"), "emailAddress": a["emailAddress"]},
                      "availability": "free"} for a in data.get("attendees") or []]
        found: list[dict[str, Any]] = []
        cursor, stop = _moment(slots[0]["start"]), _moment(slots[0]["end"])
        while cursor + length <= stop and len(found) < int(data.get("maxCandidates") or 10):
            end = cursor + length
            if all(end <= b_start or cursor >= b_end for b_start, b_end in busy):
                found.append({"confidence": 100.0, "organizerAvailability": "free", "suggestionReason": "",
                              "attendeeAvailability": attendees, "locations": [],
                              "meetingTimeSlot": {"start": {"dateTime": cursor.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                                                            "timeZone": "UTC"},
                                                  "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                                                          "timeZone": "UTC"}}})
            cursor += timedelta(minutes=30)
        return JSONResponse({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph."
                                               "meetingTimeSuggestionsResult",
                             "emptySuggestionsReason": "" if found else "OrganizerUnavailable",
                             "meetingTimeSuggestions": found})

    # --- calendar --------------------------------------------------------------------------------------------------

    def _new_event(self, data: Mapping[str, Any]) -> dict[str, Any]:
        for edge in ("start", "end"):
            if not isinstance(data.get(edge), dict) or not data[edge].get("dateTime"):
                raise fail(400, "ErrorInvalidRequest", f"Your request can't be completed. The {edge} time is "
                                                       "missing.")
        if _moment(data["end"]) < _moment(data["start"]):
            raise fail(400, "ErrorInvalidRequest", "Your request can't be completed. The end time must be after "
                                                   "the start time.")
        event_id = "AAMkAGE" + self.new_id() + "="
        event: dict[str, Any] = {
            "@odata.etag": 'W/"DwAAABYAAAA"', "id": event_id, "createdDateTime": _now(),
            "lastModifiedDateTime": _now(), "subject": "", "bodyPreview": "", "importance": "normal",
            "isAllDay": False, "isCancelled": False, "isOrganizer": True, "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown", "onlineMeeting": None, "showAs": "busy", "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "body": {"contentType": "text", "content": ""}, "location": {"displayName": ""}, "attendees": [],
            "organizer": {"emailAddress": {"name": "Megan", "address": self.user}}, "responseStatus":
                {"response": "organizer", "time": "0001-01-01T00:00:00Z"}, "recurrence": None, "seriesMasterId": None,
            "isReminderOn": True, "reminderMinutesBeforeStart": 15}
        self._apply_event(event, data)
        self.events[event_id] = event
        return event

    def _apply_event(self, event: dict[str, Any], data: Mapping[str, Any]) -> None:
        for key in ("subject", "body", "start", "end", "location", "isAllDay", "showAs", "importance",
                    "reminderMinutesBeforeStart", "isReminderOn", "allowNewTimeProposals", "isOnlineMeeting",
                    "onlineMeetingProvider"):
            if key in data:
                event[key] = data[key]
        for edge in ("start", "end"):
            event[edge] = {"dateTime": _moment(event[edge]).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}
        if "attendees" in data:
            event["attendees"] = [{"type": a.get("type", "required"), "emailAddress": a["emailAddress"],
                                   "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}
                                  for a in data["attendees"]]
        if event["isOnlineMeeting"] and event["onlineMeetingProvider"] == "teamsForBusiness" \
                and not event["onlineMeeting"]:
            event["onlineMeeting"] = {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/{event['id'][:16]}"}
        event["bodyPreview"] = str(event["body"].get("content", ""))[:255]
        event["lastModifiedDateTime"] = _now()

    def _event(self, request: Request) -> dict[str, Any]:
        event = self.events.get(request.path_params["id"])
        if event is None:
            raise fail(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    def _zoned(self, event: dict[str, Any], request: Request) -> dict[str, Any]:
        match = re.search(r'outlook\.timezone="([^"]+)"', request.headers.get("prefer", ""))
        if not match:
            return event
        zone = ZoneInfo(match.group(1))
        out = dict(event)
        for edge in ("start", "end"):
            moment = _moment(event[edge]).astimezone(zone)
            out[edge] = {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": match.group(1)}
        return out

    async def _list_events(self, request: Request, grant: Grant) -> Response:
        items = sorted(self.events.values(), key=lambda e: e["start"]["dateTime"])
        flt = request.query_params.get("$filter")
        if flt:
            test = _filter(flt)
            items = [e for e in items if test(e)]
        return self._listing([self._zoned(e, request) for e in items], request, "users('me')/events")

    async def _calendar_view(self, request: Request, grant: Grant) -> Response:
        q = request.query_params
        if not q.get("startDateTime") or not q.get("endDateTime"):
            raise fail(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
                                                     "string parameters StartDateTime and EndDateTime.")
        low, high = _moment({"dateTime": q["startDateTime"]}), _moment({"dateTime": q["endDateTime"]})
        items = sorted((e for e in self.events.values() if not e["isCancelled"]
                        and _moment(e["end"]) > low and _moment(e["start"]) < high),
                       key=lambda e: e["start"]["dateTime"])
        return self._listing([self._zoned(e, request) for e in items], request, "users('me')/calendarView")

    async def _create_event(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        return JSONResponse(self._zoned(self._new_event(data), request), status_code=201)

    async def _get_event(self, request: Request, grant: Grant) -> Response:
        return JSONResponse(self._select([self._zoned(self._event(request), request)], request)[0])

    async def _update_event(self, request: Request, grant: Grant) -> Response:
        event = self._event(request)
        data = await json_body(request, _invalid)
        merged = {"start": event["start"], "end": event["end"]} | {k: data[k] for k in ("start", "end") if k in data}
        if _moment(merged["end"]) < _moment(merged["start"]):
            raise fail(400, "ErrorInvalidRequest", "Your request can't be completed. The end time must be after "
                                                   "the start time.")
        self._apply_event(event, data)
        return JSONResponse(self._zoned(event, request))

    async def _delete_event(self, request: Request, grant: Grant) -> Response:
        del self.events[self._event(request)["id"]]
        return Response(status_code=204)

    async def _cancel_event(self, request: Request, grant: Grant) -> Response:
        event = self._event(request)
        if not event["isOrganizer"]:
            raise fail(400, "ErrorAccessDenied", "Your request can't be completed. You need to be an organizer to "
                                                 "cancel a meeting.")
        await json_body(request, _invalid)
        event["isCancelled"] = True
        return Response(status_code=202)

    async def _respond(self, request: Request, grant: Grant) -> Response:
        event = self._event(request)
        if event["isOrganizer"]:
            raise fail(400, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to this "
                                                   "meeting because you're the meeting organizer.")
        await json_body(request, _invalid)
        accepted = request.url.path.endswith("/accept")
        event["responseStatus"] = {"response": "accepted" if accepted else "declined", "time": _now()}
        return Response(status_code=202)


def _invalid(message: str) -> ApiError:
    return fail(400, "BadRequest", message)


def _search(message: Mapping[str, Any], search: str) -> bool:
    text = search.strip().strip('"').lower()
    name, sep, value = text.partition(":")
    if sep and name == "from":
        return value in str(message["from"]["emailAddress"]["address"]).lower()
    if sep and name == "subject":
        return value in message["subject"].lower()
    return all(word in f"{message['subject']} {message['bodyPreview']}".lower() for word in text.split())


_COMPARISON = re.compile(r"^\s*([\w/]+)\s+(eq|ne|ge|gt|le|lt)\s+('(?:[^']|'')*'|true|false|[\d\-T:.Z]+)\s*$")
_CONTAINS = re.compile(r"^\s*contains\(\s*([\w/]+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$")


def _filter(expression: str) -> Any:
    """A tester for the OData `$filter` forms the toolkit documents (comparisons, contains, `and`)."""
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    for clause in re.split(r"\s+and\s+", expression):
        if match := _CONTAINS.match(clause):
            tests.append(partial(_contains, match.group(1), match.group(2).replace("''", "'").lower()))
        elif match := _COMPARISON.match(clause):
            field, op, raw = match.groups()
            wanted: Any = {"true": True, "false": False}.get(raw, raw.strip("'").replace("''", "'"))
            tests.append(partial(_compared, field, op, wanted))
        else:
            raise fail(400, "BadRequest", f"Invalid filter clause: {clause.strip()}")
    return lambda item: all(t(item) for t in tests)


def _contains(field: str, text: str, item: Mapping[str, Any]) -> bool:
    return text in str(_path(item, field)).lower()


def _compared(field: str, op: str, wanted: Any, item: Mapping[str, Any]) -> bool:
    return _compare(_path(item, field), op, wanted)


def _path(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if isinstance(wanted, bool) or op in ("eq", "ne"):
        same = (str(actual).lower() == str(wanted).lower()) if not isinstance(wanted, bool) else actual is wanted
        return same if op == "eq" else not same
    left, right = str(actual), str(wanted)
    return {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right}[op]
