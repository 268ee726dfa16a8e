"""A local stand-in for Google's APIs (Gmail v1, Calendar v3, Drive v3, Sheets v4) and Google's OAuth server,
in Google's wire format, for end-to-end tests of toolkits/gmail, googlecalendar, googledrive, googlesheets.

One server answers them all under their real path prefixes (`/gmail/v1`, `/calendar/v3`, `/drive/v3`, `/v4`),
so a toolkit's base_url is `stand_in.url + <prefix>`. What it keeps faithful:
- errors as `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}`;
- `pageToken`/`nextPageToken` pagination with opaque tokens, and Gmail's missing `messages` key on no results;
- tokens checked per API scope (403 insufficientPermissions), 401 with `WWW-Authenticate`;
- Gmail stores what is sent as RFC 2822 bytes and serves it back as Gmail's nested `payload` (base64url
  bodies, attachment ids); a reply joins a thread only with matching In-Reply-To and subject, as Gmail does;
- Calendar ignores `conferenceData` unless `conferenceDataVersion=1`; Drive answers only `id,name,mimeType`
  unless `fields` asks for more and refuses to download Google Docs; Sheets wants `valueInputOption`;
- OAuth (see cloud_base): refresh tokens only with `access_type=offline`, again only with `prompt=consent`,
  and never rotated on refresh.
"""

from __future__ import annotations

import base64
import binascii
import email
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.live import LiveServer
from tests.standins.cloud_base import ApiError, CloudStandIn, Grant, Handler, OAuthRules, json_body, live_server

SCOPE = "https://www.googleapis.com/auth/"
GMAIL_SCOPES = frozenset({"https://mail.google.com/", SCOPE + "gmail.modify"})
CALENDAR_SCOPES = frozenset({SCOPE + "calendar", SCOPE + "calendar.events"})
DRIVE_SCOPES = frozenset({SCOPE + "drive", SCOPE + "drive.file"})
SHEETS_SCOPES = frozenset({SCOPE + "spreadsheets", SCOPE + "drive"})
ALL_SCOPES = GMAIL_SCOPES | CALENDAR_SCOPES | DRIVE_SCOPES | SHEETS_SCOPES
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ALREADY_EXISTS", 410: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
REASON = {400: "invalid", 401: "authError", 403: "forbidden", 404: "notFound", 409: "duplicate", 410: "deleted",
          429: "rateLimitExceeded", 500: "backendError", 503: "backendError"}
FOLDER = "application/vnd.google-apps.folder"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SEED_TIME = "2026-01-05T10:00:00.000Z"


def google_error(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """Google's JSON error body (the shape every Google API shares)."""
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason or REASON.get(status, "")}],
                      "status": STATUS.get(status, "UNKNOWN")}}


def fail(status: int, message: str, reason: str | None = None) -> ApiError:
    return ApiError(status, google_error(status, message, reason))


def rate_limited(message: str = "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'"
                 ) -> dict[str, Any]:
    return google_error(429, message, "rateLimitExceeded")


def _invalid(message: str, reason: str | None = None) -> ApiError:
    return fail(400, message, reason)


def _google_offline(params: Mapping[str, str], consented_before: bool) -> bool:
    return params.get("access_type") == "offline" and ("consent" in params.get("prompt", "").split()
                                                       or not consented_before)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    text = text.strip()
    if "+" in text or "/" in text:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _page(items: list[Any], request: Request, size_param: str, default: int, maximum: int) -> tuple[list[Any],
                                                                                                   str | None]:
    """One page and the opaque token for the next (Google's tokens are opaque; bad ones are refused)."""
    q = request.query_params
    try:
        size = min(max(int(q.get(size_param, default)), 1), maximum)
    except ValueError:
        raise _invalid(f"Invalid value for {size_param}") from None
    token = q.get("pageToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("page:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _invalid("Invalid page token") from None
    chunk = items[start:start + size]
    following = start + size
    return chunk, (base64.urlsafe_b64encode(f"page:{following}".encode()).decode() if following < len(items)
                   else None)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"Bad Request: invalid time {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class GoogleStandIn(CloudStandIn):
    oauth_rules = OAuthRules(authorize_path="/o/oauth2/v2/auth", token_path="/token", revoke_path="/revoke",
                             wants_refresh=_google_offline, rotates_refresh=False, token_prefix="ya29.",
                             refresh_prefix="1//")

    def __init__(self, *, user: str = "me@example.com") -> None:
        super().__init__(user=user)
        self.messages: dict[str, dict[str, Any]] = {}  # id -> {id, threadId, labelIds, raw, internalDate}
        self.drafts: dict[str, str] = {}  # draft id -> message id
        self.labels: dict[str, dict[str, Any]] = {}
        self.calendars: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}  # calendar id -> event id -> event
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.permissions: dict[str, list[dict[str, Any]]] = {}
        self.spreadsheets: dict[str, dict[str, Any]] = {}

    # --- base hooks ------------------------------------------------------------------------------------------------

    def base(self, api: str) -> str:
        return self.url + {"gmail": "/gmail/v1", "calendar": "/calendar/v3", "drive": "/drive/v3",
                           "sheets": "/v4"}[api]

    def required_scopes(self, path: str) -> frozenset[str]:
        if path.startswith("/gmail/"):
            return GMAIL_SCOPES
        if path.startswith("/calendar/"):
            return CALENDAR_SCOPES
        if path.startswith("/drive/"):
            return DRIVE_SCOPES
        return SHEETS_SCOPES

    def unauthorized(self) -> ApiError:
        message = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                   "other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")
        return ApiError(401, google_error(401, message, "authError"),
                        {"www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})

    def forbidden_scope(self) -> ApiError:
        return fail(403, "Request had insufficient authentication scopes.", "insufficientPermissions")

    def not_found(self, request: Request) -> ApiError:
        return fail(404, "Not Found")

    def routes(self) -> list[tuple[str, str, Handler]]:
        g, c, d, s = "/gmail/v1/users/{userId}", "/calendar/v3", "/drive/v3", "/v4/spreadsheets"
        return [
            ("GET", g + "/profile", self._gmail_profile),
            ("GET", g + "/messages", self._gmail_list_messages),
            ("GET", g + "/messages/{id}", self._gmail_get_message),
            ("POST", g + "/messages/send", self._gmail_send),
            ("POST", g + "/messages/{id}/modify", self._gmail_modify),
            ("POST", g + "/messages/batchModify", self._gmail_batch_modify),
            ("POST", g + "/messages/{id}/trash", self._gmail_trash),
            ("POST", g + "/messages/{id}/untrash", self._gmail_untrash),
            ("GET", g + "/messages/{messageId}/attachments/{id}", self._gmail_attachment),
            ("GET", g + "/threads", self._gmail_list_threads),
            ("GET", g + "/threads/{id}", self._gmail_get_thread),
            ("POST", g + "/threads/{id}/modify", self._gmail_modify_thread),
            ("GET", g + "/drafts", self._gmail_list_drafts),
            ("POST", g + "/drafts", self._gmail_create_draft),
            ("POST", g + "/drafts/send", self._gmail_send_draft),
            ("DELETE", g + "/drafts/{id}", self._gmail_delete_draft),
            ("GET", g + "/labels", self._gmail_list_labels),
            ("POST", g + "/labels", self._gmail_create_label),
            ("GET", c + "/users/me/calendarList", self._cal_list_calendars),
            ("GET", c + "/calendars/{calendarId}", self._cal_get_calendar),
            ("GET", c + "/calendars/{calendarId}/events", self._cal_list_events),
            ("POST", c + "/calendars/{calendarId}/events", self._cal_insert_event),
            ("POST", c + "/calendars/{calendarId}/events/quickAdd", self._cal_quick_add),
            ("GET", c + "/calendars/{calendarId}/events/{eventId}", self._cal_get_event),
            ("PATCH", c + "/calendars/{calendarId}/events/{eventId}", self._cal_patch_event),
            ("DELETE", c + "/calendars/{calendarId}/events/{eventId}", self._cal_delete_event),
            ("POST", c + "/freeBusy", self._cal_free_busy),
            ("GET", d + "/about", self._drive_about),
            ("GET", d + "/files", self._drive_list),
            ("POST", d + "/files", self._drive_create),
            ("GET", d + "/files/{fileId}", self._drive_get),
            ("PATCH", d + "/files/{fileId}", self._drive_update),
            ("DELETE", d + "/files/{fileId}", self._drive_delete),
            ("POST", d + "/files/{fileId}/copy", self._drive_copy),
            ("GET", d + "/files/{fileId}/export", self._drive_export),
            ("GET", d + "/files/{fileId}/permissions", self._drive_list_permissions),
            ("POST", d + "/files/{fileId}/permissions", self._drive_share),
            ("POST", s, self._sheets_create),
            ("GET", s + "/{spreadsheetId}", self._sheets_get),
            ("POST", s + "/{spreadsheetId}:batchUpdate", self._sheets_batch_update),
            ("GET", s + "/{spreadsheetId}/values/{range}", self._sheets_values_get),
            ("PUT", s + "/{spreadsheetId}/values/{range}", self._sheets_values_update),
            ("POST", s + "/{spreadsheetId}/values/{range}:append", self._sheets_values_append),
            ("POST", s + "/{spreadsheetId}/values/{range}:clear", self._sheets_values_clear),
            ("POST", s + "/{spreadsheetId}/values:batchGetByDataFilter", self._sheets_batch_get),
        ]

    def seed(self) -> None:
        for label_id in ("INBOX", "SENT", "DRAFT", "UNREAD", "STARRED", "IMPORTANT", "TRASH", "SPAM",
                         "CATEGORY_PERSONAL"):
            self.labels[label_id] = {"id": label_id, "name": label_id, "type": "system",
                                     "messageListVisibility": "hide", "labelListVisibility": "labelHide"}
        self.labels["Label_1"] = {"id": "Label_1", "name": "Receipts", "type": "user",
                                  "messageListVisibility": "show", "labelListVisibility": "labelShow"}
        inbox = [("alice@example.com", "Q3 report", "Hi, the Q3 numbers are attached.", True),
                 ("bob@example.com", "Lunch on Friday?", "Shall we meet at 12:30?", False),
                 ("billing@shop.example", "Your receipt", "<p>Thanks for your <b>order</b> #123.</p>", False),
                 ("carol@example.com", "Offsite agenda", "Draft agenda for the offsite.", False),
                 ("alice@example.com", "Re: budget", "Budget approved.", False)]
        for i, (sender, subject, text, attach) in enumerate(inbox):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = sender, self.user, subject
            msg["Date"] = f"Mon, 0{i + 1} Dec 2025 09:00:00 +0000"
            msg["Message-ID"] = f"<seed{i}@mail.example.com>"
            if text.startswith("<p>"):
                msg.set_content(text, subtype="html")
            else:
                msg.set_content(text)
            if attach:
                msg.add_attachment(b"month,revenue\nJuly,10\n", maintype="text", subtype="csv", filename="q3.csv")
            labels = ["INBOX", "UNREAD"] + (["Label_1"] if "receipt" in subject else [])
            self._store(msg.as_bytes(policy=SMTP), labels, internal=1764579600000 + i * 86400000)
        self.calendars = {
            self.user: {"kind": "calendar#calendarListEntry", "id": self.user, "summary": self.user,
                        "timeZone": "Europe/Berlin", "accessRole": "owner", "primary": True,
                        "backgroundColor": "#9fe1e7"},
            "team@group.calendar.google.com": {"kind": "calendar#calendarListEntry",
                                               "id": "team@group.calendar.google.com", "summary": "Team",
                                               "timeZone": "Europe/Berlin", "accessRole": "writer"},
            "holidays@group.v.calendar.google.com": {"kind": "calendar#calendarListEntry",
                                                     "id": "holidays@group.v.calendar.google.com",
                                                     "summary": "Holidays", "timeZone": "Europe/Berlin",
                                                     "accessRole": "reader"}}
        self.events = {cid: {} for cid in self.calendars}
        for day in range(1, 8):
            self._new_event(self.user, {"summary": f"Standup {day}", "start": {"dateTime": f"2026-03-0{day}T09:00:00Z"},
                                        "end": {"dateTime": f"2026-03-0{day}T09:15:00Z"}})
        self._new_event(self.user, {"summary": "Dentist", "location": "Main St 1",
                                    "start": {"dateTime": "2026-03-03T14:00:00Z"},
                                    "end": {"dateTime": "2026-03-03T15:00:00Z"}})
        folder = self._new_file({"name": "Projects", "mimeType": FOLDER})
        self._new_file({"name": "Budget 2026.csv", "mimeType": "text/csv", "parents": [folder["id"]]},
                       b"item,amount\nrent,1200\n")
        self._new_file({"name": "Roadmap", "mimeType": DOC, "parents": [folder["id"]]},
                       b"Roadmap\nQ1: ship the connector.\n")
        for n in range(1, 6):
            self._new_file({"name": f"notes-{n}.txt", "mimeType": "text/plain"}, f"note {n}\n".encode())

    # --- Gmail -----------------------------------------------------------------------------------------------------

    def _store(self, raw: bytes, labels: list[str], thread_id: str | None = None,
               internal: int | None = None) -> dict[str, Any]:
        message_id = self.new_id("18c")
        record = {"id": message_id, "threadId": thread_id or message_id, "labelIds": labels, "raw": raw,
                  "internalDate": str(internal or int(datetime.now(UTC).timestamp() * 1000))}
        self.messages[message_id] = record
        return record

    def _message(self, request: Request, key: str = "id") -> dict[str, Any]:
        record = self.messages.get(request.path_params[key])
        if record is None:
            raise fail(404, "Requested entity was not found.")
        return record

    def _parsed(self, record: dict[str, Any]) -> Message:
        return email.message_from_bytes(record["raw"], policy=default_policy)

    def _gmail_json(self, record: dict[str, Any], fmt: str = "full") -> dict[str, Any]:
        parsed = self._parsed(record)
        text = _first_text(parsed)
        out = {"id": record["id"], "threadId": record["threadId"], "labelIds": list(record["labelIds"]),
               "snippet": " ".join(text.split())[:100], "historyId": "9876", "internalDate": record["internalDate"],
               "sizeEstimate": len(record["raw"])}
        if fmt == "raw":
            out["raw"] = _b64url(record["raw"])
        elif fmt == "metadata":
            out["payload"] = {"mimeType": parsed.get_content_type(), "headers": _headers(parsed)}
        elif fmt == "full":
            out["payload"] = _payload(parsed, "", record["id"])
        return out

    def _matches(self, record: dict[str, Any], query: str, label: str | None, spam_trash: bool) -> bool:
        labels = set(record["labelIds"])
        if not spam_trash and labels & {"SPAM", "TRASH"}:
            return False
        if label and label not in labels:
            return False
        parsed = self._parsed(record)
        haystack = f"{parsed['Subject']}\n{_first_text(parsed)}".lower()
        for word in re.findall(r'\S+:"[^"]*"|\S+:\([^)]*\)|"[^"]*"|\S+', query):
            name, sep, value = word.partition(":")
            value = value.strip('"()').lower()
            if not sep:
                if word.strip('"').lower() not in haystack:
                    return False
            elif name in ("from", "to", "cc"):
                if value not in str(parsed[name.title()] or "").lower():
                    return False
            elif name == "subject":
                if value not in str(parsed["Subject"] or "").lower():
                    return False
            elif name == "is":
                wanted = {"unread": "UNREAD" in labels, "read": "UNREAD" not in labels,
                          "starred": "STARRED" in labels, "important": "IMPORTANT" in labels}
                if not wanted.get(value, False):
                    return False
            elif name in ("in", "label"):
                named = {lab["name"].lower(): lid for lid, lab in self.labels.items()}
                if value != "anywhere" and named.get(value, value.upper()) not in labels:
                    return False
            elif name == "has" and value == "attachment" and not any(p.get_filename() for p in parsed.walk()):
                return False
        return True

    async def _gmail_profile(self, request: Request, grant: Grant) -> Response:
        return JSONResponse({"emailAddress": grant.user, "messagesTotal": len(self.messages),
                             "threadsTotal": len({m["threadId"] for m in self.messages.values()}),
                             "historyId": "9876"})

    async def _gmail_list_messages(self, request: Request, grant: Grant) -> Response:
        q = request.query_params
        found = [m for m in sorted(self.messages.values(), key=lambda m: -int(m["internalDate"]))
                 if self._matches(m, q.get("q", ""), q.get("labelIds"), q.get("includeSpamTrash") == "true")]
        chunk, token = _page(found, request, "maxResults", 100, 500)
        body: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if chunk:
            body["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in chunk]
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def _gmail_get_message(self, request: Request, grant: Grant) -> Response:
        fmt = request.query_params.get("format", "full")
        if fmt not in ("full", "metadata", "minimal", "raw"):
            raise _invalid(f"Invalid value at 'format' ({fmt})")
        return JSONResponse(self._gmail_json(self._message(request), fmt))

    def _accept_raw(self, data: Mapping[str, Any], need_recipient: bool) -> tuple[bytes, Message]:
        raw_text = data.get("raw")
        if not isinstance(raw_text, str) or not raw_text:
            raise _invalid("Invalid value at 'message.raw'")
        try:
            raw = _unb64url(raw_text)
        except (ValueError, binascii.Error):
            raise _invalid("Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed") from None
        parsed = email.message_from_bytes(raw, policy=default_policy)
        if need_recipient and not any(parsed[h] for h in ("To", "Cc", "Bcc")):
            raise _invalid("Recipient address required", "invalidArgument")
        return raw, parsed

    def _thread_for(self, data: Mapping[str, Any], parsed: Message) -> str | None:
        """Gmail's rule: a message joins the requested thread only when its In-Reply-To/References name a
        message in that thread and the subjects match (ignoring Re:/Fwd:)."""
        thread_id = data.get("threadId")
        if not thread_id:
            return None
        members = [m for m in self.messages.values() if m["threadId"] == thread_id]
        if not members:
            raise fail(404, "Requested entity was not found.")
        ids = {str(self._parsed(m)["Message-ID"]) for m in members}
        referenced = set(str(parsed["References"] or "").split()) | {str(parsed["In-Reply-To"] or "").strip()}

        def bare(subject: Any) -> str:
            return re.sub(r"^((re|fwd?):\s*)+", "", str(subject or ""), flags=re.I).strip().lower()

        same_subject = bare(parsed["Subject"]) == bare(self._parsed(members[0])["Subject"])
        return str(thread_id) if ids & referenced and same_subject else None

    async def _gmail_send(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        raw, parsed = self._accept_raw(data, need_recipient=True)
        record = self._store(raw, ["SENT"], self._thread_for(data, parsed))
        return JSONResponse({"id": record["id"], "threadId": record["threadId"], "labelIds": record["labelIds"]})

    def _labels_exist(self, ids: list[Any]) -> None:
        for label_id in ids:
            if label_id not in self.labels:
                raise _invalid(f"Invalid label: {label_id}")

    async def _gmail_modify(self, request: Request, grant: Grant) -> Response:
        record = self._message(request)
        data = await json_body(request, _invalid)
        add, remove = list(data.get("addLabelIds") or []), list(data.get("removeLabelIds") or [])
        self._labels_exist(add + remove)
        record["labelIds"] = [lab for lab in record["labelIds"] if lab not in remove] + \
            [lab for lab in add if lab not in record["labelIds"]]
        return JSONResponse({"id": record["id"], "threadId": record["threadId"], "labelIds": record["labelIds"]})

    async def _gmail_batch_modify(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids:
            raise _invalid("No message ids specified.", "invalidArgument")
        if len(ids) > 1000:
            raise _invalid("Too many ids specified (maximum 1000).", "invalidArgument")
        add, remove = list(data.get("addLabelIds") or []), list(data.get("removeLabelIds") or [])
        self._labels_exist(add + remove)
        records = [self.messages.get(str(i)) for i in ids]
        if any(r is None for r in records):
            raise fail(404, "Requested entity was not found.")
        for record in records:
            assert record is not None
            record["labelIds"] = [lab for lab in record["labelIds"] if lab not in remove] + \
                [lab for lab in add if lab not in record["labelIds"]]
        return Response(status_code=204)

    async def _gmail_trash(self, request: Request, grant: Grant) -> Response:
        record = self._message(request)
        record["labelIds"] = [lab for lab in record["labelIds"] if lab != "INBOX"] + ["TRASH"]
        return JSONResponse({"id": record["id"], "threadId": record["threadId"], "labelIds": record["labelIds"]})

    async def _gmail_untrash(self, request: Request, grant: Grant) -> Response:
        record = self._message(request)
        record["labelIds"] = [lab for lab in record["labelIds"] if lab != "TRASH"] + ["INBOX"]
        return JSONResponse({"id": record["id"], "threadId": record["threadId"], "labelIds": record["labelIds"]})

    async def _gmail_attachment(self, request: Request, grant: Grant) -> Response:
        record = self._message(request, "messageId")
        for i, part in enumerate(self._parsed(record).walk()):
            if part.get_filename() and _attachment_id(record["id"], i) == request.path_params["id"]:
                data = _bytes(part)
                return JSONResponse({"attachmentId": request.path_params["id"], "size": len(data),
                                     "data": _b64url(data)})
        raise _invalid("Invalid attachment token")

    def _threads(self, request: Request) -> list[list[dict[str, Any]]]:
        q = request.query_params
        threads: dict[str, list[dict[str, Any]]] = {}
        for m in sorted(self.messages.values(), key=lambda m: int(m["internalDate"])):
            threads.setdefault(m["threadId"], []).append(m)
        return [t for t in sorted(threads.values(), key=lambda t: -int(t[-1]["internalDate"]))
                if any(self._matches(m, q.get("q", ""), q.get("labelIds"), q.get("includeSpamTrash") == "true")
                       for m in t)]

    async def _gmail_list_threads(self, request: Request, grant: Grant) -> Response:
        threads = self._threads(request)
        chunk, token = _page(threads, request, "maxResults", 100, 500)
        body: dict[str, Any] = {"resultSizeEstimate": len(threads)}
        if chunk:
            body["threads"] = [{"id": t[0]["threadId"], "snippet": self._gmail_json(t[-1])["snippet"],
                                "historyId": "9876"} for t in chunk]
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def _gmail_get_thread(self, request: Request, grant: Grant) -> Response:
        members = sorted((m for m in self.messages.values() if m["threadId"] == request.path_params["id"]),
                         key=lambda m: int(m["internalDate"]))
        if not members:
            raise fail(404, "Requested entity was not found.")
        fmt = request.query_params.get("format", "full")
        return JSONResponse({"id": request.path_params["id"], "historyId": "9876",
                             "messages": [self._gmail_json(m, fmt) for m in members]})

    async def _gmail_modify_thread(self, request: Request, grant: Grant) -> Response:
        members = [m for m in self.messages.values() if m["threadId"] == request.path_params["id"]]
        if not members:
            raise fail(404, "Requested entity was not found.")
        data = await json_body(request, _invalid)
        add, remove = list(data.get("addLabelIds") or []), list(data.get("removeLabelIds") or [])
        self._labels_exist(add + remove)
        for m in members:
            m["labelIds"] = [lab for lab in m["labelIds"] if lab not in remove] + \
                [lab for lab in add if lab not in m["labelIds"]]
        return JSONResponse({"id": request.path_params["id"],
                             "messages": [{"id": m["id"], "threadId": m["threadId"], "labelIds": m["labelIds"]}
                                          for m in members]})

    async def _gmail_list_drafts(self, request: Request, grant: Grant) -> Response:
        drafts = [{"id": did, "message": {"id": mid, "threadId": self.messages[mid]["threadId"]}}
                  for did, mid in self.drafts.items()]
        chunk, token = _page(drafts, request, "maxResults", 100, 500)
        body: dict[str, Any] = {"resultSizeEstimate": len(drafts)}
        if chunk:
            body["drafts"] = chunk
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def _gmail_create_draft(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        message = data.get("message")
        if not isinstance(message, dict):
            raise _invalid("Invalid value at 'draft.message'")
        raw, parsed = self._accept_raw(message, need_recipient=False)
        record = self._store(raw, ["DRAFT"], self._thread_for(message, parsed))
        draft_id = "r-" + self.new_id()
        self.drafts[draft_id] = record["id"]
        return JSONResponse({"id": draft_id, "message": {"id": record["id"], "threadId": record["threadId"],
                                                         "labelIds": record["labelIds"]}})

    async def _gmail_send_draft(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        message_id = self.drafts.pop(str(data.get("id")), None)
        if message_id is None:
            raise fail(404, "Requested entity was not found.")
        record = self.messages[message_id]
        if not any(self._parsed(record)[h] for h in ("To", "Cc", "Bcc")):
            raise _invalid("Recipient address required")
        record["labelIds"] = ["SENT"]
        return JSONResponse({"id": record["id"], "threadId": record["threadId"], "labelIds": record["labelIds"]})

    async def _gmail_delete_draft(self, request: Request, grant: Grant) -> Response:
        message_id = self.drafts.pop(request.path_params["id"], None)
        if message_id is None:
            raise fail(404, "Requested entity was not found.")
        del self.messages[message_id]
        return Response(status_code=204)

    async def _gmail_list_labels(self, request: Request, grant: Grant) -> Response:
        return JSONResponse({"labels": list(self.labels.values())})

    async def _gmail_create_label(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        name = str(data.get("name") or "").strip()
        if not name:
            raise _invalid("Invalid label name")
        if any(lab["name"].lower() == name.lower() for lab in self.labels.values()):
            raise fail(409, "Label name exists or conflicts")
        label_id = f"Label_{len(self.labels) + 1}"
        self.labels[label_id] = {"id": label_id, "name": name, "type": "user",
                                 "messageListVisibility": data.get("messageListVisibility", "show"),
                                 "labelListVisibility": data.get("labelListVisibility", "labelShow")}
        if data.get("color"):
            self.labels[label_id]["color"] = data["color"]
        return JSONResponse(self.labels[label_id])

    # --- Calendar --------------------------------------------------------------------------------------------------

    def _calendar(self, request: Request) -> str:
        calendar_id = request.path_params["calendarId"]
        calendar_id = self.user if calendar_id == "primary" else calendar_id
        if calendar_id not in self.events:
            raise fail(404, "Not Found")
        return calendar_id

    def _new_event(self, calendar_id: str, data: Mapping[str, Any], conference: bool = False) -> dict[str, Any]:
        start, end = data.get("start"), data.get("end")
        if not isinstance(start, dict) or not (start.get("dateTime") or start.get("date")):
            raise _invalid("Missing start time.", "required")
        if not isinstance(end, dict) or not (end.get("dateTime") or end.get("date")):
            raise _invalid("Missing end time.", "required")
        if _event_start(end) <= _event_start(start):
            raise _invalid("The specified time range is empty.", "timeRangeEmpty")
        event_id = self.new_id("evt").lower()
        event: dict[str, Any] = {
            "kind": "calendar#event", "etag": '"3181161784712000"', "id": event_id, "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": _now(),
            "updated": _now(), "creator": {"email": self.user, "self": True},
            "organizer": {"email": calendar_id, "self": calendar_id == self.user},
            "iCalUID": f"{event_id}@google.com", "sequence": 0, "reminders": {"useDefault": True},
            "eventType": "default"}
        for key in ("summary", "description", "location", "start", "end", "recurrence", "colorId", "visibility",
                    "transparency", "guestsCanModify", "guestsCanInviteOthers"):
            if key in data:
                event[key] = data[key]
        if "attendees" in data:
            event["attendees"] = [{"email": a["email"], "responseStatus": "needsAction",
                                   **({"optional": True} if a.get("optional") else {})} for a in data["attendees"]]
        if conference and isinstance(data.get("conferenceData"), dict):
            request_id = data["conferenceData"].get("createRequest", {}).get("requestId", "")
            code = f"abc-{request_id[:4] or 'defg'}-xyz"
            event["hangoutLink"] = f"https://meet.google.com/{code}"
            event["conferenceData"] = {
                "createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"},
                                  "status": {"statusCode": "success"}},
                "entryPoints": [{"entryPointType": "video", "uri": event["hangoutLink"],
                                 "label": f"meet.google.com/{code}"}],
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"}, "conferenceId": code}
        self.events[calendar_id][event_id] = event
        return event

    def _event(self, request: Request) -> tuple[str, dict[str, Any]]:
        calendar_id = self._calendar(request)
        event = self.events[calendar_id].get(request.path_params["eventId"])
        if event is None:
            raise fail(404, "Not Found")
        if event["status"] == "cancelled":
            raise fail(410, "Resource has been deleted", "deleted")
        return calendar_id, event

    async def _cal_list_calendars(self, request: Request, grant: Grant) -> Response:
        order = {"freeBusyReader": 0, "reader": 1, "writer": 2, "owner": 3}
        least = order.get(request.query_params.get("minAccessRole", "freeBusyReader"), 0)
        items = [c for c in self.calendars.values() if order[c["accessRole"]] >= least]
        chunk, token = _page(items, request, "maxResults", 100, 250)
        body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": '"p33k"', "items": chunk}
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def _cal_get_calendar(self, request: Request, grant: Grant) -> Response:
        entry = self.calendars[self._calendar(request)]
        return JSONResponse({"kind": "calendar#calendar", "id": entry["id"], "summary": entry["summary"],
                             "timeZone": entry["timeZone"]})

    async def _cal_list_events(self, request: Request, grant: Grant) -> Response:
        calendar_id = self._calendar(request)
        q = request.query_params
        if q.get("orderBy") == "startTime" and q.get("singleEvents") != "true":
            raise _invalid("The requested ordering is not available for the particular query.")
        low, high = _when(q.get("timeMin")), _when(q.get("timeMax"))
        text = q.get("q", "").lower()
        items = [e for e in self.events[calendar_id].values()
                 if (q.get("showDeleted") == "true" or e["status"] != "cancelled")
                 and (low is None or _event_start(e["end"]) > low) and (high is None or _event_start(e["start"]) < high)
                 and text in " ".join(str(e.get(k, "")) for k in ("summary", "description", "location",
                                                                   "attendees")).lower()]
        items.sort(key=lambda e: e["updated"] if q.get("orderBy") == "updated" else _event_start(e["start"]))
        chunk, token = _page(items, request, "maxResults", 250, 2500)
        body: dict[str, Any] = {"kind": "calendar#events", "summary": self.calendars[calendar_id]["summary"],
                                "timeZone": self.calendars[calendar_id]["timeZone"], "updated": _now(),
                                "accessRole": self.calendars[calendar_id]["accessRole"], "items": chunk}
        if token:
            body["nextPageToken"] = token
        return JSONResponse(body)

    async def _cal_insert_event(self, request: Request, grant: Grant) -> Response:
        calendar_id = self._calendar(request)
        data = await json_body(request, _invalid)
        conference = request.query_params.get("conferenceDataVersion") == "1"
        return JSONResponse(self._new_event(calendar_id, data, conference))

    async def _cal_quick_add(self, request: Request, grant: Grant) -> Response:
        calendar_id = self._calendar(request)
        text = request.query_params.get("text", "")
        if not text:
            raise _invalid("Required parameter: text", "required")
        return JSONResponse(self._new_event(calendar_id, {"summary": text,
                                                          "start": {"dateTime": "2026-03-04T12:00:00Z"},
                                                          "end": {"dateTime": "2026-03-04T13:00:00Z"}}))

    async def _cal_get_event(self, request: Request, grant: Grant) -> Response:
        return JSONResponse(self._event(request)[1])

    async def _cal_patch_event(self, request: Request, grant: Grant) -> Response:
        calendar_id, event = self._event(request)
        data = await json_body(request, _invalid)
        merged = {**event, **data}
        if _event_start(merged["end"]) <= _event_start(merged["start"]):
            raise _invalid("The specified time range is empty.", "timeRangeEmpty")
        for key in ("summary", "description", "location", "start", "end", "colorId", "visibility", "transparency"):
            if key in data:
                event[key] = data[key]
        if "attendees" in data:
            event["attendees"] = [{"email": a["email"], "responseStatus": "needsAction"} for a in data["attendees"]]
        event["sequence"] += 1
        event["updated"] = _now()
        return JSONResponse(event)

    async def _cal_delete_event(self, request: Request, grant: Grant) -> Response:
        _, event = self._event(request)
        event["status"] = "cancelled"
        return Response(status_code=204)

    async def _cal_free_busy(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        low, high = _when(data.get("timeMin")), _when(data.get("timeMax"))
        if low is None or high is None:
            raise _invalid("Missing timeMin or timeMax.", "required")
        calendars: dict[str, Any] = {}
        for item in data.get("items") or []:
            key = item.get("id", "")
            calendar_id = self.user if key == "primary" else key
            if calendar_id not in self.events:
                calendars[key] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy = sorted(({"start": e["start"]["dateTime"], "end": e["end"]["dateTime"]}
                           for e in self.events[calendar_id].values()
                           if e["status"] != "cancelled" and "dateTime" in e["start"]
                           and _event_start(e["end"]) > low and _event_start(e["start"]) < high),
                          key=lambda b: b["start"])
            calendars[key] = {"busy": busy}
        return JSONResponse({"kind": "calendar#freeBusy", "timeMin": data["timeMin"], "timeMax": data["timeMax"],
                             "calendars": calendars})

    # --- Drive -----------------------------------------------------------------------------------------------------

    def _new_file(self, data: Mapping[str, Any], content: bytes | None = None) -> dict[str, Any]:
        parents = list(data.get("parents") or ["root"])
        for parent in parents:
            if parent != "root" and parent not in self.files:
                raise fail(404, f"File not found: {parent}.")
        file_id = "1" + self.new_id("f") + "Xy"
        file: dict[str, Any] = {
            "kind": "drive#file", "id": file_id, "name": str(data.get("name") or "Untitled"),
            "mimeType": str(data.get("mimeType") or "application/octet-stream"), "parents": parents,
            "createdTime": SEED_TIME, "modifiedTime": SEED_TIME, "trashed": False, "starred": bool(data.get("starred")),
            "shared": False, "owners": [{"displayName": "Me", "emailAddress": self.user, "me": True}],
            "webViewLink": f"https://drive.google.com/file/d/{file_id}/view",
            "description": data.get("description")}
        if content is not None:
            self.contents[file_id] = content
            if not file["mimeType"].startswith("application/vnd.google-apps"):
                file["size"] = str(len(content))
        self.files[file_id] = file
        self.permissions[file_id] = [{"kind": "drive#permission", "id": "owner1", "type": "user", "role": "owner",
                                      "emailAddress": self.user, "displayName": "Me"}]
        return file

    def _file(self, request: Request) -> dict[str, Any]:
        file = self.files.get(request.path_params["fileId"])
        if file is None:
            raise fail(404, f"File not found: {request.path_params['fileId']}.")
        return file

    async def _drive_about(self, request: Request, grant: Grant) -> Response:
        fields = request.query_params.get("fields")
        if not fields:
            raise _invalid("The 'fields' parameter is required for this method.", "required")
        about = {"kind": "drive#about", "user": {"displayName": "Me", "emailAddress": grant.user, "me": True},
                 "storageQuota": {"limit": "16106127360", "usage": "1024", "usageInDrive": "1000",
                                  "usageInDriveTrash": "24"}}
        return JSONResponse(_select(about, fields))

    async def _drive_list(self, request: Request, grant: Grant) -> Response:
        q = request.query_params
        test = _drive_query(q.get("q", ""))
        files = [f for f in self.files.values() if test(f, self.contents.get(f["id"], b""))]
        order = q.get("orderBy", "")
        if order.startswith("modifiedTime"):
            files.sort(key=lambda f: f["modifiedTime"], reverse=order.endswith("desc"))
        elif order.startswith("name"):
            files.sort(key=lambda f: f["name"].lower(), reverse=order.endswith("desc"))
        chunk, token = _page(files, request, "pageSize", 100, 1000)
        body: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False, "files": chunk}
        if token:
            body["nextPageToken"] = token
        fields = q.get("fields") or "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)"
        return JSONResponse(_select(body, fields))

    async def _drive_get(self, request: Request, grant: Grant) -> Response:
        file = self._file(request)
        if request.query_params.get("alt") == "media":
            if file["mimeType"].startswith("application/vnd.google-apps"):
                raise fail(403, "Only files with binary content can be downloaded. Use Export with Docs Editors "
                                "files.", "fileNotDownloadable")
            return Response(self.contents.get(file["id"], b""), media_type=file["mimeType"])
        return JSONResponse(_select(file, request.query_params.get("fields") or "kind,id,name,mimeType"))

    async def _drive_create(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        file = self._new_file(data)
        return JSONResponse(_select(file, request.query_params.get("fields") or "kind,id,name,mimeType"))

    async def _drive_update(self, request: Request, grant: Grant) -> Response:
        file = self._file(request)
        data = await json_body(request, _invalid)
        q = request.query_params
        add = [p for p in q.get("addParents", "").split(",") if p]
        remove = [p for p in q.get("removeParents", "").split(",") if p]
        for parent in add:
            if parent != "root" and parent not in self.files:
                raise fail(404, f"File not found: {parent}.")
        for key in ("name", "description", "starred", "trashed"):
            if key in data:
                file[key] = data[key]
        file["parents"] = [p for p in file["parents"] if p not in remove] + [p for p in add if p not in file["parents"]]
        file["modifiedTime"] = _now()
        return JSONResponse(_select(file, q.get("fields") or "kind,id,name,mimeType"))

    async def _drive_delete(self, request: Request, grant: Grant) -> Response:
        file = self._file(request)
        del self.files[file["id"]]
        return Response(status_code=204)

    async def _drive_copy(self, request: Request, grant: Grant) -> Response:
        source = self._file(request)
        if source["mimeType"] == FOLDER:
            raise fail(403, "This file cannot be copied by the user.", "cannotCopyFile")
        data = await json_body(request, _invalid)
        copy = self._new_file({"name": data.get("name") or f"Copy of {source['name']}", "mimeType": source["mimeType"],
                               "parents": data.get("parents") or source["parents"]},
                              self.contents.get(source["id"]))
        return JSONResponse(_select(copy, request.query_params.get("fields") or "kind,id,name,mimeType"))

    async def _drive_export(self, request: Request, grant: Grant) -> Response:
        file = self._file(request)
        wanted = request.query_params.get("mimeType", "")
        if not file["mimeType"].startswith("application/vnd.google-apps"):
            raise fail(403, "Export only supports Docs Editors files.", "fileNotExportable")
        if wanted not in ("text/plain", "text/markdown", "text/html", "application/pdf", "text/csv"):
            raise _invalid("The requested conversion is not supported.", "badRequest")
        return Response(self.contents.get(file["id"], b""), media_type=wanted)

    async def _drive_list_permissions(self, request: Request, grant: Grant) -> Response:
        file = self._file(request)
        chunk, token = _page(self.permissions[file["id"]], request, "pageSize", 100, 100)
        body: dict[str, Any] = {"kind": "drive#permissionList", "permissions": chunk}
        if token:
            body["nextPageToken"] = token
        fields = request.query_params.get("fields") or "kind,nextPageToken,permissions(kind,id,type,role)"
        return JSONResponse(_select(body, fields))

    async def _drive_share(self, request: Request, grant: Grant) -> Response:
        file = self._file(request)
        data = await json_body(request, _invalid)
        kind, role = data.get("type"), data.get("role")
        if role not in ("owner", "organizer", "fileOrganizer", "writer", "commenter", "reader"):
            raise _invalid("The permission role field is required.", "required")
        if kind in ("user", "group") and not data.get("emailAddress"):
            raise _invalid("The permission emailAddress field is required for the specified permission type.",
                           "required")
        if kind not in ("user", "group", "domain", "anyone"):
            raise _invalid("The permission type field is required.", "required")
        permission = {"kind": "drive#permission", "id": self.new_id("p"), "type": kind, "role": role}
        if data.get("emailAddress"):
            permission["emailAddress"] = data["emailAddress"]
        self.permissions[file["id"]].append(permission)
        file["shared"] = True
        return JSONResponse(permission)

    # --- Sheets ----------------------------------------------------------------------------------------------------

    def _spreadsheet(self, request: Request) -> dict[str, Any]:
        book = self.spreadsheets.get(request.path_params["spreadsheetId"])
        if book is None:
            raise fail(404, "Requested entity was not found.")
        return book

    def _sheet_json(self, book: dict[str, Any]) -> dict[str, Any]:
        return {"spreadsheetId": book["id"], "properties": book["properties"],
                "sheets": [{"properties": s["properties"]} for s in book["sheets"]],
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book['id']}/edit"}

    def _add_sheet(self, book: dict[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
        title = str(properties.get("title") or f"Sheet{len(book['sheets']) + 1}")
        if any(s["properties"]["title"].lower() == title.lower() for s in book["sheets"]):
            raise _invalid(f'Invalid requests[0].addSheet: A sheet with the name "{title}" already exists. '
                           "Please enter another name.")
        grid = {"rowCount": 1000, "columnCount": 26} | dict(properties.get("gridProperties") or {})
        sheet_id = 0 if not book["sheets"] else max(s["properties"]["sheetId"] for s in book["sheets"]) + 101
        index = int(properties.get("index", len(book["sheets"])))
        sheet = {"properties": {"sheetId": sheet_id, "title": title, "index": index, "sheetType": "GRID",
                                "gridProperties": grid}, "cells": {}}
        book["sheets"].insert(index, sheet)
        for i, s in enumerate(book["sheets"]):
            s["properties"]["index"] = i
        return sheet

    def _range(self, book: dict[str, Any], text: str) -> tuple[dict[str, Any], int, int, int, int]:
        """An A1 range as (sheet, first row, first col, last row, last col), zero-based and inclusive."""
        name, sep, cells = text.rpartition("!")
        if not sep:
            titled = [s for s in book["sheets"] if s["properties"]["title"] == text.strip("'")]
            name, cells = (text, "") if titled else (book["sheets"][0]["properties"]["title"], text)
        sheet = next((s for s in book["sheets"] if s["properties"]["title"] == name.strip("'")), None)
        grid = sheet["properties"]["gridProperties"] if sheet else {}
        bounds = _a1(cells, grid.get("rowCount", 0), grid.get("columnCount", 0)) if sheet else None
        if sheet is None or bounds is None:
            raise _invalid(f"Unable to parse range: {text}")
        return (sheet, *bounds)

    def _values(self, sheet: dict[str, Any], r0: int, c0: int, r1: int, c1: int,
                dimension: str = "ROWS") -> list[list[Any]]:
        cells = sheet["cells"]
        used_rows = [r for r, _ in cells if r0 <= r <= r1]
        used_cols = [c for _, c in cells if c0 <= c <= c1]
        if not used_rows:
            return []
        r1, c1 = min(r1, max(used_rows)), min(c1, max(used_cols))
        grid = [[cells.get((r, c), "") for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]
        if dimension == "COLUMNS":
            grid = [list(col) for col in zip(*grid, strict=True)]
        out = []
        for line in grid:
            while line and line[-1] == "":
                line = line[:-1]
            out.append(line)
        while out and not out[-1]:
            out.pop()
        return out

    def _write(self, sheet: dict[str, Any], r0: int, c0: int, rows: list[list[Any]], entered: bool) -> int:
        count = 0
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                sheet["cells"][(r0 + i, c0 + j)] = _entered(value) if entered else value
                count += 1
        return count

    async def _sheets_create(self, request: Request, grant: Grant) -> Response:
        data = await json_body(request, _invalid)
        properties = {"title": "Untitled spreadsheet", "locale": "en_US", "autoRecalc": "ON_CHANGE",
                      "timeZone": "Etc/GMT"} | dict(data.get("properties") or {})
        book: dict[str, Any] = {"id": "1" + self.new_id("s") + "Bx", "properties": properties, "sheets": []}
        for sheet in data.get("sheets") or [{"properties": {"title": "Sheet1"}}]:
            self._add_sheet(book, sheet.get("properties") or {})
        self.spreadsheets[book["id"]] = book
        return JSONResponse(self._sheet_json(book))

    async def _sheets_get(self, request: Request, grant: Grant) -> Response:
        book = self._sheet_json(self._spreadsheet(request))
        fields = request.query_params.get("fields")
        return JSONResponse(_select(book, fields) if fields else book)

    async def _sheets_values_get(self, request: Request, grant: Grant) -> Response:
        book = self._spreadsheet(request)
        sheet, r0, c0, r1, c1 = self._range(book, request.path_params["range"])
        dimension = request.query_params.get("majorDimension", "ROWS")
        body: dict[str, Any] = {"range": _a1_text(sheet, r0, c0, r1, c1), "majorDimension": dimension}
        values = _rendered(self._values(sheet, r0, c0, r1, c1, dimension), request.query_params.get(
            "valueRenderOption", "FORMATTED_VALUE"))
        if values:
            body["values"] = values
        return JSONResponse(body)

    def _input_option(self, request: Request) -> bool:
        option = request.query_params.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            raise _invalid("'valueInputOption' is required but not specified" if option is None
                           else f"Invalid value at 'value_input_option' ({option})")
        return option == "USER_ENTERED"

    async def _sheets_values_update(self, request: Request, grant: Grant) -> Response:
        book = self._spreadsheet(request)
        entered = self._input_option(request)
        sheet, r0, c0, _, _ = self._range(book, request.path_params["range"])
        data = await json_body(request, _invalid)
        rows = data.get("values") or []
        count = self._write(sheet, r0, c0, rows, entered)
        width = max((len(r) for r in rows), default=0)
        return JSONResponse({"spreadsheetId": book["id"],
                             "updatedRange": _a1_text(sheet, r0, c0, r0 + len(rows) - 1, c0 + width - 1),
                             "updatedRows": len(rows), "updatedColumns": width, "updatedCells": count})

    async def _sheets_values_append(self, request: Request, grant: Grant) -> Response:
        book = self._spreadsheet(request)
        entered = self._input_option(request)
        sheet, r0, c0, r1, c1 = self._range(book, request.path_params["range"])
        data = await json_body(request, _invalid)
        rows = data.get("values") or []
        used = [r for r, c in sheet["cells"] if r0 <= r <= r1 and c0 <= c <= c1]
        start = max(used) + 1 if used else r0
        width = max((len(r) for r in rows), default=0)
        count = self._write(sheet, start, c0, rows, entered)
        return JSONResponse({"spreadsheetId": book["id"],
                             "tableRange": _a1_text(sheet, r0, c0, start - 1, c0 + width - 1) if used else None,
                             "updates": {"spreadsheetId": book["id"],
                                         "updatedRange": _a1_text(sheet, start, c0, start + len(rows) - 1,
                                                                  c0 + width - 1),
                                         "updatedRows": len(rows), "updatedColumns": width, "updatedCells": count}})

    async def _sheets_values_clear(self, request: Request, grant: Grant) -> Response:
        book = self._spreadsheet(request)
        sheet, r0, c0, r1, c1 = self._range(book, request.path_params["range"])
        for key in [k for k in sheet["cells"] if r0 <= k[0] <= r1 and c0 <= k[1] <= c1]:
            del sheet["cells"][key]
        return JSONResponse({"spreadsheetId": book["id"], "clearedRange": _a1_text(sheet, r0, c0, r1, c1)})

    async def _sheets_batch_get(self, request: Request, grant: Grant) -> Response:
        book = self._spreadsheet(request)
        data = await json_body(request, _invalid)
        dimension = data.get("majorDimension", "ROWS")
        ranges = []
        for data_filter in data.get("dataFilters") or []:
            sheet, r0, c0, r1, c1 = self._range(book, str(data_filter.get("a1Range", "")))
            value_range: dict[str, Any] = {"range": _a1_text(sheet, r0, c0, r1, c1), "majorDimension": dimension}
            values = _rendered(self._values(sheet, r0, c0, r1, c1, dimension),
                               data.get("valueRenderOption", "FORMATTED_VALUE"))
            if values:
                value_range["values"] = values
            ranges.append({"valueRange": value_range, "dataFilters": [data_filter]})
        return JSONResponse({"spreadsheetId": book["id"], "valueRanges": ranges})

    async def _sheets_batch_update(self, request: Request, grant: Grant) -> Response:
        book = self._spreadsheet(request)
        data = await json_body(request, _invalid)
        replies: list[dict[str, Any]] = []
        for req in data.get("requests") or []:
            if "addSheet" in req:
                sheet = self._add_sheet(book, req["addSheet"].get("properties") or {})
                replies.append({"addSheet": {"properties": sheet["properties"]}})
            elif "findReplace" in req:
                replies.append({"findReplace": _find_replace(book, req["findReplace"])})
            elif "updateSheetProperties" in req:
                props = req["updateSheetProperties"].get("properties") or {}
                found = [s for s in book["sheets"] if s["properties"]["sheetId"] == props.get("sheetId")]
                if not found:
                    raise _invalid("Invalid requests[0].updateSheetProperties: No grid with id: "
                                   f"{props.get('sheetId')}")
                for name in str(req["updateSheetProperties"].get("fields", "")).split(","):
                    if name in props:
                        found[0]["properties"][name] = props[name]
                replies.append({})
            else:
                raise _invalid(f"Invalid JSON payload received. Unknown name {next(iter(req), '')!r} at "
                               "'requests[0]': Cannot find field.")
        return JSONResponse({"spreadsheetId": book["id"], "replies": replies})


# --- helpers: MIME, Drive queries and fields, A1 ranges ---------------------------------------------------------------

def _headers(part: Message) -> list[dict[str, str]]:
    return [{"name": name, "value": str(value)} for name, value in part.items()]


def _attachment_id(message_id: str, index: int) -> str:
    return f"ANGjdJ{message_id}x{index}"


def _payload(message: Message, part_id: str, message_id: str) -> dict[str, Any]:
    """Gmail's `payload`: the MIME tree with headers, base64url bodies and attachment ids."""
    index = {id(p): i for i, p in enumerate(message.walk())}

    def build(part: Message, pid: str) -> dict[str, Any]:
        node: dict[str, Any] = {"partId": pid, "mimeType": part.get_content_type(),
                                "filename": part.get_filename() or "", "headers": _headers(part)}
        if part.is_multipart():
            node["body"] = {"size": 0}
            children = part.get_payload()
            assert isinstance(children, list)
            node["parts"] = [build(child, f"{pid}.{i}" if pid else str(i)) for i, child in enumerate(children)]
        else:
            data = _bytes(part)
            if part.get_filename():
                node["body"] = {"attachmentId": _attachment_id(message_id, index[id(part)]), "size": len(data)}
            else:
                node["body"] = {"size": len(data), "data": _b64url(data)}
        return node

    return build(message, part_id)


def _bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _first_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.get_filename():
            text = _bytes(part).decode(part.get_content_charset() or "utf-8", "replace")
            return re.sub(r"<[^>]+>", "", text) if part.get_content_type() == "text/html" else text
    return ""


def _event_start(when: Mapping[str, Any]) -> datetime:
    value = when.get("dateTime") or f"{when.get('date')}T00:00:00Z"
    parsed = _when(str(value))
    assert parsed is not None
    return parsed


_DRIVE_TERM = re.compile(
    r"\s*(?:(?P<neg>not\s+)?(?:(?P<field>name|mimeType|fullText|trashed|starred)\s*(?P<op>contains|=|!=)\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|true|false)|'(?P<parent>[^']+)'\s+in\s+parents|(?P<flag>sharedWithMe)))\s*$")


def _drive_query(q: str) -> Any:
    """A tester for Drive's query language (the parts the toolkit documents), or a 400 as Drive answers."""
    tests = []
    for term in re.split(r"\s+and\s+", q.strip()) if q.strip() else []:
        match = _DRIVE_TERM.match(term)
        if match is None:
            raise ApiError(400, {"error": {"code": 400, "message": "Invalid Value", "errors": [
                {"domain": "global", "reason": "invalid", "message": "Invalid Value", "locationType": "parameter",
                 "location": "q"}]}})
        tests.append(match.groupdict())

    def test(file: dict[str, Any], content: bytes) -> bool:
        for t in tests:
            if t["parent"]:
                ok = t["parent"] in file["parents"]
            elif t["flag"]:
                ok = False
            else:
                value = t["value"].strip("'").replace("\\'", "'")
                if t["field"] in ("trashed", "starred"):
                    actual: Any = file[t["field"]]
                    value_b = value == "true"
                    ok = (actual == value_b) if t["op"] == "=" else (actual != value_b)
                elif t["field"] == "fullText":
                    ok = value.lower() in (file["name"] + content.decode("utf-8", "replace")).lower()
                elif t["op"] == "contains":
                    ok = value.lower() in str(file[t["field"]]).lower()
                else:
                    ok = (str(file[t["field"]]) == value) == (t["op"] == "=")
            if bool(t["neg"]) == ok:
                return False
        return True  # Drive lists trashed files too unless the query says `trashed = false`

    return test


def _field_tree(fields: str) -> dict[str, Any]:
    """`a,b(c,d),e/f` -> {a: {}, b: {c: {}, d: {}}, e: {f: {}}} (Google's partial-response syntax)."""
    tree: dict[str, Any] = {}
    stack = [tree]
    name = ""
    for ch in fields + ",":
        if ch in ",()":
            if name.strip():
                node = stack[-1]
                for piece in name.strip().split("/"):
                    node = node.setdefault(piece, {})
                last = node
            if ch == "(":
                stack.append(last)
            elif ch == ")":
                stack.pop()
            name = ""
        else:
            name += ch
    return tree


def _select(data: Any, fields: str) -> Any:
    if fields.strip() == "*":
        return data

    def pick(value: Any, tree: dict[str, Any]) -> Any:
        if not tree:
            return value
        if isinstance(value, list):
            return [pick(v, tree) for v in value]
        if isinstance(value, dict):
            return {k: pick(value[k], sub) for k, sub in tree.items() if k in value and value[k] is not None}
        return value

    return pick(data, _field_tree(fields))


def _col(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _letters(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        out = chr(65 + rest) + out
    return out


def _a1(cells: str, rows: int, cols: int) -> tuple[int, int, int, int] | None:
    if not cells:
        return 0, 0, rows - 1, cols - 1
    parts = cells.upper().split(":")
    points = []
    for part in parts:
        match = re.fullmatch(r"([A-Z]*)(\d*)", part)
        if match is None or not (match.group(1) or match.group(2)):
            return None
        points.append((int(match.group(2)) - 1 if match.group(2) else None,
                       _col(match.group(1)) if match.group(1) else None))
    (ra, ca), (rb, cb) = points[0], points[-1]
    if len(parts) == 1:
        if ra is None or ca is None:
            return None
        return ra, ca, ra, ca
    return (ra or 0, ca or 0, rb if rb is not None else rows - 1, cb if cb is not None else cols - 1)


def _a1_text(sheet: dict[str, Any], r0: int, c0: int, r1: int, c1: int) -> str:
    title = sheet["properties"]["title"]
    name = f"'{title}'" if re.search(r"[^A-Za-z0-9_]", title) else title
    first, last = f"{_letters(c0)}{r0 + 1}", f"{_letters(max(c1, c0))}{max(r1, r0) + 1}"
    return f"{name}!{first}" if first == last else f"{name}!{first}:{last}"


def _rendered(rows: list[list[Any]], option: str) -> list[list[Any]]:
    """FORMATTED_VALUE (the default) answers every cell as the text the sheet shows."""
    if option != "FORMATTED_VALUE":
        return rows
    return [["TRUE" if v is True else "FALSE" if v is False else str(v) for v in row] for row in rows]


def _entered(value: Any) -> Any:
    """USER_ENTERED: numeric text becomes a number, as if typed into the sheet."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def _find_replace(book: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    find, replacement = str(request.get("find", "")), str(request.get("replacement", ""))
    if not find:
        raise _invalid("Invalid requests[0].findReplace: find must not be empty.")
    flags = 0 if request.get("matchCase") else re.I
    pattern = find if request.get("searchByRegex") else re.escape(find)
    if request.get("matchEntireCell"):
        pattern = f"^{pattern}$"
    changed_values = occurrences = 0
    rows: set[tuple[int, int]] = set()
    sheets: set[int] = set()
    for sheet in book["sheets"]:
        if not request.get("allSheets") and sheet["properties"]["sheetId"] != request.get("sheetId"):
            continue
        for key, value in list(sheet["cells"].items()):
            if not isinstance(value, str) or (value.startswith("=") and not request.get("includeFormulas")):
                continue
            new, n = re.subn(pattern, replacement, value, flags=flags)
            if n:
                sheet["cells"][key] = new
                occurrences += n
                changed_values += 1
                rows.add((sheet["properties"]["sheetId"], key[0]))
                sheets.add(sheet["properties"]["sheetId"])
    return {"valuesChanged": changed_values, "occurrencesChanged": occurrences, "rowsChanged": len(rows),
            "sheetsChanged": len(sheets), "formulasChanged": 0}


@pytest.fixture
def google() -> Iterator[GoogleStandIn]:
    """The stand-in for one test (imported by each Google toolkit's test module)."""
    stand_in = GoogleStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def serving(data_dir: Path, google: GoogleStandIn, toolkit: str, service: str) -> Iterator[LiveServer]:
    """A Concierge server whose `toolkit` talks to the stand-in's `service`; stopped after the test."""
    live = live_server(data_dir, google, {toolkit: google.base(service)})
    try:
        yield live
    finally:
        live.stop()
