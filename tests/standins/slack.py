"""A local stand-in for slack.com that speaks the Slack Web API's wire format, for end-to-end tests of
toolkits/slack.

Every method answers HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`; arguments
arrive as a query string, a form body or a JSON body (with a bearer token, as Slack accepts them); lists
page with `cursor`/`limit` and `response_metadata.next_cursor` ("" on the last page); a rate limit is HTTP
429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`. Tokens are checked (`not_authed`,
`invalid_auth`), bot tokens cannot search (`not_allowed_token_type`), state is kept in memory. The OAuth v2
quirk is here too: `oauth.v2.access` nests the user token under `authed_user` beside the bot token.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import ThreadedServer

TEAM = {"id": "T0STANDIN", "name": "Stand-in Co", "domain": "standin"}
Args = dict[str, Any]


class SlackError(Exception):
    """`raise SlackError("channel_not_found")` inside a method becomes {"ok": false, "error": ...}."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Caller:
    user: str
    kind: str  # "bot" or "user"


@dataclass(frozen=True)
class Recorded:
    method: str  # Slack method name, e.g. chat.postMessage
    http_method: str
    content_type: str
    args: Args
    authorization: str


@dataclass
class _Channel:
    id: str
    name: str
    creator: str
    is_private: bool = False
    is_im: bool = False
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    members: list[str] = field(default_factory=list)
    messages: list[Args] = field(default_factory=list)  # oldest first

    def json(self, with_count: bool = False) -> Args:
        out: Args = {"id": self.id, "name": self.name, "is_channel": not self.is_private and not self.is_im,
                     "is_group": self.is_private, "is_im": self.is_im, "is_private": self.is_private or self.is_im,
                     "is_archived": self.is_archived, "created": 1767225600, "creator": self.creator,
                     "is_member": True, "topic": {"value": self.topic, "creator": self.creator, "last_set": 0},
                     "purpose": {"value": self.purpose, "creator": self.creator, "last_set": 0}}
        if with_count:
            out["num_members"] = len(self.members)
        return out


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except ValueError:
        pass
    raise SlackError("invalid_cursor")


def _page(items: list[Any], args: Args, key: str, default_limit: int = 100) -> Args:
    """One cursor page as Slack serves it: `limit` items from the cursor, next_cursor "" when done."""
    start = _offset(str(args.get("cursor") or ""))
    limit = _int(args.get("limit"), default_limit) or default_limit
    limit = min(max(limit, 1), 1000)
    chunk = items[start:start + limit]
    following = start + limit
    return {key: chunk, "response_metadata": {"next_cursor": _cursor(following) if following < len(items) else ""}}


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _need(args: Args, *names: str) -> None:
    for name in names:
        if args.get(name) in (None, ""):
            raise SlackError("invalid_arguments" if name not in ("channel",) else "channel_not_found")


class SlackStandIn(ThreadedServer):
    """`with SlackStandIn({"xoxb-...": "bot"}) as slack:` serves on `slack.base_url` (…/api)."""

    def __init__(self, tokens: dict[str, str] | None = None, *, client_id: str = "1234.5678",
                 client_secret: str = "standin-secret", rotate_after: float | None = None) -> None:
        super().__init__()
        self.rotate_after = rotate_after  # token rotation on: OAuth tokens expire after this many seconds
        self.tokens: dict[str, Caller] = {}
        self._expires: dict[str, float] = {}
        self._refresh: dict[str, str] = {}  # live refresh token -> "user" / "bot"
        for token, kind in (tokens or {}).items():
            self.add_token(token, kind)
        self.client_id, self.client_secret = client_id, client_secret
        self.requests: list[Recorded] = []
        self._codes: dict[str, str] = {}  # authorization code -> redirect_uri
        self.uploads: dict[str, Args] = {}  # file id -> {filename, length, data, upload_id}
        self._limits: list[str] = []
        self._ts = itertools.count(1)
        self._ids = itertools.count(100)
        self._seed()

    # -- lifecycle ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.url + "/api"

    @property
    def authorize_url(self) -> str:
        return self.url + "/oauth/v2/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/api/oauth.v2.access"

    def start(self) -> SlackStandIn:
        self.serve(lambda: Starlette(routes=[
            Route("/oauth/v2/authorize", self._authorize, methods=["GET"]),
            Route("/api/oauth.v2.access", self._token, methods=["POST"]),
            Route("/upload/v1/{upload_id}", self._upload, methods=["POST"]),
            Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
        ]))
        return self

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_token(self, token: str, kind: str) -> None:
        self.tokens[token] = Caller("U0BOT" if kind == "bot" else "U0ALICE", kind)

    def rate_limit_next(self, *styles: str) -> None:
        """The next calls are rate limited: "http" = 429 + Retry-After: 1, "body" = 200 ok:false ratelimited."""
        self._limits.extend(styles)

    def channel(self, channel_id: str) -> _Channel:
        found = self._channels.get(channel_id)
        if found is None:
            raise SlackError("channel_not_found")
        return found

    # -- the world ---------------------------------------------------------------------------------------

    def _seed(self) -> None:
        people = [("U0ALICE", "alice", "Alice Example", "Engineering manager"),
                  ("U0BOB", "bob", "Bob Builder", "Backend engineer"),
                  ("U0CAROL", "carol", "Carol Danvers", "Designer"),
                  ("U0BOT", "concierge", "Concierge", "")]
        self.users: dict[str, Args] = {}
        for uid, name, real, title in people:
            bot = uid == "U0BOT"
            self.users[uid] = {"id": uid, "team_id": TEAM["id"], "name": name, "real_name": real, "deleted": False,
                               "tz": "Europe/Berlin", "tz_offset": 3600, "is_admin": uid == "U0ALICE", "is_bot": bot,
                               "profile": {"real_name": real, "display_name": name, "title": title,
                                           "email": None if bot else f"{name}@example.com", "status_text": ""}}
        everyone = ["U0ALICE", "U0BOB", "U0CAROL", "U0BOT"]
        self._channels = {c.id: c for c in [
            _Channel("C0GENERAL", "general", "U0ALICE", topic="Company-wide news", members=list(everyone)),
            _Channel("C0RANDOM", "random", "U0ALICE", members=["U0ALICE", "U0BOB"]),
            _Channel("C0OPS", "ops", "U0BOB", is_private=True, purpose="Deploys and incidents",
                     members=["U0BOB", "U0BOT"]),
        ]}
        for i in range(1, 8):
            self._post(self._channels["C0GENERAL"], "U0BOB" if i % 2 else "U0CAROL", f"Status update number {i}")
        parent = self._post(self._channels["C0GENERAL"], "U0ALICE", "Who can review the release notes?")
        for who, text in [("U0BOB", "I can, after lunch"), ("U0CAROL", "Me too")]:
            self._post(self._channels["C0GENERAL"], who, text, thread_ts=parent["ts"])
        self.scheduled: list[Args] = []
        self.files: list[Args] = [{"id": f"F0FILE{i}", "name": name, "title": name.rsplit(".", 1)[0], "filetype": kind,
                       "size": 1000 * i, "user": "U0BOB", "created": 1767225600 + i, "channels": ["C0GENERAL"],
                       "url_private": f"https://files.slack.com/files-pri/{TEAM['id']}-F0FILE{i}/{name}",
                       "permalink": f"https://standin.slack.com/files/U0BOB/F0FILE{i}/{name}"}
                      for i, (name, kind) in enumerate([("roadmap.pdf", "pdf"), ("logo.png", "png")], 1)]

    def _next_ts(self) -> str:
        return f"{1767225600 + next(self._ts)}.{next(self._ids):06d}"

    def _post(self, channel: _Channel, user: str, text: str, thread_ts: str | None = None,
              blocks: list[Any] | None = None) -> Args:
        message: Args = {"type": "message", "user": user, "text": text, "ts": self._next_ts(), "team": TEAM["id"]}
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            parent = self._message(channel, thread_ts)
            parent.setdefault("thread_ts", parent["ts"])
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent.setdefault("reply_users", [])
            if user not in parent["reply_users"]:
                parent["reply_users"].append(user)
            parent["latest_reply"] = message["ts"]
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = parent["user"]
        channel.messages.append(message)
        return message

    def _message(self, channel: _Channel, ts: str) -> Args:
        for message in channel.messages:
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    # -- plumbing ----------------------------------------------------------------------------------------

    async def _arguments(self, request: Request) -> Args:
        args: Args = dict(request.query_params)
        if request.method == "POST":
            kind = request.headers.get("content-type", "")
            if kind.startswith("application/json"):
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                args |= body
            else:
                args |= {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        return args

    async def _endpoint(self, request: Request) -> Response:
        name = request.path_params["method"]
        try:
            args = await self._arguments(request)
        except (SlackError, ValueError):
            return JSONResponse({"ok": False, "error": "invalid_json"})
        authorization = request.headers.get("authorization", "")
        self.requests.append(Recorded(name, request.method, request.headers.get("content-type", ""), args,
                                      authorization))
        if self._limits:
            style = self._limits.pop(0)
            body = {"ok": False, "error": "ratelimited"}
            return JSONResponse(body, status_code=429, headers={"Retry-After": "1"}) if style == "http" \
                else JSONResponse(body)
        handler = METHODS.get(name)
        if handler is None:
            return JSONResponse({"ok": False, "error": "unknown_method"}, status_code=404)
        scheme, _, token = authorization.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else str(args.get("token") or "")
        if not token:
            return JSONResponse({"ok": False, "error": "not_authed"})
        caller = self.tokens.get(token)
        if caller is None:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if self._expires.get(token, float("inf")) < time.time():
            return JSONResponse({"ok": False, "error": "token_expired"})
        try:
            answer = await handler(self, args, caller)
        except SlackError as exc:
            return JSONResponse({"ok": False, "error": exc.code})
        return JSONResponse({"ok": True, **answer})

    async def _upload(self, request: Request) -> Response:
        """The pre-signed upload URL of files.getUploadURLExternal: raw bytes, no token, answers "OK - <size>"."""
        for pending in self.uploads.values():
            if pending["upload_id"] == request.path_params["upload_id"]:
                pending["data"] = await request.body()
                return Response(f"OK - {len(pending['data'])}", media_type="text/plain")
        return Response("upload not found", status_code=404, media_type="text/plain")

    # -- OAuth v2 ----------------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        """The person approves at once: back to redirect_uri with a code (or an error for a wrong client)."""
        q = request.query_params
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != self.client_id or not redirect:
            return JSONResponse({"ok": False, "error": "invalid_client_id"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = redirect
        self.requests.append(Recorded("oauth/v2/authorize", "GET", "", dict(q), ""))
        return RedirectResponse(redirect + ("&" if "?" in redirect else "?") +
                                urlencode({"code": code, "state": q.get("state", "")}), status_code=302)

    async def _token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        self.requests.append(Recorded("oauth.v2.access", "POST", request.headers.get("content-type", ""),
                                      {k: v for k, v in form.items() if k != "client_secret"}, ""))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"ok": False, "error": "invalid_client_id"})
        if form.get("grant_type") == "refresh_token":
            return self._refreshed(form)
        redirect = self._codes.pop(form.get("code", ""), None)
        if redirect is None:
            return JSONResponse({"ok": False, "error": "invalid_code"})
        if form.get("redirect_uri") and form["redirect_uri"] != redirect:
            return JSONResponse({"ok": False, "error": "bad_redirect_uri"})
        return JSONResponse({
            "ok": True, **self._issue("bot"), "scope": "chat:write,channels:read",
            "bot_user_id": "U0BOT", "app_id": "A0STANDIN", "team": {"id": TEAM["id"], "name": TEAM["name"]},
            "enterprise": None, "is_enterprise_install": False,
            "authed_user": {"id": "U0ALICE", "scope": "search:read,chat:write,channels:history",
                            **self._issue("user")}})

    def _issue(self, kind: str) -> Args:
        """A new token of this kind; with rotation on, `xoxe.` tokens that expire, plus a refresh token."""
        prefix = "xoxb-" if kind == "bot" else "xoxp-"
        if self.rotate_after is None:
            token = prefix + secrets.token_hex(12)
            self.add_token(token, kind)
            return {"access_token": token, "token_type": kind}
        token, refresh = "xoxe." + prefix + secrets.token_hex(12), "xoxe-1-" + secrets.token_hex(16)
        self.add_token(token, kind)
        self._expires[token] = time.time() + self.rotate_after
        self._refresh[refresh] = kind
        return {"access_token": token, "token_type": kind, "refresh_token": refresh,
                "expires_in": int(self.rotate_after)}

    def _refreshed(self, form: dict[str, str]) -> Response:
        """grant_type=refresh_token: each refresh token works once (rotation) and the answer is flat."""
        kind = self._refresh.pop(form.get("refresh_token", ""), None)
        if kind is None:
            return JSONResponse({"ok": False, "error": "invalid_refresh_token"})
        return JSONResponse({"ok": True, **self._issue(kind), "scope": "search:read,chat:write",
                             "team": {"id": TEAM["id"], "name": TEAM["name"]}})

    # -- methods -----------------------------------------------------------------------------------------

    async def auth_test(self, args: Args, caller: Caller) -> Args:
        out = {"url": f"https://{TEAM['domain']}.slack.com/", "team": TEAM["name"], "team_id": TEAM["id"],
               "user": self.users[caller.user]["name"], "user_id": caller.user}
        return out | ({"bot_id": "B0STANDIN"} if caller.kind == "bot" else {})

    async def post_message(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        channel = self._resolve(str(args["channel"]))
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and not blocks:
            raise SlackError("no_text")
        if caller.user not in channel.members:
            raise SlackError("not_in_channel")
        message = self._post(channel, caller.user, str(args.get("text") or ""), args.get("thread_ts") or None, blocks)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    async def post_ephemeral(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "user", "text")
        channel = self.channel(str(args["channel"]))
        if args["user"] not in channel.members:
            raise SlackError("user_not_in_channel")
        return {"message_ts": self._next_ts()}

    async def update_message(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "ts")
        channel = self.channel(str(args["channel"]))
        message = self._message(channel, str(args["ts"]))
        if message["user"] != caller.user:
            raise SlackError("cant_update_message")
        message["text"] = str(args.get("text") or message["text"])
        message["edited"] = {"user": caller.user, "ts": self._next_ts()}
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"], "message": message}

    async def delete_message(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "ts")
        channel = self.channel(str(args["channel"]))
        message = self._message(channel, str(args["ts"]))
        if message["user"] != caller.user:
            raise SlackError("cant_delete_message")
        channel.messages.remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    async def schedule_message(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "text", "post_at")
        channel = self.channel(str(args["channel"]))
        post_at = _int(args["post_at"], 0)
        if post_at <= time.time():
            raise SlackError("time_in_past")
        if post_at > time.time() + 120 * 86400:
            raise SlackError("time_too_far")
        item = {"id": f"Q{next(self._ids):010d}", "channel_id": channel.id, "post_at": post_at,
                "date_created": int(time.time()), "text": str(args["text"])}
        self.scheduled.append(item)
        return {"channel": channel.id, "scheduled_message_id": item["id"], "post_at": post_at,
                "message": {"type": "delayed_message", "text": item["text"], "user": caller.user}}

    async def list_scheduled(self, args: Args, caller: Caller) -> Args:
        items = [s for s in self.scheduled if args.get("channel") in (None, "", s["channel_id"])]
        return _page(sorted(items, key=lambda s: s["post_at"]), args, "scheduled_messages")

    async def delete_scheduled(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "scheduled_message_id")
        for item in self.scheduled:
            if item["id"] == args["scheduled_message_id"] and item["channel_id"] == args["channel"]:
                self.scheduled.remove(item)
                return {}
        raise SlackError("invalid_scheduled_message_id")

    async def permalink(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "message_ts")
        channel = self.channel(str(args["channel"]))
        message = self._message(channel, str(args["message_ts"]))
        return {"channel": channel.id, "permalink": _permalink(channel.id, message["ts"])}

    async def history(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        channel = self.channel(str(args["channel"]))
        if caller.user not in channel.members:
            raise SlackError("not_in_channel")
        top = [m for m in reversed(channel.messages) if m.get("thread_ts") in (None, m["ts"])
               and _in_window(m["ts"], args)]
        page = _page(top, args, "messages")
        return page | {"has_more": bool(page["response_metadata"]["next_cursor"]), "pin_count": 0}

    async def replies(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "ts")
        channel = self.channel(str(args["channel"]))
        parent = self._message(channel, str(args["ts"]))
        thread = [parent] + [m for m in channel.messages if m.get("thread_ts") == parent["ts"] and m is not parent]
        page = _page([m for m in thread if _in_window(m["ts"], args) or m is parent], args, "messages")
        return page | {"has_more": bool(page["response_metadata"]["next_cursor"])}

    async def list_channels(self, args: Args, caller: Caller) -> Args:
        types = set(str(args.get("types") or "public_channel").split(","))
        found = [c.json() for c in self._channels.values()
                 if ("private_channel" if c.is_private else "im" if c.is_im else "public_channel") in types
                 and not (_bool(args.get("exclude_archived")) and c.is_archived)
                 and (not c.is_private or caller.user in c.members)]
        return _page(found, args, "channels")

    async def channel_info(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        return {"channel": self.channel(str(args["channel"])).json(_bool(args.get("include_num_members")))}

    async def create_channel(self, args: Args, caller: Caller) -> Args:
        _need(args, "name")
        name = str(args["name"])
        if name != name.lower() or " " in name or "." in name or len(name) > 80:
            raise SlackError("invalid_name_specials")
        if any(c.name == name for c in self._channels.values()):
            raise SlackError("name_taken")
        channel = _Channel(f"C0{next(self._ids)}", name, caller.user, is_private=_bool(args.get("is_private")),
                           members=[caller.user])
        self._channels[channel.id] = channel
        return {"channel": channel.json()}

    async def join(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        channel = self.channel(str(args["channel"]))
        if channel.is_private and caller.user not in channel.members:
            raise SlackError("method_not_supported_for_channel_type")
        already = caller.user in channel.members
        if not already:
            channel.members.append(caller.user)
        return {"channel": channel.json()} | ({"warning": "already_in_channel"} if already else {})

    async def invite(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "users")
        channel = self.channel(str(args["channel"]))
        for uid in str(args["users"]).split(","):
            if uid not in self.users:
                raise SlackError("user_not_found")
            if uid in channel.members:
                raise SlackError("already_in_channel")
            channel.members.append(uid)
        return {"channel": channel.json()}

    async def set_topic(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "topic")
        channel = self.channel(str(args["channel"]))
        if len(str(args["topic"])) > 250:
            raise SlackError("too_long")
        channel.topic = str(args["topic"])
        return {"channel": channel.json()}

    async def set_purpose(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "purpose")
        channel = self.channel(str(args["channel"]))
        channel.purpose = str(args["purpose"])
        return {"purpose": channel.purpose}

    async def rename(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "name")
        channel, name = self.channel(str(args["channel"])), str(args["name"])
        if name != name.lower() or " " in name or "." in name or len(name) > 80:
            raise SlackError("invalid_name_specials")
        if any(c.name == name and c is not channel for c in self._channels.values()):
            raise SlackError("name_taken")
        if caller.user not in channel.members:
            raise SlackError("not_in_channel")
        channel.name = name
        return {"channel": channel.json()}

    async def leave(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        channel = self.channel(str(args["channel"]))
        if channel.name == "general":
            raise SlackError("cant_leave_general")
        if caller.user not in channel.members:
            return {"not_in_channel": True}
        channel.members.remove(caller.user)
        return {}

    async def members(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        return _page(self.channel(str(args["channel"])).members, args, "members")

    async def open_dm(self, args: Args, caller: Caller) -> Args:
        _need(args, "users")
        users = sorted(str(args["users"]).split(","))
        if any(u not in self.users for u in users):
            raise SlackError("user_not_found")
        for channel in self._channels.values():
            if channel.is_im and sorted(channel.members) == sorted({caller.user, *users}):
                return {"channel": {"id": channel.id}, "already_open": True}
        channel = _Channel(f"D0{next(self._ids)}", users[0], caller.user, is_im=True,
                           members=sorted({caller.user, *users}))
        self._channels[channel.id] = channel
        return {"channel": {"id": channel.id}}

    async def archive(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel")
        channel = self.channel(str(args["channel"]))
        if channel.is_archived:
            raise SlackError("already_archived")
        channel.is_archived = True
        return {}

    async def add_reaction(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "timestamp", "name")
        message = self._message(self.channel(str(args["channel"])), str(args["timestamp"]))
        name = str(args["name"]).strip(":")
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if caller.user in reaction["users"]:
                    raise SlackError("already_reacted")
                reaction["users"].append(caller.user)
                reaction["count"] += 1
                return {}
        reactions.append({"name": name, "users": [caller.user], "count": 1})
        return {}

    async def remove_reaction(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "timestamp", "name")
        message = self._message(self.channel(str(args["channel"])), str(args["timestamp"]))
        for reaction in message.get("reactions", []):
            if reaction["name"] == str(args["name"]).strip(":") and caller.user in reaction["users"]:
                reaction["users"].remove(caller.user)
                reaction["count"] -= 1
                message["reactions"] = [r for r in message["reactions"] if r["count"]]
                return {}
        raise SlackError("no_reaction")

    async def get_reactions(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "timestamp")
        channel = self.channel(str(args["channel"]))
        return {"type": "message", "channel": channel.id, "message": self._message(channel, str(args["timestamp"]))}

    async def pin(self, args: Args, caller: Caller) -> Args:
        _need(args, "channel", "timestamp")
        message = self._message(self.channel(str(args["channel"])), str(args["timestamp"]))
        if message.get("pinned_to"):
            raise SlackError("already_pinned")
        message["pinned_to"] = [args["channel"]]
        return {}

    async def list_users(self, args: Args, caller: Caller) -> Args:
        return _page(list(self.users.values()), args, "members") | {"cache_ts": int(time.time())}

    async def user_info(self, args: Args, caller: Caller) -> Args:
        _need(args, "user")
        user = self.users.get(str(args["user"]))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    async def lookup_by_email(self, args: Args, caller: Caller) -> Args:
        _need(args, "email")
        for user in self.users.values():
            if user["profile"]["email"] == str(args["email"]).lower():
                return {"user": user}
        raise SlackError("users_not_found")

    async def search_messages(self, args: Args, caller: Caller) -> Args:
        if caller.kind == "bot":
            raise SlackError("not_allowed_token_type")
        _need(args, "query")
        words, channel_name = [], None
        for word in str(args["query"]).lower().split():
            if word.startswith("in:"):
                channel_name = word[3:].lstrip("#")
            else:
                words.append(word)
        matches = [{"iid": m["ts"], "type": "message", "user": m["user"],
                    "username": self.users[m["user"]]["name"], "text": m["text"], "ts": m["ts"],
                    "channel": {"id": c.id, "name": c.name, "is_private": c.is_private},
                    "permalink": _permalink(c.id, m["ts"])}
                   for c in self._channels.values() if channel_name in (None, c.name)
                   for m in c.messages if all(w in m["text"].lower() for w in words)]
        count, page = min(max(_int(args.get("count"), 20), 1), 100), max(_int(args.get("page"), 1), 1)
        pages = max((len(matches) + count - 1) // count, 1)
        return {"query": args["query"], "messages": {
            "total": len(matches), "matches": matches[(page - 1) * count: page * count],
            "pagination": {"total_count": len(matches), "page": page, "per_page": count, "page_count": pages},
            "paging": {"count": count, "total": len(matches), "page": page, "pages": pages}}}

    async def list_files(self, args: Args, caller: Caller) -> Args:
        files = [f for f in self.files if args.get("channel") in (None, "", *f["channels"])
                 and args.get("user") in (None, "", f["user"])]
        count, page = _int(args.get("count"), 100), max(_int(args.get("page"), 1), 1)
        return {"files": files[(page - 1) * count: page * count],
                "paging": {"count": count, "total": len(files), "page": page,
                           "pages": max((len(files) + count - 1) // count, 1)}}

    async def file_info(self, args: Args, caller: Caller) -> Args:
        _need(args, "file")
        for f in self.files:
            if f["id"] == args["file"]:
                return {"file": f, "comments": [], "response_metadata": {"next_cursor": ""}}
        raise SlackError("file_not_found")

    async def upload_url(self, args: Args, caller: Caller) -> Args:
        _need(args, "filename", "length")
        length = _int(args["length"], 0)
        if length < 1:
            raise SlackError("invalid_arguments")
        file_id, upload_id = f"F0UP{next(self._ids)}", secrets.token_urlsafe(12)
        self.uploads[file_id] = {"filename": str(args["filename"]), "length": length, "data": None,
                                 "upload_id": upload_id, "user": caller.user}
        return {"upload_url": f"{self.url}/upload/v1/{upload_id}", "file_id": file_id}

    async def complete_upload(self, args: Args, caller: Caller) -> Args:
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        done = []
        for item in files:
            pending = self.uploads.get(str(item.get("id")))
            if pending is None or pending["user"] != caller.user:
                raise SlackError("file_not_found")
            if pending["data"] is None or len(pending["data"]) != pending["length"]:
                raise SlackError("file_upload_size_mismatch" if pending["data"] is not None else "file_not_found")
            channels = [str(args["channel_id"])] if args.get("channel_id") else []
            shared = {"id": item["id"], "name": pending["filename"], "title": item.get("title") or pending["filename"],
                      "filetype": pending["filename"].rsplit(".", 1)[-1], "size": pending["length"],
                      "user": caller.user, "created": int(time.time()), "channels": channels,
                      "url_private": f"https://files.slack.com/files-pri/{TEAM['id']}-{item['id']}/{pending['filename']}",
                      "permalink": f"https://{TEAM['domain']}.slack.com/files/{caller.user}/{item['id']}"}
            self.files.insert(0, shared)
            done.append(shared)
        if args.get("channel_id"):
            channel = self.channel(str(args["channel_id"]))
            message = self._post(channel, caller.user, str(args.get("initial_comment") or ""),
                                 args.get("thread_ts") or None)
            message["files"] = done
        return {"files": [{"id": f["id"], "title": f["title"]} for f in done]}

    def _resolve(self, channel: str) -> _Channel:
        """chat.postMessage also takes "#name" and a user id (which opens the DM)."""
        if channel.startswith("#"):
            for found in self._channels.values():
                if found.name == channel[1:]:
                    return found
            raise SlackError("channel_not_found")
        if channel in self.users:
            for found in self._channels.values():
                if found.is_im and channel in found.members:
                    return found
            dm = _Channel(f"D0{next(self._ids)}", channel, channel, is_im=True, members=[channel, "U0BOT", "U0ALICE"])
            self._channels[dm.id] = dm
            return dm
        return self.channel(channel)


def _permalink(channel_id: str, ts: str) -> str:
    return f"https://{TEAM['domain']}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


def _in_window(ts: str, args: Args) -> bool:
    inclusive = _bool(args.get("inclusive"))
    value = float(ts)
    if args.get("oldest") and (value < float(args["oldest"]) or (value == float(args["oldest"]) and not inclusive)):
        return False
    return not (args.get("latest") and (value > float(args["latest"]) or
                                        (value == float(args["latest"]) and not inclusive)))


METHODS: dict[str, Callable[[SlackStandIn, Args, Caller], Awaitable[Args]]] = {
    "auth.test": SlackStandIn.auth_test,
    "chat.postMessage": SlackStandIn.post_message,
    "chat.postEphemeral": SlackStandIn.post_ephemeral,
    "chat.update": SlackStandIn.update_message,
    "chat.delete": SlackStandIn.delete_message,
    "chat.scheduleMessage": SlackStandIn.schedule_message,
    "chat.scheduledMessages.list": SlackStandIn.list_scheduled,
    "chat.deleteScheduledMessage": SlackStandIn.delete_scheduled,
    "chat.getPermalink": SlackStandIn.permalink,
    "conversations.history": SlackStandIn.history,
    "conversations.replies": SlackStandIn.replies,
    "conversations.list": SlackStandIn.list_channels,
    "conversations.info": SlackStandIn.channel_info,
    "conversations.create": SlackStandIn.create_channel,
    "conversations.join": SlackStandIn.join,
    "conversations.invite": SlackStandIn.invite,
    "conversations.setTopic": SlackStandIn.set_topic,
    "conversations.members": SlackStandIn.members,
    "conversations.setPurpose": SlackStandIn.set_purpose,
    "conversations.rename": SlackStandIn.rename,
    "conversations.leave": SlackStandIn.leave,
    "conversations.open": SlackStandIn.open_dm,
    "conversations.archive": SlackStandIn.archive,
    "reactions.add": SlackStandIn.add_reaction,
    "reactions.remove": SlackStandIn.remove_reaction,
    "reactions.get": SlackStandIn.get_reactions,
    "pins.add": SlackStandIn.pin,
    "users.list": SlackStandIn.list_users,
    "users.info": SlackStandIn.user_info,
    "users.lookupByEmail": SlackStandIn.lookup_by_email,
    "search.messages": SlackStandIn.search_messages,
    "files.list": SlackStandIn.list_files,
    "files.info": SlackStandIn.file_info,
    "files.getUploadURLExternal": SlackStandIn.upload_url,
    "files.completeUploadExternal": SlackStandIn.complete_upload,
}
