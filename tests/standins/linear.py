"""A local stand-in for api.linear.app/graphql for tests of toolkits/linear.

Every request is parsed and validated against Linear's published schema (api-specs/linear/schema.graphql)
with graphql-core and then executed by graphql-core over in-memory teams, users, states and issues, so a
query asking for a field Linear does not have, a variable of the wrong type or a malformed filter fails
here as it would there: HTTP 400 with `errors[].extensions.code = GRAPHQL_VALIDATION_FAILED`. Other wire
habits: a personal API key goes in `Authorization` bare (an OAuth token as `Bearer`), a missing entity is a
200 with `errors` beside `data: null`, connections page with `first`/`after` and `pageInfo`, and a rate
limit is HTTP 400 with `extensions.code = RATELIMITED` (queued by a test with `rate_limit_next`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, build_ast_schema, execute, parse, validate
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.standins.work_base import ApiError, Handler, WorkStandIn, cursor_page

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "../shared/data/api-specs/linear/schema.graphql"
PRIORITY = {0: "No priority", 1: "Urgent", 2: "High", 3: "Medium", 4: "Low"}


@cache
def schema() -> GraphQLSchema:
    """Linear's schema as published (it is a valid schema; skipping the SDL re-check saves seconds)."""
    sdl = parse(SCHEMA_FILE.resolve().read_text(encoding="utf-8"), no_location=True)
    return build_ast_schema(sdl, assume_valid=True, assume_valid_sdl=True)


def gql_error(message: str, code: str, kind: str, path: list[str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "extensions": {
        "type": kind, "code": code, "statusCode": 400, "userError": kind != "graphql error",
        "userPresentableMessage": message}}
    if path:
        error["path"] = path
    return error


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _connection(items: list[Any], first: int | None = None, after: str | None = None) -> dict[str, Any]:
    nodes, following = cursor_page(items, after, first or 50)
    return {"nodes": nodes, "pageInfo": {"hasNextPage": following is not None, "endCursor": following,
                                         "hasPreviousPage": bool(after), "startCursor": after}}


class LinearStandIn(WorkStandIn):
    def __init__(self, api_keys: Mapping[str, str], verify: Callable[[str], Mapping[str, Any] | None] | None = None
                 ) -> None:
        """`api_keys`: personal API key -> user name; `verify`: OAuth bearer token -> {"user": name} or None."""
        super().__init__()
        schema()  # built before the first request, not during it
        self.api_keys = dict(api_keys)
        self.verify = verify
        self.users = {name: _person(name) for name in ("Ada", "Grace", "Linus")}
        self.team = {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "team-eng")), "key": "ENG", "name": "Engineering",
                     "description": None, "private": False, "issueCount": 0, "cyclesEnabled": True}
        self.states = [{"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"state-{n}")), "name": n, "type": t,
                        "position": float(i), "color": "#bec2c8", "team": self.team}
                       for i, (n, t) in enumerate([("Backlog", "backlog"), ("Todo", "unstarted"),
                                                   ("In Progress", "started"), ("Done", "completed"),
                                                   ("Canceled", "canceled")])]
        self.labels = [{"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"label-{n}")), "name": n, "color": "#eb5757",
                        "description": None, "isGroup": False, "team": self.team} for n in ("Bug", "Feature")]
        self.projects: list[dict[str, Any]] = []
        self.cycles = [{"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"cycle-{n}")), "number": float(n),
                        "name": f"Sprint {n}", "startsAt": f"2026-0{n}-01T00:00:00.000Z",
                        "endsAt": f"2026-0{n}-14T00:00:00.000Z", "progress": 0.5 if n == 2 else float(n < 2),
                        "isActive": n == 2, "isNext": n == 3, "isPast": n == 1, "team": self.team} for n in (1, 2, 3)]
        self.issues: list[dict[str, Any]] = []
        self.comments: dict[str, list[dict[str, Any]]] = {}
        for i in range(1, 8):
            self._new_issue({"teamId": self.team["id"], "title": f"Seeded issue {i}",
                             "assigneeId": self.users["Ada"]["id"] if i % 2 else None,
                             "stateId": self.states[2 if i <= 3 else 1]["id"], "priority": i % 5,
                             "labelIds": [self.labels[0]["id"]] if i == 2 else []})

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/graphql", self.graphql)]

    def principal(self, request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer":
            info = self.verify(token.strip()) if self.verify else None
            return str(info["user"]) if info else None
        return self.api_keys.get(value.strip())

    def unauthorized(self, request: Request) -> ApiError:
        return ApiError(400, {"errors": [gql_error("Authentication required, not authenticated", "AUTHENTICATION_ERROR",
                                                   "authentication error")]})

    def not_found(self, request: Request) -> ApiError:
        return ApiError(404, {"errors": [gql_error("Not found", "NOT_FOUND", "invalid input")]})

    def rate_limit_next(self, times: int = 1) -> None:
        reset = str(int(datetime.now(UTC).timestamp() * 1000) + 1000)
        self.fail_next(400, {"errors": [gql_error("Rate limit exceeded", "RATELIMITED", "ratelimited")]},
                       {"X-RateLimit-Requests-Remaining": "0", "X-RateLimit-Requests-Reset": reset}, times)

    # executing -----------------------------------------------------------------------------------------------------

    async def graphql(self, request: Request, who: str) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise ApiError(400, {"errors": [gql_error("Must provide query string.", "BAD_USER_INPUT",
                                                      "graphql error")]})
        try:
            document = parse(payload["query"])
        except GraphQLError as exc:
            raise ApiError(400, {"errors": [gql_error(exc.message, "GRAPHQL_PARSE_FAILED", "graphql error")]}) from None
        problems = validate(schema(), document)
        if problems:
            raise ApiError(400, {"errors": [gql_error(p.message, "GRAPHQL_VALIDATION_FAILED", "graphql error")
                                            for p in problems]})
        viewer = self.users.setdefault(who, _person(who))
        result = execute(schema(), document, root_value=self._root(viewer),
                         variable_values=payload.get("variables") or {})
        assert isinstance(result, ExecutionResult)  # every resolver here is synchronous
        if result.errors and result.data is None and all(not e.path for e in result.errors):
            # variables that do not fit their declared types never reach a resolver
            raise ApiError(400, {"errors": [gql_error(e.message, "BAD_USER_INPUT", "graphql error")
                                            for e in result.errors]})
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.original_error.args[0] if isinstance(e.original_error, _EntityError)
                              else gql_error(e.message, "INTERNAL_SERVER_ERROR", "unknown error",
                                             [str(p) for p in e.path or []])
                              for e in result.errors]
        return JSONResponse(body)

    def _root(self, viewer: dict[str, Any]) -> dict[str, Any]:
        me = {**viewer, "isMe": True, "organization": {"id": "org-1", "name": "Acme", "urlKey": "acme"}}
        return {
            "viewer": me,
            "issue": lambda info, id: self._issue(id),
            "issues": lambda info, first=None, after=None, filter=None, **_: _connection(
                [i for i in reversed(self.issues) if _matches(i, filter or {}, viewer)], first, after),
            "searchIssues": lambda info, term, first=None, after=None, **_: _connection(
                [i for i in self.issues if term.lower() in f"{i['title']} {i['description'] or ''}".lower()],
                first, after) | {"totalCount": 0},
            "teams": lambda info, first=None, after=None, **_: _connection([self.team], first, after),
            "workflowStates": lambda info, first=None, after=None, filter=None, **_: _connection(
                self.states, first, after),
            "team": lambda info, id: self._team(id),
            "project": lambda info, id: self._lookup(self.projects, id, "Project"),
            "user": lambda info, id: self._user_view(id),
            "projectUpdate": lambda info, id, input: {"success": True, "lastSyncId": 1.0,
                                                      "project": self._edit_project(id, input)},
            "issueLabelCreate": lambda info, input, **_: {"success": True, "lastSyncId": 1.0,
                                                          "issueLabel": self._label(input)},
            "projects": lambda info, first=None, after=None, **_: _connection(self.projects, first, after),
            "cycles": lambda info, first=None, after=None, **_: _connection(self.cycles, first, after),
            "projectCreate": lambda info, input, **_: {"success": True, "project": self._project(input, viewer),
                                                       "lastSyncId": 1.0},
            "issueLabels": lambda info, first=None, after=None, **_: _connection(self.labels, first, after),
            "users": lambda info, first=None, after=None, **_: _connection(list(self.users.values()), first, after),
            "issueCreate": lambda info, input: {"success": True, "issue": self._new_issue(input, viewer),
                                                "lastSyncId": 1.0},
            "issueUpdate": lambda info, id, input: {"success": True, "issue": self._update(id, input),
                                                    "lastSyncId": 1.0},
            "commentCreate": lambda info, input: {"success": True, "comment": self._comment(input, viewer),
                                                  "lastSyncId": 1.0},
            "issueArchive": lambda info, id, trash=None: {"success": True, "lastSyncId": 1.0,
                                                          "entity": self._archive(id)},
        }

    def _issue(self, key: str) -> dict[str, Any]:
        for issue in self.issues:
            if key in (issue["id"], issue["identifier"]):
                return issue
        raise _EntityError(gql_error("Entity not found: Issue", "INPUT_ERROR", "invalid input", ["issue"]))

    def _lookup(self, items: list[dict[str, Any]], item_id: str | None, what: str) -> dict[str, Any] | None:
        if item_id is None:
            return None
        found = next((i for i in items if i["id"] == item_id), None)
        if found is None:
            raise _EntityError(gql_error(f"Entity not found: {what}", "INPUT_ERROR", "invalid input"))
        return found

    def _new_issue(self, data: dict[str, Any], creator: dict[str, Any] | None = None) -> dict[str, Any]:
        if data["teamId"] != self.team["id"]:
            raise _EntityError(gql_error("Entity not found: Team", "INPUT_ERROR", "invalid input"))
        number = len(self.issues) + 1
        issue_id = str(uuid.uuid4())
        issue: dict[str, Any] = {
            "id": issue_id, "identifier": f"ENG-{number}", "number": float(number), "title": data["title"],
            "description": data.get("description"), "url": f"https://linear.app/acme/issue/ENG-{number}",
            "branchName": f"eng-{number}", "createdAt": _now(), "updatedAt": _now(), "startedAt": None,
            "completedAt": None, "canceledAt": None, "archivedAt": None, "dueDate": data.get("dueDate"),
            "estimate": data.get("estimate"), "team": self.team, "creator": creator, "project": None, "cycle": None,
            "parent": None, "state": self.states[1]}
        self.comments[issue_id] = []
        issue["comments"] = lambda info, first=None, after=None, **_: _connection(self.comments[issue_id], first,
                                                                                  after)
        self.issues.append(issue)
        self._apply(issue, {"assigneeId": None, "priority": 0, "labelIds": []} | data)
        return issue

    def _apply(self, issue: dict[str, Any], data: dict[str, Any]) -> None:
        for key in ("title", "description", "dueDate", "estimate"):
            if key in data:
                issue[key] = data[key]
        if "assigneeId" in data:
            issue["assignee"] = self._lookup(list(self.users.values()), data["assigneeId"], "User")
        if data.get("stateId") is not None:
            issue["state"] = self._lookup(self.states, data["stateId"], "WorkflowState")
        if "priority" in data:
            issue["priority"] = float(data["priority"] or 0)
            issue["priorityLabel"] = PRIORITY[int(data["priority"] or 0)]
        if "labelIds" in data:
            found = [self._lookup(self.labels, label, "IssueLabel") for label in data["labelIds"] or []]
            issue["labels"] = {"nodes": found}
        issue["updatedAt"] = _now()

    def _update(self, key: str, data: dict[str, Any]) -> dict[str, Any]:
        issue = self._issue(key)
        self._apply(issue, data)
        return issue

    def _comment(self, data: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
        issue = self._issue(data["issueId"])
        comment = {"id": str(uuid.uuid4()), "body": data["body"], "createdAt": _now(), "editedAt": None,
                   "url": f"{issue['url']}#comment-{len(self.comments[issue['id']]) + 1}", "user": author,
                   "parent": None}
        self.comments[issue["id"]].append(comment)
        return comment

    def _project(self, data: dict[str, Any], lead: dict[str, Any]) -> dict[str, Any]:
        for team in data["teamIds"]:
            self._lookup([self.team], team, "Team")
        project = {"id": str(uuid.uuid4()), "name": data["name"], "description": data.get("description") or "",
                   "url": f"https://linear.app/acme/project/{data['name'].lower().replace(' ', '-')}",
                   "startDate": data.get("startDate"), "targetDate": data.get("targetDate"), "progress": 0.0,
                   "status": {"id": "ps-1", "name": "Planned", "type": "planned"},
                   "lead": self._lookup(list(self.users.values()), data.get("leadId"), "User") or lead,
                   "teams": {"nodes": [self.team]}, "members": {"nodes": [lead]}}
        project["issues"] = lambda info, first=None, after=None, **_: _connection(
            [i for i in self.issues if (i.get("project") or {}).get("id") == project["id"]], first, after)
        self.projects.append(project)
        return project

    def _team(self, key: str) -> dict[str, Any]:
        if key not in (self.team["id"], self.team["key"]):
            raise _EntityError(gql_error("Entity not found: Team", "INPUT_ERROR", "invalid input", ["team"]))
        return {**self.team, "activeCycle": next(c for c in self.cycles if c["isActive"]),
                "states": {"nodes": self.states}, "labels": {"nodes": self.labels},
                "members": {"nodes": list(self.users.values())}}

    def _user_view(self, user_id: str) -> dict[str, Any]:
        user = self._lookup(list(self.users.values()), user_id, "User")
        assert user is not None
        open_issues = [i for i in self.issues if (i.get("assignee") or {}).get("id") == user_id
                       and i["state"]["type"] not in ("completed", "canceled")]
        return {**user, "assignedIssues": lambda info, first=None, after=None, **_: _connection(open_issues, first,
                                                                                                after)}

    def _edit_project(self, project_id: str, data: dict[str, Any]) -> dict[str, Any]:
        project = self._lookup(self.projects, project_id, "Project")
        assert project is not None
        for key in ("name", "description", "startDate", "targetDate"):
            if key in data:
                project[key] = data[key]
        if "leadId" in data:
            project["lead"] = self._lookup(list(self.users.values()), data["leadId"], "User")
        return project

    def _label(self, data: dict[str, Any]) -> dict[str, Any]:
        team = self._team(data["teamId"]) if data.get("teamId") else None
        label = {"id": str(uuid.uuid4()), "name": data["name"], "color": data.get("color") or "#bec2c8",
                 "description": data.get("description"), "isGroup": False, "team": team and self.team}
        self.labels.append(label)
        return label

    def _archive(self, key: str) -> dict[str, Any]:
        issue = self._issue(key)
        issue["archivedAt"] = _now()
        return issue


def _person(name: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), "name": name, "displayName": name.lower(),
            "email": f"{name.lower()}@acme.example", "active": True, "admin": name == "Ada", "isMe": False}


class _EntityError(Exception):
    """A resolver's "not found", carried out of graphql-core with Linear's error object."""


def _matches(issue: dict[str, Any], where: dict[str, Any], viewer: dict[str, Any]) -> bool:
    """The subset of IssueFilter the toolkit's prepare hook produces (and/team/assignee/state/priority/labels)."""
    if "and" in where:
        return all(_matches(issue, part, viewer) for part in where["and"])
    assignee = issue.get("assignee")
    for field, test in where.items():
        if field == "team" and not _compare(issue["team"], test):
            return False
        if field == "state" and not _compare(issue["state"], test):
            return False
        if field == "priority" and not _compare({"priority": issue["priority"]}, {"priority": test}):
            return False
        if field == "assignee":
            if test.get("null") is True:
                if assignee is not None:
                    return False
            elif assignee is None or not _compare({**assignee, "isMe": assignee["id"] == viewer["id"]}, test):
                return False
        if field == "labels" and not any(_compare(label, test.get("some", {}))
                                         for label in issue["labels"]["nodes"]):
            return False
    return True


OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda value, wanted: value == wanted, "neq": lambda value, wanted: value != wanted,
    "in": lambda value, wanted: value in wanted,
    "eqIgnoreCase": lambda value, wanted: str(value).lower() == str(wanted).lower()}


def _compare(obj: dict[str, Any], test: dict[str, Any]) -> bool:
    for field, ops in test.items():
        for op, wanted in ops.items():
            if op not in OPS or not OPS[op](obj.get(field), wanted):
                return False
    return True
