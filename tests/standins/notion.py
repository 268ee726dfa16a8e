"""A local stand-in for api.notion.com (Notion-Version 2025-09-03) for tests of toolkits/notion.

Answers in Notion's wire format: `{"object": "list", "results", "next_cursor", "has_more", "type"}` pages
bounded by `page_size` (max 100) and continued with `start_cursor` (query on GET, body on POST); errors as
`{"object": "error", "status", "code", "message"}`; 400 `missing_version` without a `Notion-Version` header;
401 `unauthorized` for an unknown integration secret; 404 `object_not_found` for pages not shared with the
integration; 429 `rate_limited` with Retry-After (queued by a test with `rate_limit_next`). Pages, blocks and
comments live in memory, so what a test creates shows up in later reads.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from tests.standins.work_base import ApiError, Handler, WorkStandIn, bearer, cursor_page

VERSION = "2025-09-03"
BOT_ID = "b0b0b0b0-0000-4000-8000-000000000001"
WORKSPACE = "Acme HQ"
BLOCK_TYPES = {"paragraph", "to_do", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
               "numbered_list_item", "toggle", "quote", "callout", "code", "divider"}


def notion_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, {"object": "error", "status": status, "code": code, "message": message,
                             "request_id": str(uuid.uuid4())})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _uuid(value: str) -> str:
    """Notion accepts ids with or without dashes; both name the same object."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise notion_error(400, "validation_error", f"path failed validation: {value!r} should be a valid uuid") \
            from None


def _plain(rich: list[dict[str, Any]]) -> str:
    return "".join(part.get("text", {}).get("content", "") for part in rich)


def _rich(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": text, "link": None}, "plain_text": text, "href": None,
             "annotations": {"bold": False, "italic": False, "strikethrough": False, "underline": False,
                             "code": False, "color": "default"}}]


class NotionStandIn(WorkStandIn):
    """Also Notion's OAuth: /v1/oauth/authorize (wants `owner=user`) and /v1/oauth/token, which takes the
    client credentials only as HTTP Basic and the grant only as a JSON body, and answers with the bot and
    workspace beside the access token (no refresh token, no expiry)."""

    public_paths = ("/v1/oauth/",)
    client_id = "notion-client-4b1d"
    client_secret = "secret_notion_client_9f3a"

    def __init__(self, tokens: Mapping[str, str]) -> None:
        """`tokens`: integration secret (or OAuth access token) -> the workspace user who owns it."""
        super().__init__()
        self.secrets = dict(tokens)
        self.codes: dict[str, str] = {}  # code -> redirect_uri
        self.pages: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[str]] = {}
        self.comments: list[dict[str, Any]] = []
        self.users = [self._user(f"u{i:07d}-0000-4000-8000-{i:012d}", f"Person {i}") for i in range(1, 8)]
        self.data_source = str(uuid.uuid5(uuid.NAMESPACE_URL, "notion/tasks"))
        self.source_title = "Tasks"
        self.schema: dict[str, Any] = {"Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
                                       "Status": {"id": "st", "name": "Status", "type": "status", "status": {}}}
        self.home = self._page(None, "Team home", created_by=self.users[0]["id"])
        for i in range(1, 6):
            self._page(self.data_source, f"Task {i}", status="Done" if i % 2 else "In progress")
        for i in range(1, 13):
            self._block(self.home["id"], {"type": "paragraph", "paragraph": {"rich_text": _rich(f"Line {i}")}})

    # wire ----------------------------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/v1/search", self.search), ("GET", "/v1/pages/{id}", self.get_page),
                ("POST", "/v1/pages", self.create_page), ("PATCH", "/v1/pages/{id}", self.update_page),
                ("GET", "/v1/blocks/{id}/children", self.list_children),
                ("PATCH", "/v1/blocks/{id}/children", self.append_children),
                ("GET", "/v1/users", self.list_users), ("GET", "/v1/users/me", self.me),
                ("POST", "/v1/comments", self.create_comment), ("GET", "/v1/comments", self.list_comments),
                ("POST", "/v1/data_sources/{id}/query", self.query_data_source),
                ("PATCH", "/v1/data_sources/{id}", self.update_data_source),
                ("GET", "/v1/data_sources/{id}/templates", self.list_templates),
                ("GET", "/v1/oauth/authorize", self.authorize), ("POST", "/v1/oauth/token", self.token)]

    @property
    def authorize_url(self) -> str:
        return self.url + "/v1/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/v1/oauth/token"

    async def authorize(self, request: Request, who: str) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type") != "code" or q.get("owner") != "user":
            return JSONResponse(notion_error(400, "invalid_request", "client_id, response_type=code and owner=user "
                                             "are required").body, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = q.get("redirect_uri", "")
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return RedirectResponse(f"{q['redirect_uri']}{sep}code={code}&state={q.get('state', '')}", status_code=302)

    async def token(self, request: Request, who: str) -> Response:
        scheme, _, packed = request.headers.get("authorization", "").partition(" ")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if scheme.lower() != "basic" or packed != expected:
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"},
                                status_code=401)
        if "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "invalid_request", "error_description": "body must be JSON"},
                                status_code=400)
        body = await _json(request)
        redirect = self.codes.pop(str(body.get("code")), None)
        if body.get("grant_type") != "authorization_code" or redirect is None or body.get("redirect_uri") != redirect:
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid code."}, status_code=400)
        access = "ntn_oauth_" + secrets.token_urlsafe(12)
        self.secrets[access] = self.users[0]["id"]
        return JSONResponse({"access_token": access, "token_type": "bearer", "bot_id": BOT_ID,
                             "workspace_id": str(uuid.uuid5(uuid.NAMESPACE_URL, WORKSPACE)),
                             "workspace_name": WORKSPACE, "workspace_icon": None, "duplicated_template_id": None,
                             "owner": {"type": "user", "user": self.users[0]}, "request_id": str(uuid.uuid4())})

    def precheck(self, request: Request) -> None:
        if request.headers.get("notion-version") != VERSION:
            raise notion_error(400, "missing_version", "Notion-Version header failed validation: Notion-Version "
                               f"header should be defined, instead was `{request.headers.get('notion-version')}`.")

    def principal(self, request: Request) -> str | None:
        token = bearer(request)
        return self.secrets.get(token) if token else None

    def unauthorized(self, request: Request) -> ApiError:
        return notion_error(401, "unauthorized", "API token is invalid.")

    def not_found(self, request: Request) -> ApiError:
        return notion_error(400, "invalid_request_url", "Invalid request URL.")

    def rate_limit_next(self, times: int = 1, retry_after: str = "1") -> None:
        self.fail_next(429, notion_error(429, "rate_limited", "You have been rate limited. Please try again in a few "
                                         "minutes.").body, {"Retry-After": retry_after}, times)

    # objects -------------------------------------------------------------------------------------------------------

    def _user(self, user_id: str, name: str) -> dict[str, Any]:
        return {"object": "user", "id": user_id, "type": "person", "name": name, "avatar_url": None,
                "person": {"email": f"{name.lower().replace(' ', '.')}@acme.example"}}

    def _page(self, data_source: str | None, title: str, status: str | None = None,
              parent_page: str | None = None, created_by: str = BOT_ID) -> dict[str, Any]:
        page_id = str(uuid.uuid4())
        parent: dict[str, Any]
        if data_source:
            parent = {"type": "data_source_id", "data_source_id": data_source}
            properties: dict[str, Any] = {"Name": {"id": "title", "type": "title", "title": _rich(title)},
                                          "Status": {"id": "st", "type": "status",
                                                     "status": {"name": status or "Not started"}}}
        else:
            parent = {"type": "page_id", "page_id": parent_page} if parent_page else {"type": "workspace",
                                                                                        "workspace": True}
            properties = {"title": {"id": "title", "type": "title", "title": _rich(title)}}
        page = {"object": "page", "id": page_id, "created_time": _now(), "last_edited_time": _now(),
                "created_by": {"object": "user", "id": created_by}, "parent": parent, "in_trash": False,
                "archived": False, "icon": None, "cover": None, "properties": properties,
                "url": f"https://www.notion.so/{title.replace(' ', '-')}-{page_id.replace('-', '')}"}
        self.pages[page_id] = page
        self.children[page_id] = []
        return page

    def _block(self, parent_id: str, data: dict[str, Any]) -> dict[str, Any]:
        kind = data.get("type")
        if kind not in BLOCK_TYPES or not isinstance(data.get(kind), dict):
            raise notion_error(400, "validation_error", f"body failed validation: body.children[].type should be "
                               f"one of {sorted(BLOCK_TYPES)}, instead was `{kind}`.")
        rich = data[kind].get("rich_text")
        if rich is not None and any(len(p.get("text", {}).get("content", "")) > 2000 for p in rich):
            raise notion_error(400, "validation_error", "body failed validation: rich_text.text.content.length "
                               "should be ≤ `2000`.")
        block = {"object": "block", "id": str(uuid.uuid4()), "parent": {"type": "page_id", "page_id": parent_id},
                 "created_time": _now(), "last_edited_time": _now(), "has_children": False, "in_trash": False,
                 "type": kind, kind: data[kind]}
        self.blocks[block["id"]] = block
        self.children.setdefault(parent_id, []).append(block["id"])
        return block

    def _get(self, page_id: str) -> dict[str, Any]:
        page = self.pages.get(_uuid(page_id))
        if page is None:
            raise notion_error(404, "object_not_found", f"Could not find page with ID: {_uuid(page_id)}. Make sure "
                               "the relevant pages and databases are shared with your integration.")
        return page

    # endpoints -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _listing(request: Request, items: list[Any], args: Mapping[str, Any], kind: str) -> Response:
        size = args.get("page_size", 100)
        try:
            size = int(size)
        except (TypeError, ValueError):
            size = 0
        if not 1 <= size <= 100:
            raise notion_error(400, "validation_error", f"body failed validation: page_size should be ≤ `100` and "
                               f"≥ `1`, instead was `{args.get('page_size')}`.")
        chunk, following = cursor_page(items, args.get("start_cursor"), size)
        return JSONResponse({"object": "list", "results": chunk, "next_cursor": following,
                             "has_more": following is not None, "type": kind, kind: {},
                             "request_id": str(uuid.uuid4())})

    async def search(self, request: Request, who: str) -> Response:
        body = await _json(request)
        words = str(body.get("query") or "").lower()
        wanted = (body.get("filter") or {}).get("value")
        found = [p for p in self.pages.values() if not p["in_trash"] and wanted in (None, "page")
                 and words in _title(p).lower()]
        found.sort(key=lambda p: p["last_edited_time"], reverse=True)
        return self._listing(request, found, body, "page_or_data_source")

    async def get_page(self, request: Request, who: str) -> Response:
        return JSONResponse(self._get(request.path_params["id"]))

    async def create_page(self, request: Request, who: str) -> Response:
        body = await _json(request)
        parent, properties = body.get("parent"), body.get("properties")
        if not isinstance(parent, dict) or not isinstance(properties, dict):
            raise notion_error(400, "validation_error", "body failed validation: body.parent should be defined, "
                               "instead was `undefined`.")
        title = next((_plain(v["title"]) for v in properties.values() if isinstance(v, dict) and "title" in v), None)
        if title is None:
            raise notion_error(400, "validation_error", "Title is not provided")
        if parent.get("type") == "data_source_id" or "data_source_id" in parent:
            if parent.get("data_source_id") != self.data_source:
                raise notion_error(404, "object_not_found", "Could not find data_source with ID: "
                                   f"{parent.get('data_source_id')}.")
            status = (properties.get("Status") or {}).get("status", {}).get("name")
            page = self._page(self.data_source, title, status=status)
        else:
            page = self._page(None, title, parent_page=self._get(str(parent.get("page_id")))["id"])
        for child in body.get("children") or []:
            self._block(page["id"], child)
        return JSONResponse(page)

    async def update_page(self, request: Request, who: str) -> Response:
        page = self._get(request.path_params["id"])
        body = await _json(request)
        for name, value in (body.get("properties") or {}).items():
            if name not in page["properties"]:
                raise notion_error(400, "validation_error", f"{name} is not a property that exists.")
            page["properties"][name].update(value)
        for key in ("icon", "cover", "in_trash"):
            if key in body:
                page[key] = body[key]
        page["archived"] = page["in_trash"]
        page["last_edited_time"] = _now()
        return JSONResponse(page)

    async def list_children(self, request: Request, who: str) -> Response:
        parent = _uuid(request.path_params["id"])
        if parent not in self.children:
            raise notion_error(404, "object_not_found", f"Could not find block with ID: {parent}.")
        items = [self.blocks[b] for b in self.children[parent]]
        return self._listing(request, items, dict(request.query_params), "block")

    async def append_children(self, request: Request, who: str) -> Response:
        parent = self._get(request.path_params["id"])["id"]
        children = (await _json(request)).get("children")
        if not isinstance(children, list) or not 1 <= len(children) <= 100:
            raise notion_error(400, "validation_error", "body failed validation: body.children.length should be "
                               "≤ `100`.")
        made = [self._block(parent, child) for child in children]
        return JSONResponse({"object": "list", "results": made, "next_cursor": None, "has_more": False,
                             "type": "block", "block": {}})

    async def list_users(self, request: Request, who: str) -> Response:
        return self._listing(request, self.users, dict(request.query_params), "user")

    async def me(self, request: Request, who: str) -> Response:
        return JSONResponse({"object": "user", "id": BOT_ID, "type": "bot", "name": "Concierge", "avatar_url": None,
                             "bot": {"owner": {"type": "user", "user": {"object": "user", "id": who}},
                                     "workspace_name": WORKSPACE}})

    async def create_comment(self, request: Request, who: str) -> Response:
        body = await _json(request)
        page = self._get(str((body.get("parent") or {}).get("page_id")))
        rich = body.get("rich_text")
        if not isinstance(rich, list) or not rich:
            raise notion_error(400, "validation_error", "body failed validation: body.rich_text should be defined.")
        comment = {"object": "comment", "id": str(uuid.uuid4()), "parent": {"type": "page_id", "page_id": page["id"]},
                   "discussion_id": str(uuid.uuid4()), "created_time": _now(), "last_edited_time": _now(),
                   "created_by": {"object": "user", "id": BOT_ID}, "rich_text": _rich(_plain(rich))}
        self.comments.append(comment)
        return JSONResponse(comment)

    async def list_comments(self, request: Request, who: str) -> Response:
        block = _uuid(request.query_params.get("block_id", ""))
        items = [c for c in self.comments if c["parent"]["page_id"] == block]
        return self._listing(request, items, dict(request.query_params), "comment")

    def _source(self, request: Request) -> str:
        if _uuid(request.path_params["id"]) != self.data_source:
            raise notion_error(404, "object_not_found", "Could not find data_source with ID: "
                               f"{request.path_params['id']}.")
        return self.data_source

    async def update_data_source(self, request: Request, who: str) -> Response:
        self._source(request)
        body = await _json(request)
        for name, change in (body.get("properties") or {}).items():
            if change is None:
                self.schema.pop(name, None)
            else:
                self.schema[name] = {"id": name[:4].lower(), "name": name, "type": next(iter(change)), **change}
        if "title" in body:
            self.source_title = _plain(body["title"])
        return JSONResponse({"object": "data_source", "id": self.data_source, "title": _rich(self.source_title),
                             "properties": self.schema, "parent": {"type": "database_id",
                                                                   "database_id": str(uuid.uuid4())}})

    async def list_templates(self, request: Request, who: str) -> Response:
        self._source(request)
        templates = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"tpl-{n}")), "name": n, "is_default": i == 0}
                     for i, n in enumerate(["Bug report", "Feature request", "Meeting notes"])]
        chunk, following = cursor_page(templates, request.query_params.get("start_cursor"),
                                       int(request.query_params.get("page_size") or 100))
        return JSONResponse({"templates": chunk, "has_more": following is not None, "next_cursor": following})

    async def query_data_source(self, request: Request, who: str) -> Response:
        if _uuid(request.path_params["id"]) != self.data_source:
            raise notion_error(404, "object_not_found", "Could not find data_source with ID: "
                               f"{request.path_params['id']}.")
        body = await _json(request)
        rows = [p for p in self.pages.values() if p["parent"].get("data_source_id") == self.data_source]
        wanted = body.get("filter") or {}
        if wanted:
            if wanted.get("property") != "Status" or "equals" not in (wanted.get("status") or {}):
                raise notion_error(400, "validation_error", "Could not find property with name or id: "
                                   f"{wanted.get('property')}")
            rows = [p for p in rows if p["properties"]["Status"]["status"]["name"] == wanted["status"]["equals"]]
        return self._listing(request, rows, body, "page_or_data_source")


def _title(page: dict[str, Any]) -> str:
    return next((_plain(v["title"]) for v in page["properties"].values() if v.get("type") == "title"), "")


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise notion_error(400, "invalid_json", "Error parsing JSON body.") from None
    if not isinstance(body, dict):
        raise notion_error(400, "invalid_json", "Error parsing JSON body.")
    return body
