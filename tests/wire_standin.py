"""A small local API answering in the wire formats of five provider families, for the executor's
pagination, rate-limit and error-body tests: Slack (cursor in `response_metadata`, 200 `ok:false`),
Google (`pageToken`/`nextPageToken`, `{"error": {"message"}}`), Jira (`startAt`/`total`,
`errorMessages` + `errors`), GraphQL (`pageInfo`, `errors[]` with 200) and GitHub (Link headers).

`fail_next(path, status, headers, body)` queues answers a path gives before its normal one, so a
test can make it rate-limit once, twice, or longer than the retry budget allows.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ITEMS = [{"id": f"m{i}", "text": f"message {i}"} for i in range(1, 8)]  # 7 items on every list


class WireStandin:
    def __init__(self) -> None:
        self.queued: dict[str, list[tuple[int, dict[str, str], Any]]] = defaultdict(list)
        self.requests: list[dict[str, Any]] = []

    def fail_next(self, path: str, status: int, headers: dict[str, str] | None = None, body: Any = None) -> None:
        self.queued[path].append((status, headers or {}, body))

    async def _seen(self, request: Request) -> Response | None:
        body = await request.body()
        self.requests.append({"path": request.url.path, "query": dict(request.query_params), "body": body.decode(),
                              "headers": dict(request.headers)})
        if self.queued[request.url.path]:
            status, headers, payload = self.queued[request.url.path].pop(0)
            return JSONResponse(payload, status_code=status, headers=headers)
        return None

    async def slack_history(self, request: Request) -> Response:
        if (early := await self._seen(request)) is not None:
            return early
        form = dict(await request.form()) if request.method == "POST" else dict(request.query_params)
        if form.get("channel") == "C404":
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        start = int(base64.b64decode(str(form["cursor"])).decode().split(":")[1]) if form.get("cursor") else 0
        limit = int(form.get("limit") or 100)
        page = ITEMS[start:start + limit]
        more = start + limit < len(ITEMS)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return JSONResponse({"ok": True, "messages": page, "has_more": more,
                             "response_metadata": {"next_cursor": cursor}})

    async def google_messages(self, request: Request) -> Response:
        if (early := await self._seen(request)) is not None:
            return early
        q = request.query_params
        if q.get("q") == "missing":
            return JSONResponse({"error": {"code": 404, "message": "Requested entity was not found.",
                                           "status": "NOT_FOUND"}}, status_code=404)
        start = int(q["pageToken"][1:]) if q.get("pageToken") else 0
        size = int(q.get("maxResults") or 100)
        body: dict[str, Any] = {"messages": ITEMS[start:start + size], "resultSizeEstimate": len(ITEMS)}
        if start + size < len(ITEMS):
            body["nextPageToken"] = f"t{start + size}"
        return JSONResponse(body)

    async def google_send(self, request: Request) -> Response:
        if (early := await self._seen(request)) is not None:
            return early
        raw = (await request.json())["raw"]
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        return JSONResponse({"id": "msg_1", "labelIds": ["SENT"], "echo": text})

    async def jira_search(self, request: Request) -> Response:
        if (early := await self._seen(request)) is not None:
            return early
        q = request.query_params
        if q.get("jql") == "project = NOPE":
            return JSONResponse({"errorMessages": ["The value 'NOPE' does not exist for the field 'project'."],
                                 "errors": {}}, status_code=400)
        if q.get("jql") == "bad fields":
            return JSONResponse({"errorMessages": [], "errors": {"summary": "You must specify a summary."}},
                                status_code=400)
        start, size = int(q.get("startAt") or 0), int(q.get("maxResults") or 50)
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(ITEMS),
                             "issues": ITEMS[start:start + size]})

    async def graphql(self, request: Request) -> Response:
        if (early := await self._seen(request)) is not None:
            return early
        payload = await request.json()
        variables = payload.get("variables") or {}
        if variables.get("filter") == "bad":
            return JSONResponse({"data": None, "errors": [{"message": "Argument Validation Error",
                                                           "extensions": {"code": "INVALID_INPUT"}}]})
        start = int(variables["after"][1:]) if variables.get("after") else 0
        first = int(variables.get("first") or 50)
        page = ITEMS[start:start + first]
        more = start + first < len(ITEMS)
        return JSONResponse({"data": {"issues": {"nodes": page, "pageInfo": {
            "hasNextPage": more, "endCursor": f"c{start + first}" if page else None}}}})

    async def github_issues(self, request: Request) -> Response:
        if (early := await self._seen(request)) is not None:
            return early
        page = int(request.query_params.get("page") or 1)
        size = int(request.query_params.get("per_page") or 30)
        items = ITEMS[(page - 1) * size:page * size]
        headers = {}
        if page * size < len(ITEMS):
            headers["Link"] = (f'<{request.url.include_query_params(page=page + 1)}>; rel="next", '
                               f'<{request.url.include_query_params(page=1)}>; rel="first"')
        return JSONResponse(items, headers=headers)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/slack/api/conversations.history", self.slack_history, methods=["GET", "POST"]),
            Route("/gmail/v1/users/me/messages", self.google_messages),
            Route("/gmail/v1/users/me/messages/send", self.google_send, methods=["POST"]),
            Route("/rest/api/3/search", self.jira_search),
            Route("/graphql", self.graphql, methods=["POST"]),
            Route("/repos/{owner}/{repo}/issues", self.github_issues),
        ])
