"""A local stand-in for Atlassian: Jira Cloud's REST API v3 and Atlassian's OAuth 2.0 (3LO) server.

Jira answers under two prefixes, as the real one does: `/sites/{site}/rest/api/3` stands for
https://{site}.atlassian.net/rest/api/3 (HTTP Basic with email + API token) and
`/ex/jira/{cloud_id}/rest/api/3` for https://api.atlassian.com/ex/jira/{cloud_id}/rest/api/3 (OAuth bearer
token, only for the cloud id the token was granted). Errors are `{"errorMessages": [...], "errors": {field:
message}}`; lists page with `startAt`/`maxResults`/`total`, and `/search/jql` with `nextPageToken`/`isLast`;
a rate limit is 429 with Retry-After (`rate_limit_next`). Descriptions and comments must be Atlassian
Document Format, as Jira v3 insists.

The OAuth side keeps Atlassian's quirks: `/authorize` refuses a request without `audience=api.atlassian.com`,
the token endpoint takes a JSON body, a refresh token is issued only with `offline_access` and rotates (the
old one dies on use), and `/oauth/token/accessible-resources` lists the sites (cloud ids) a token may use.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from tests.standins.work_base import ApiError, Handler, WorkStandIn

AUDIENCE = "api.atlassian.com"
STATUSES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}


def jira_error(status: int, messages: list[str] | None = None, errors: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(status, {"errorMessages": list(messages or []), "errors": dict(errors or {})})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1 \
        and isinstance(value.get("content"), list)


class AtlassianStandIn(WorkStandIn):
    public_paths = ("/authorize", "/oauth/token")
    client_id = "atlassian-client-77"
    client_secret = "atlassian-secret-8c2e"

    def __init__(self, site: str = "acme", email: str = "ada@acme.example", api_token: str = "ATATT3xFfGF0-token") \
            -> None:
        super().__init__()
        self.site, self.email, self.api_token = site, email, api_token
        self.cloud_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{site}.atlassian.net"))
        self.account_id = "5b10ac8d82e05b22cc7d4ef5"
        self.codes: dict[str, dict[str, str]] = {}
        self.access_tokens: dict[str, str] = {}  # token -> cloud id it may use
        self.refresh_tokens: set[str] = set()
        self.projects = [{"id": str(10000 + i), "key": key, "name": name, "projectTypeKey": "software",
                          "simplified": False, "style": "classic", "isPrivate": False}
                         for i, (key, name) in enumerate([("ENG", "Engineering"), ("OPS", "Operations"),
                                                          ("WEB", "Website"), ("MOB", "Mobile app")])]
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.worklogs: dict[str, list[dict[str, Any]]] = {}
        for i in range(1, 8):
            self._create({"project": {"key": "ENG"}, "issuetype": {"name": "Task"}, "summary": f"Seeded task {i}",
                          "assignee": {"accountId": self.account_id} if i % 2 else None}, status="To Do" if i > 2
                         else "In Progress")
        for i in range(1, 6):
            self._comment("ENG-1", f"Comment {i}")

    # routing and credentials ---------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        jira: list[tuple[str, str, Handler]] = [
                ("GET", "/search/jql", self.search), ("GET", "/issue/{key}", self.get_issue),
                ("POST", "/issue", self.create_issue), ("PUT", "/issue/{key}", self.edit_issue),
                ("DELETE", "/issue/{key}", self.delete_issue),
                ("GET", "/issue/{key}/transitions", self.get_transitions),
                ("POST", "/issue/{key}/transitions", self.transition),
                ("PUT", "/issue/{key}/assignee", self.assign),
                ("GET", "/issue/{key}/comment", self.list_comments), ("POST", "/issue/{key}/comment", self.add_comment),
                ("POST", "/issue/{key}/worklog", self.add_worklog), ("GET", "/project/search", self.list_projects),
                ("GET", "/project/{key}", self.get_project), ("GET", "/myself", self.myself),
                ("PUT", "/issue/{key}/comment/{id}", self.update_comment),
                ("DELETE", "/issue/{key}/comment/{id}", self.delete_comment),
                ("GET", "/issue/{key}/watchers", self.watchers), ("GET", "/status", self.statuses),
                ("GET", "/user/assignable/search", self.assignable)]
        prefixes = ("/sites/{site}/rest/api/3", "/ex/jira/{cloud_id}/rest/api/3")
        return [(m, prefix + path, h) for prefix in prefixes for m, path, h in jira] + [
            ("GET", "/authorize", self.authorize), ("POST", "/oauth/token", self.token),
            ("GET", "/oauth/token/accessible-resources", self.accessible_resources)]

    def principal(self, request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        params = request.path_params
        if scheme.lower() == "basic" and "site" in params:
            try:
                email, _, token = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            ok = params["site"] == self.site and email == self.email and token == self.api_token
            return self.account_id if ok else None
        if scheme.lower() == "bearer" and value in self.access_tokens:
            allowed = self.access_tokens[value]
            if "cloud_id" in params and params["cloud_id"] != allowed:
                return None
            return self.account_id if "site" not in params else None
        return None

    def unauthorized(self, request: Request) -> ApiError:
        return jira_error(401, ["You are not authenticated. Authentication required to perform this operation."])

    def not_found(self, request: Request) -> ApiError:
        return jira_error(404, ["null for uri: " + str(request.url)])

    def rate_limit_next(self, times: int = 1, retry_after: str = "1") -> None:
        self.fail_next(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                       {"Retry-After": retry_after, "X-RateLimit-Reason": "jira-quota-tenant-based"}, times)

    def expire_access_tokens(self) -> None:
        """Every access token stops working (an hour passed); refresh tokens stay valid."""
        self.access_tokens.clear()

    @property
    def authorize_url(self) -> str:
        return self.url + "/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/oauth/token"

    @property
    def resources_url(self) -> str:
        return self.url + "/oauth/token/accessible-resources"

    # OAuth 2.0 (3LO) -----------------------------------------------------------------------------------------------

    async def authorize(self, request: Request, who: str) -> Response:
        q = request.query_params
        if q.get("audience") != AUDIENCE or q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request",
                                 "error_description": "audience=api.atlassian.com, client_id and response_type=code "
                                                      "are required"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"redirect_uri": q["redirect_uri"], "scope": q.get("scope", "")}
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return RedirectResponse(f"{q['redirect_uri']}{sep}code={code}&state={q.get('state', '')}", status_code=302)

    async def token(self, request: Request, who: str) -> Response:
        if "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "invalid_request", "error_description": "expected a JSON body"},
                                status_code=415)
        body = await request.json()
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "access_denied", "error_description": "Unauthorized"}, status_code=401)
        if body.get("grant_type") == "authorization_code":
            grant = self.codes.pop(str(body.get("code")), None)
            if grant is None or grant["redirect_uri"] != body.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant", "error_description": "Invalid authorization code"},
                                    status_code=403)
            scope = grant["scope"]
        elif body.get("grant_type") == "refresh_token" and body.get("refresh_token") in self.refresh_tokens:
            self.refresh_tokens.discard(body["refresh_token"])  # rotating: the old one dies
            scope = "read:jira-work write:jira-work read:jira-user offline_access"
        else:
            return JSONResponse({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."},
                                status_code=403)
        access = "eyJ" + secrets.token_urlsafe(24)
        self.access_tokens[access] = self.cloud_id
        answer: dict[str, Any] = {"access_token": access, "expires_in": 3600, "token_type": "Bearer", "scope": scope}
        if "offline_access" in scope.split():
            answer["refresh_token"] = secrets.token_urlsafe(24)
            self.refresh_tokens.add(answer["refresh_token"])
        return JSONResponse(answer)

    async def accessible_resources(self, request: Request, who: str) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.access_tokens:
            return JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)
        return JSONResponse([{"id": self.cloud_id, "url": f"https://{self.site}.atlassian.net", "name": self.site,
                              "scopes": ["read:jira-work", "write:jira-work", "read:jira-user"],
                              "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/x.png"}])

    # Jira objects --------------------------------------------------------------------------------------------------

    def _user(self) -> dict[str, Any]:
        return {"accountId": self.account_id, "displayName": "Ada Lovelace", "emailAddress": self.email,
                "active": True, "timeZone": "Europe/London", "accountType": "atlassian"}

    def _create(self, fields: dict[str, Any], status: str = "To Do") -> dict[str, Any]:
        errors = {}
        project = next((p for p in self.projects if p["key"] == (fields.get("project") or {}).get("key")), None)
        if project is None:
            errors["project"] = "Specify a valid project ID or key"
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        if (fields.get("issuetype") or {}).get("name") not in ("Task", "Bug", "Story", "Epic", "Subtask"):
            errors["issuetype"] = "Specify an issue type"
        if "description" in fields and not _is_adf(fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if errors:
            raise jira_error(400, [], errors)
        assert project is not None
        number = sum(1 for i in self.issues.values() if i["fields"]["project"]["key"] == project["key"]) + 1
        key = f"{project['key']}-{number}"
        issue_id = str(10000 + len(self.issues) + 1)
        issue = {"id": issue_id, "key": key, "self": f"https://{self.site}.atlassian.net/rest/api/3/issue/{issue_id}",
                 "fields": {"summary": fields["summary"], "project": project, "issuetype": fields["issuetype"],
                            "description": fields.get("description"), "labels": fields.get("labels", []),
                            "priority": fields.get("priority") or {"name": "Medium"}, "duedate": fields.get("duedate"),
                            "assignee": self._user() if fields.get("assignee") else None, "reporter": self._user(),
                            "status": {"name": status, "statusCategory": {"key": STATUSES[status]}},
                            "created": _now(), "updated": _now()}}
        self.issues[key] = issue
        self.comments[key], self.worklogs[key] = [], []
        return issue

    def _issue(self, request: Request) -> dict[str, Any]:
        key = request.path_params["key"]
        found = self.issues.get(key) or next((i for i in self.issues.values() if i["id"] == key), None)
        if found is None:
            raise jira_error(404, ["Issue does not exist or you do not have permission to see it."])
        return found

    def _comment(self, key: str, text: str = "", body: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body or {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": text}]}]}
        comment = {"id": str(20000 + sum(map(len, self.comments.values()))), "author": self._user(), "body": body,
                   "created": _now(), "updated": _now()}
        self.comments[key].append(comment)
        return comment

    # endpoints -----------------------------------------------------------------------------------------------------

    async def search(self, request: Request, who: str) -> Response:
        q = request.query_params
        jql = q.get("jql", "").strip()
        if not jql or jql.upper().startswith("ORDER BY"):
            raise jira_error(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to "
                                   "your query."])
        found = [i for i in self.issues.values() if _jql_matches(jql, i, who)]
        size = min(int(q.get("maxResults") or 50), 5000)
        start = int(q["nextPageToken"][1:]) if q.get("nextPageToken", "").startswith("t") else 0
        chunk = found[start:start + size]
        wanted = {f for f in (q.get("fields") or "").split(",") if f} or {"summary", "status"}
        body: dict[str, Any] = {"issues": [{"id": i["id"], "key": i["key"], "self": i["self"], "fields": {
            k: v for k, v in i["fields"].items() if "*all" in wanted or k in wanted}} for i in chunk],
            "isLast": start + size >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = f"t{start + size}"
        return JSONResponse(body)

    async def get_issue(self, request: Request, who: str) -> Response:
        return JSONResponse(self._issue(request))

    async def create_issue(self, request: Request, who: str) -> Response:
        body = await _json(request)
        issue = self._create(body.get("fields") or {})
        return JSONResponse({"id": issue["id"], "key": issue["key"], "self": issue["self"]}, status_code=201)

    async def edit_issue(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        fields = (await _json(request)).get("fields") or {}
        if "description" in fields and not _is_adf(fields["description"]):
            raise jira_error(400, [], {"description": "Operation value must be an Atlassian Document (see the "
                                                      "Atlassian Document Format)"})
        unknown = sorted(set(fields) - {"summary", "description", "priority", "labels", "duedate"})
        if unknown:
            raise jira_error(400, [], {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, "
                                             "or unknown." for name in unknown})
        issue["fields"].update(fields)
        issue["fields"]["updated"] = _now()
        return Response(status_code=204)

    async def delete_issue(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        del self.issues[issue["key"]]
        return Response(status_code=204)

    async def get_transitions(self, request: Request, who: str) -> Response:
        current = self._issue(request)["fields"]["status"]["name"]
        return JSONResponse({"expand": "transitions", "transitions": [
            {"id": tid, "name": f"Move to {name}", "hasScreen": False, "isGlobal": True,
             "to": {"name": name, "statusCategory": {"key": STATUSES[name]}}}
            for tid, name in TRANSITIONS.items() if name != current]})

    async def transition(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        body = await _json(request)
        target = TRANSITIONS.get(str((body.get("transition") or {}).get("id")))
        if target is None or target == issue["fields"]["status"]["name"]:
            raise jira_error(400, ["Transition id '{}' is not valid for this issue.".format(
                (body.get("transition") or {}).get("id"))])
        for op in ((body.get("update") or {}).get("comment") or []):
            if not _is_adf(op.get("add", {}).get("body")):
                raise jira_error(400, [], {"comment": "Comment body must be an Atlassian Document"})
            self._comment(issue["key"], body=op["add"]["body"])
        issue["fields"]["status"] = {"name": target, "statusCategory": {"key": STATUSES[target]}}
        return Response(status_code=204)

    async def assign(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        body = await _json(request)
        if "accountId" not in body:
            raise jira_error(400, [], {"accountId": "accountId is required"})
        if body["accountId"] not in (None, self.account_id):
            raise jira_error(400, [], {"assignee": f"User '{body['accountId']}' cannot be assigned issues."})
        issue["fields"]["assignee"] = self._user() if body["accountId"] else None
        return Response(status_code=204)

    async def list_comments(self, request: Request, who: str) -> Response:
        comments = list(self.comments[self._issue(request)["key"]])
        if request.query_params.get("orderBy") == "-created":
            comments.reverse()
        return self._offset(request, comments, "comments")

    async def add_comment(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        body = (await _json(request)).get("body")
        if not _is_adf(body):
            raise jira_error(400, [], {"comment": "Comment body must be an Atlassian Document"})
        return JSONResponse(self._comment(issue["key"], body=body), status_code=201)

    async def add_worklog(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        body = await _json(request)
        spent = body.get("timeSpent")
        if not spent and not body.get("timeSpentSeconds"):
            raise jira_error(400, [], {"timeLogged": "You must indicate the time spent working."})
        units = {"w": 144000, "d": 28800, "h": 3600, "m": 60}
        seconds = body.get("timeSpentSeconds") or sum(int(n) * units[u] for n, u in re.findall(r"(\d+)\s*([wdhm])",
                                                                                                str(spent)))
        if "comment" in body and not _is_adf(body["comment"]):
            raise jira_error(400, [], {"comment": "Worklog comment must be an Atlassian Document"})
        log = {"id": str(30000 + len(self.worklogs[issue["key"]])), "author": self._user(), "issueId": issue["id"],
               "timeSpent": spent or f"{seconds // 60}m", "timeSpentSeconds": seconds,
               "started": body.get("started") or _now(), "comment": body.get("comment")}
        self.worklogs[issue["key"]].append(log)
        return JSONResponse(log, status_code=201)

    def _find_comment(self, request: Request) -> tuple[str, dict[str, Any]]:
        key = self._issue(request)["key"]
        found = next((c for c in self.comments[key] if c["id"] == request.path_params["id"]), None)
        if found is None:
            raise jira_error(404, ["Can not find a comment for the id: {}.".format(request.path_params["id"])])
        return key, found

    async def update_comment(self, request: Request, who: str) -> Response:
        _, comment = self._find_comment(request)
        body = (await _json(request)).get("body")
        if not _is_adf(body):
            raise jira_error(400, [], {"comment": "Comment body must be an Atlassian Document"})
        comment.update(body=body, updated=_now())
        return JSONResponse(comment)

    async def delete_comment(self, request: Request, who: str) -> Response:
        key, comment = self._find_comment(request)
        self.comments[key].remove(comment)
        return Response(status_code=204)

    async def watchers(self, request: Request, who: str) -> Response:
        issue = self._issue(request)
        return JSONResponse({"self": issue["self"] + "/watchers", "isWatching": True, "watchCount": 1,
                             "watchers": [self._user()]})

    async def statuses(self, request: Request, who: str) -> Response:
        return JSONResponse([{"id": str(i + 1), "name": name, "statusCategory": {"key": key, "name": name}}
                             for i, (name, key) in enumerate(STATUSES.items())])

    async def assignable(self, request: Request, who: str) -> Response:
        q = request.query_params
        if not q.get("project") and not q.get("issueKey"):
            raise jira_error(400, ["One of the following parameters must be provided: issueKey, project."])
        user = self._user()
        words = q.get("query", "").lower()
        return JSONResponse([user] if words in user["displayName"].lower() or words in self.email else [])

    async def list_projects(self, request: Request, who: str) -> Response:
        words = request.query_params.get("query", "").lower()
        found = [p for p in self.projects if words in str(p["key"]).lower() or words in str(p["name"]).lower()]
        return self._offset(request, found, "values")

    async def get_project(self, request: Request, who: str) -> Response:
        key = request.path_params["key"]
        project = next((p for p in self.projects if key in (p["key"], p["id"])), None)
        if project is None:
            raise jira_error(404, [f"No project could be found with key '{key}'."])
        return JSONResponse(project | {"lead": self._user(), "issueTypes": [{"id": "10001", "name": "Task"}]})

    async def myself(self, request: Request, who: str) -> Response:
        return JSONResponse(self._user())

    @staticmethod
    def _offset(request: Request, items: list[Any], key: str) -> Response:
        start = max(int(request.query_params.get("startAt") or 0), 0)
        size = min(max(int(request.query_params.get("maxResults") or 50), 1), 100)
        chunk = items[start:start + size]
        return JSONResponse({"startAt": start, "maxResults": size, "total": len(items),
                             "isLast": start + size >= len(items), key: chunk})


def _jql_matches(jql: str, issue: dict[str, Any], who: str) -> bool:
    """The JQL the tests use: clauses joined by AND (`project = X`, `assignee = currentUser()`,
    `status = "Name"`, `statusCategory != Done`), then an ignored ORDER BY."""
    where = re.split(r"\s+ORDER\s+BY\s+", jql, flags=re.I)[0]
    fields = issue["fields"]
    for clause in re.split(r"\s+AND\s+", where, flags=re.I):
        match = re.fullmatch(r'\s*(\w+)\s*(!=|=)\s*"?([^"]+?)"?\s*', clause)
        if match is None:
            raise jira_error(400, [f"Error in the JQL Query: Expecting operator but got '{clause.strip()}'."])
        name, op, value = match.groups()
        actual = {"project": fields["project"]["key"], "status": fields["status"]["name"],
                  "statuscategory": {"done": "Done", "new": "To Do", "indeterminate": "In Progress"}[
                      fields["status"]["statusCategory"]["key"]],
                  "assignee": (fields["assignee"] or {}).get("accountId")}.get(name.lower())
        wanted = who if value == "currentUser()" else value
        if (actual == wanted) != (op == "="):
            return False
    return True


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise jira_error(400, ["Unexpected character in the JSON body."]) from None
    if not isinstance(body, dict):
        raise jira_error(400, ["Can not deserialize the request body."])
    return body
