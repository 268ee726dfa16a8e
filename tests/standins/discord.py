"""A local stand-in for discord.com/api/v10 that speaks Discord's wire format, for end-to-end tests of
toolkits/discord.

Bots authenticate with `Authorization: Bot <token>` and user OAuth tokens with `Bearer` (those reach only
/users/@me and /users/@me/guilds, as on Discord); ids are snowflake strings; errors are
`{"message", "code"}` (validation errors add the nested `errors` map); message lists come newest first and
page with `before`/`after`/`limit`; a rate limit is 429 with `Retry-After`, `X-RateLimit-*` headers and
`{"message", "retry_after", "global"}` in the body. State is kept in memory and every request recorded.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.live import ThreadedServer

GUILD = "1093440000000000001"
GENERAL, RELEASES, VOICE = "1093445810413027450", "1093445810413027451", "1093445810413027452"
BOT_USER: dict[str, Any] = {"id": "1093440000000000009", "username": "concierge", "global_name": None,
                            "discriminator": "0", "avatar": None, "bot": True}
Json = dict[str, Any]


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def _unknown(kind: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {kind}")


def _invalid(field: str, code: str, message: str) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body",
                        {field: {"_errors": [{"code": code, "message": message}]}})


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # as sent, percent-encoding kept
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class DiscordStandIn(ThreadedServer):
    """`with DiscordStandIn(bot_token="...") as discord:` serves on `discord.base_url` (…/api/v10)."""

    def __init__(self, bot_token: str, user_tokens: dict[str, str] | None = None,
                 verify: Callable[[str], Json | None] | None = None) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.user_tokens = dict(user_tokens or {})  # OAuth bearer token -> user id
        self.verify = verify  # or ask an authorization server (OAuthServer.verify: token -> {"user": name})
        self.requests: list[Recorded] = []
        self._limits: list[float] = []
        self._ids = itertools.count(1093446000000000000)
        self._seed()

    @property
    def base_url(self) -> str:
        return self.url + "/api/v10"

    def start(self) -> DiscordStandIn:
        p = "/api/v10"
        routes: list[tuple[str, str, Callable[..., Awaitable[Any]]]] = [
            ("GET", "/users/@me", self.me),
            ("GET", "/users/@me/guilds", self.my_guilds),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/guilds/{guild_id}", self.guild),
            ("GET", "/guilds/{guild_id}/channels", self.guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.roles),
            ("GET", "/guilds/{guild_id}/members", self.members),
            ("GET", "/guilds/{guild_id}/members/search", self.search_members),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.send),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.react),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.unreact),
            ("POST", "/channels/{channel_id}/threads", self.create_thread),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message),
        ]
        self.serve(lambda: Starlette(routes=[Route(p + path, self._endpoint(handler, path in USER_PATHS),
                                                   methods=[method]) for method, path, handler in routes]))
        return self

    def __enter__(self) -> DiscordStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rate_limit_next(self, retry_after: float = 0.3) -> None:
        self._limits.append(retry_after)

    # -- the world ---------------------------------------------------------------------------------------

    def _seed(self) -> None:
        people = [("80351110224678912", "alice", "Alice"), ("80351110224678913", "alistair", "Al"),
                  ("80351110224678914", "bob", None)]
        self.users: dict[str, Json] = {uid: {"id": uid, "username": name, "global_name": display, "discriminator": "0",
                            "avatar": None} for uid, name, display in people}
        self.users[BOT_USER["id"]] = BOT_USER
        owner = people[0][0]
        self.guilds: dict[str, Json] = {
            GUILD: {"id": GUILD, "name": "Stand-in Community", "icon": None, "owner_id": owner,
                    "description": "A server for tests", "features": ["COMMUNITY"], "roles": [], "emojis": [],
                    "preferred_locale": "en-US"},
            "1093440000000000002": {"id": "1093440000000000002", "name": "Side Project", "icon": None,
                                    "owner_id": owner, "description": None, "features": [], "roles": [],
                                    "emojis": [], "preferred_locale": "en-US"}}
        self.roles_by_guild: dict[str, list[Json]] = {GUILD: [
            {"id": GUILD, "name": "@everyone", "color": 0, "position": 0, "permissions": "1071698660929",
             "hoist": False, "mentionable": False},
            {"id": "1093440000000000100", "name": "Maintainers", "color": 5814783, "position": 1, "permissions": "8",
             "hoist": True, "mentionable": True}]}
        self.channels: dict[str, Json] = {
            GENERAL: self._channel(GENERAL, 0, "general", "Say hi", 0),
            RELEASES: self._channel(RELEASES, 5, "releases", "Release announcements", 1),
            VOICE: self._channel(VOICE, 2, "Lounge", None, 2),
        }
        self.messages: dict[str, list[Json]] = {GENERAL: [], RELEASES: [], VOICE: []}  # oldest first
        for i in range(1, 8):
            self._create(GENERAL, self.users[people[i % 2][0]], f"Message number {i}")

    def _channel(self, cid: str, kind: int, name: str, topic: str | None, position: int) -> Json:
        return {"id": cid, "type": kind, "guild_id": GUILD, "name": name, "topic": topic, "position": position,
                "parent_id": None, "nsfw": False, "last_message_id": None, "rate_limit_per_user": 0,
                "permission_overwrites": []}

    def _snowflake(self) -> str:
        return str(next(self._ids))

    def _create(self, channel_id: str, author: Json, content: str, data: Json | None = None) -> Json:
        data = data or {}
        message = {"id": self._snowflake(), "type": 19 if data.get("message_reference") else 0,
                   "channel_id": channel_id, "author": author, "content": content,
                   "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None, "tts": bool(data.get("tts")),
                   "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
                   "embeds": data.get("embeds") or [], "pinned": False, "flags": 0, "components": []}
        if data.get("message_reference"):
            message["message_reference"] = {"type": 0, "channel_id": channel_id, "guild_id": GUILD,
                                            "message_id": data["message_reference"]["message_id"]}
        self.messages.setdefault(channel_id, []).append(message)
        self.channels[channel_id]["last_message_id"] = message["id"]
        return message

    def _find_channel(self, channel_id: str) -> Json:
        if channel_id not in self.channels:
            raise _unknown("Channel", 10003)
        return self.channels[channel_id]

    def _find_message(self, channel_id: str, message_id: str) -> Json:
        self._find_channel(channel_id)
        for message in self.messages.get(channel_id, []):
            if message["id"] == message_id:
                return message
        raise _unknown("Message", 10008)

    def _find_guild(self, guild_id: str) -> Json:
        if guild_id not in self.guilds:
            raise _unknown("Guild", 10004)
        return self.guilds[guild_id]

    # -- plumbing ----------------------------------------------------------------------------------------

    def _endpoint(self, handler: Callable[..., Awaitable[Any]],
                  user_ok: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return JSONResponse({"message": "400: Bad Request", "code": 0}, status_code=400)
            self.requests.append(Recorded(request.method, request.scope.get("raw_path", b"").decode(),
                                          dict(request.query_params), dict(request.headers), body))
            if request.method in ("POST", "PUT", "PATCH") and "content-length" not in request.headers \
                    and "transfer-encoding" not in request.headers:
                return JSONResponse({"message": "411: Length Required", "code": 0}, status_code=411)
            if self._limits:
                wait = self._limits.pop(0)
                return JSONResponse({"message": "You are being rate limited.", "retry_after": wait, "global": False},
                                    status_code=429, headers={"Retry-After": str(max(1, round(wait))),
                                                              "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                                                              "X-RateLimit-Reset-After": str(wait),
                                                              "X-RateLimit-Scope": "user"})
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme == "Bot" and token == self.bot_token:
                caller = BOT_USER
            elif scheme == "Bearer" and user_ok and (user := self._signed_in(token)) is not None:
                caller = user
            else:
                return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
            try:
                answer = await handler(request, caller, body if isinstance(body, dict) else {})
            except DiscordError as exc:
                error: Json = {"message": exc.message, "code": exc.code}
                if exc.errors:
                    error["errors"] = exc.errors
                return JSONResponse(error, status_code=exc.status)
            if answer is None:
                return Response(status_code=204)
            return JSONResponse(answer)

        return endpoint

    def _signed_in(self, token: str) -> Json | None:
        """The user an OAuth bearer token belongs to (a known user by username, else a new one)."""
        if token in self.user_tokens:
            return self.users[self.user_tokens[token]]
        info = self.verify(token) if self.verify else None
        if not info:
            return None
        for user in self.users.values():
            if user["username"] == info["user"]:
                return user
        uid = str(80351110224670000 + len(self.users))
        self.users[uid] = {"id": uid, "username": str(info["user"]), "global_name": None, "discriminator": "0",
                           "avatar": None}
        return self.users[uid]

    # -- endpoints ---------------------------------------------------------------------------------------

    async def me(self, request: Request, caller: Json, body: Json) -> Json:
        return caller

    async def my_guilds(self, request: Request, caller: Json, body: Json) -> list[Json]:
        q = request.query_params
        limit = min(max(int(q.get("limit", 200)), 1), 200)
        found = [{"id": g["id"], "name": g["name"], "icon": None, "owner": caller["id"] == g["owner_id"],
                  "permissions": "2248473465835073", "features": g["features"]}
                 for g in sorted(self.guilds.values(), key=lambda g: int(g["id"]))
                 if int(g["id"]) > int(q.get("after", "0"))]
        return found[:limit]

    async def create_dm(self, request: Request, caller: Json, body: Json) -> Json:
        recipient = self.users.get(str(body.get("recipient_id", "")))
        if recipient is None:
            raise _invalid("recipient_id", "USER_NOT_FOUND", "Unknown user")
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == recipient["id"]:
                return channel
        channel = {"id": self._snowflake(), "type": 1, "last_message_id": None, "flags": 0,
                   "recipients": [recipient]}
        self.channels[channel["id"]] = channel
        self.messages[channel["id"]] = []
        return channel

    async def guild(self, request: Request, caller: Json, body: Json) -> Json:
        guild = dict(self._find_guild(request.path_params["guild_id"]))
        guild["roles"] = self.roles_by_guild.get(guild["id"], [])
        if request.query_params.get("with_counts") == "true":
            guild |= {"approximate_member_count": len(self.users), "approximate_presence_count": 2}
        return guild

    async def guild_channels(self, request: Request, caller: Json, body: Json) -> list[Json]:
        guild = self._find_guild(request.path_params["guild_id"])
        return [c for c in self.channels.values() if c.get("guild_id") == guild["id"] and c["type"] not in (11, 12)]

    async def roles(self, request: Request, caller: Json, body: Json) -> list[Json]:
        return self.roles_by_guild.get(self._find_guild(request.path_params["guild_id"])["id"], [])

    def _member(self, user: Json) -> Json:
        return {"user": user, "nick": None, "roles": [], "joined_at": "2026-01-05T10:00:00+00:00", "deaf": False,
                "mute": False, "flags": 0}

    async def members(self, request: Request, caller: Json, body: Json) -> list[Json]:
        self._find_guild(request.path_params["guild_id"])
        q = request.query_params
        limit = min(max(int(q.get("limit", 1)), 1), 1000)
        people = sorted(self.users.values(), key=lambda u: int(u["id"]))
        return [self._member(u) for u in people if int(u["id"]) > int(q.get("after", "0"))][:limit]

    async def search_members(self, request: Request, caller: Json, body: Json) -> list[Json]:
        self._find_guild(request.path_params["guild_id"])
        q = request.query_params
        if not q.get("query"):
            raise _invalid("query", "BASE_TYPE_REQUIRED", "This field is required")
        prefix = q["query"].lower()
        matches = [self._member(u) for u in self.users.values()
                   if u["username"].startswith(prefix) or (u["global_name"] or "").lower().startswith(prefix)]
        return matches[:min(max(int(q.get("limit", 1)), 1), 1000)]

    async def get_channel(self, request: Request, caller: Json, body: Json) -> Json:
        return self._find_channel(request.path_params["channel_id"])

    async def list_messages(self, request: Request, caller: Json, body: Json) -> list[Json]:
        channel = self._find_channel(request.path_params["channel_id"])
        q = request.query_params
        limit = int(q.get("limit", 50))
        if not 1 <= limit <= 100:
            raise _invalid("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
        newest_first = list(reversed(self.messages.get(channel["id"], [])))
        if "before" in q:
            newest_first = [m for m in newest_first if int(m["id"]) < int(q["before"])]
        if "after" in q:
            newest_first = [m for m in newest_first if int(m["id"]) > int(q["after"])]
        return newest_first[:limit]

    async def send(self, request: Request, caller: Json, body: Json) -> Json:
        channel = self._find_channel(request.path_params["channel_id"])
        content = body.get("content") or ""
        if not content and not body.get("embeds"):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        if len(content) > 2000:
            raise _invalid("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        if channel["type"] == 2:
            raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        if body.get("message_reference"):
            self._find_message(channel["id"], str(body["message_reference"].get("message_id")))
        return self._create(channel["id"], caller, content, body)

    async def get_message(self, request: Request, caller: Json, body: Json) -> Json:
        return self._find_message(request.path_params["channel_id"], request.path_params["message_id"])

    async def edit(self, request: Request, caller: Json, body: Json) -> Json:
        message = self._find_message(request.path_params["channel_id"], request.path_params["message_id"])
        if message["author"]["id"] != caller["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        if "content" in body:
            message["content"] = body["content"]
        if "embeds" in body:
            message["embeds"] = body["embeds"]
        message["edited_timestamp"] = datetime.now(UTC).isoformat()
        return message

    async def delete(self, request: Request, caller: Json, body: Json) -> None:
        message = self._find_message(request.path_params["channel_id"], request.path_params["message_id"])
        self.messages[message["channel_id"]].remove(message)

    async def react(self, request: Request, caller: Json, body: Json) -> None:
        message = self._find_message(request.path_params["channel_id"], request.path_params["message_id"])
        emoji = unquote(request.path_params["emoji"])
        if ":" in emoji and not emoji.rsplit(":", 1)[1].isdigit():
            raise DiscordError(400, 10014, "Unknown Emoji")
        reactions = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["emoji"]["name"] == emoji:
                reaction["count"] += 0 if reaction["me"] else 1
                reaction["me"] = True
                return
        reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})

    async def unreact(self, request: Request, caller: Json, body: Json) -> None:
        message = self._find_message(request.path_params["channel_id"], request.path_params["message_id"])
        emoji = unquote(request.path_params["emoji"])
        for reaction in message.get("reactions", []):
            if reaction["emoji"]["name"] == emoji and reaction["me"]:
                reaction["count"] -= 1
                reaction["me"] = False
        message["reactions"] = [r for r in message.get("reactions", []) if r["count"] > 0]

    def _new_thread(self, parent: Json, caller: Json, body: Json, kind: int, thread_id: str | None = None) -> Json:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise _invalid("name", "BASE_TYPE_REQUIRED", "This field is required")
        if body.get("auto_archive_duration", 1440) not in (60, 1440, 4320, 10080):
            raise _invalid("auto_archive_duration", "BASE_TYPE_CHOICES",
                           "Value must be one of {60, 1440, 4320, 10080}.")
        thread = self._channel(thread_id or self._snowflake(), kind, name, None, 0) | {
            "parent_id": parent["id"], "owner_id": caller["id"], "member_count": 1, "message_count": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": body.get("auto_archive_duration", 1440),
                                "archive_timestamp": datetime.now(UTC).isoformat(), "locked": False}}
        self.channels[thread["id"]] = thread
        self.messages[thread["id"]] = []
        return thread

    async def create_thread(self, request: Request, caller: Json, body: Json) -> Json:
        parent = self._find_channel(request.path_params["channel_id"])
        kind = body.get("type", 12)  # Discord's default here is a private thread
        if kind not in (10, 11, 12) or parent["type"] not in (0, 5):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        return self._new_thread(parent, caller, body, kind)

    async def thread_from_message(self, request: Request, caller: Json, body: Json) -> Json:
        message = self._find_message(request.path_params["channel_id"], request.path_params["message_id"])
        if message.get("thread"):
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        thread = self._new_thread(self.channels[message["channel_id"]], caller, body, 11, thread_id=message["id"])
        message["thread"] = thread
        return thread


USER_PATHS = {"/users/@me", "/users/@me/guilds"}
