"""A local stand-in for api.github.com that speaks GitHub's wire format, for end-to-end tests of toolkits/github.

It serves the endpoints the toolkit uses with GitHub's response shapes, error bodies (`{"message",
"documentation_url", "status"}`), `Link` pagination and `x-ratelimit-*` headers, keeps state in memory
(created issues show up in later lists and searches), checks bearer tokens through a pluggable verifier
(e.g. `OAuthServer.verify`) and records every request so tests can assert what arrived.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import shlex
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import ThreadedServer

Verifier = Callable[[str], Mapping[str, Any] | None]
"""Bearer token -> {"user": login, ...} when valid, else None (the shape of `OAuthServer.verify`)."""
Handler = Callable[[Request, str], Awaitable[Response]]

DOCS = "https://docs.github.com/rest"
RATE_LIMITS = {"core": 5000, "search": 30}
SEED_TIME = "2026-01-05T10:00:00Z"


def fixed_tokens(tokens: Mapping[str, str]) -> Verifier:
    """A verifier accepting exactly these tokens, each mapped to a user login."""
    return lambda token: {"user": tokens[token]} if token in tokens else None


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any


class GitHubError(Exception):
    """Raised by handlers; becomes GitHub's error body with the given status."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def _not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def _invalid(resource: str, field_name: str, code: str) -> GitHubError:
    return GitHubError(422, "Validation Failed", [{"resource": resource, "field": field_name, "code": code}])


def _stable_id(text: str) -> int:
    return zlib.crc32(text.encode()) % 10**8


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Repo:
    owner: str
    name: str
    description: str
    language: str
    private: bool = False
    stars: int = 0
    topics: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # pull requests too, as GitHub lists them
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # name -> head commit sha
    commits: list[dict[str, Any]] = field(default_factory=list)  # newest first
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)  # newest first
    runs: list[dict[str, Any]] = field(default_factory=list)  # Actions workflow runs, newest first
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class GitHubStandIn(ThreadedServer):
    """`with GitHubStandIn(verify) as gh:` serves on `gh.base_url`; point the toolkit's base_url there."""

    def __init__(self, verify: Verifier, *, owner: str = "octocat", client_id: str = "Iv1.standin0001",
                 client_secret: str = "standin-oauth-app-secret") -> None:
        super().__init__()
        self.verify = verify
        self.owner = owner
        self.client_id, self.client_secret = client_id, client_secret  # the OAuth App github.com knows
        self.refuse_next_code = False
        self._codes: dict[str, tuple[str, str | None]] = {}  # code -> (redirect_uri, PKCE challenge)
        self._issued: dict[str, str] = {}  # OAuth token -> login
        self.requests: list[Recorded] = []
        self._ids = itertools.count(1001)
        self._used: dict[tuple[str, str], int] = {}
        self._fail: tuple[int, str, dict[str, str]] | None = None
        self._repos: dict[str, _Repo] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.url

    def start(self) -> GitHubStandIn:
        def make_app() -> Starlette:
            self._seed()  # objects carry absolute URLs, so the world is built once the address is known
            return self.app()

        self.serve(make_app)
        return self

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        """The next request gets this error, e.g. (403, "You have exceeded a secondary rate limit",
        {"retry-after": "1"}) or (500, "Server Error")."""
        self._fail = (status, message, dict(headers or {}))

    def app(self) -> Starlette:
        repo = "/repos/{owner}/{repo}"
        routes = [
            ("GET", "/user", self._get_user),
            ("GET", "/user/repos", self._list_my_repos),
            ("GET", repo, self._get_repo),
            ("GET", repo + "/issues", self._list_issues),
            ("POST", repo + "/issues", self._create_issue),
            ("GET", repo + "/issues/{number:int}", self._get_issue),
            ("PATCH", repo + "/issues/{number:int}", self._update_issue),
            ("GET", repo + "/issues/{number:int}/comments", self._list_comments),
            ("POST", repo + "/issues/{number:int}/comments", self._create_comment),
            ("GET", repo + "/pulls", self._list_pulls),
            ("GET", repo + "/pulls/{number:int}", self._get_pull),
            ("GET", "/users/{username}", self._get_other_user),
            ("GET", repo + "/branches", self._list_branches),
            ("GET", repo + "/branches/{branch:path}", self._get_branch),
            ("POST", repo + "/git/refs", self._create_ref),
            ("GET", repo + "/commits", self._list_commits),
            ("GET", repo + "/contents/{path:path}", self._get_contents),
            ("PUT", repo + "/contents/{path:path}", self._put_contents),
            ("DELETE", repo + "/contents/{path:path}", self._delete_contents),
            ("POST", repo + "/pulls", self._create_pull),
            ("PUT", repo + "/pulls/{number:int}/merge", self._merge_pull),
            ("GET", repo + "/pulls/{number:int}/reviews", self._list_reviews),
            ("POST", repo + "/pulls/{number:int}/reviews", self._create_review),
            ("GET", repo + "/labels", self._list_labels),
            ("POST", repo + "/labels", self._create_label),
            ("GET", repo + "/releases", self._list_releases),
            ("GET", repo + "/actions/runs", self._list_runs),
            ("POST", repo + "/actions/runs/{run_id:int}/rerun", self._rerun),
            ("GET", repo + "/releases/latest", self._latest_release),
            ("POST", repo + "/releases", self._create_release),
            ("GET", "/search/code", self._search_code),
            ("GET", "/search/issues", self._search_issues),
            ("GET", "/search/repositories", self._search_repos),
        ]
        oauth = [Route("/login/oauth/authorize", self._oauth_authorize, methods=["GET"]),
                 Route("/login/oauth/access_token", self._oauth_token, methods=["POST"])]
        return Starlette(routes=oauth + [Route(path, self._endpoint(handler), methods=[method])
                                         for method, path, handler in routes],
                         exception_handlers={HTTPException: self._http_exception})

    # -- github.com's OAuth App endpoints ---------------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return self.url + "/login/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/login/oauth/access_token"

    async def _oauth_authorize(self, request: Request) -> Response:
        """The user approves at once; back to redirect_uri with a code (PKCE challenge remembered)."""
        q = request.query_params
        self.requests.append(Recorded("GET", request.url.path, dict(q), dict(request.headers), None))
        if q.get("client_id") != self.client_id or not q.get("redirect_uri"):
            return Response("Not Found", status_code=404)
        code = secrets.token_hex(10)
        self._codes[code] = (q["redirect_uri"], q.get("code_challenge"))
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}",
                                status_code=302)

    async def _oauth_token(self, request: Request) -> Response:
        """GitHub's quirks: failures are HTTP 200 with an `error`, and the answer is form-encoded unless the
        client asks for JSON; scopes come back comma-separated; OAuth App tokens never expire."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        self.requests.append(Recorded("POST", request.url.path, {}, dict(request.headers),
                                      {k: v for k, v in form.items() if k != "client_secret"}))
        wanted = self._codes.pop(form.get("code", ""), None)
        answer: dict[str, str]
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            answer = {"error": "incorrect_client_credentials",
                      "error_description": "The client_id and/or client_secret passed are incorrect."}
        elif wanted is None or self.refuse_next_code or (wanted[1] is not None and wanted[1] != _s256(
                form.get("code_verifier", ""))) or form.get("redirect_uri", wanted[0]) != wanted[0]:
            self.refuse_next_code = False
            answer = {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.",
                      "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access"
                                   "-token-request-errors/#bad-verification-code"}
        else:
            token = "gho_" + secrets.token_hex(18)
            self._issued[token] = self.owner
            answer = {"access_token": token, "token_type": "bearer", "scope": "repo,read:user,user:email"}
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(answer)
        return Response(urlencode(answer), media_type="application/x-www-form-urlencoded; charset=utf-8")

    # -- plumbing: recording, failures, auth, rate limits, errors ---------------------------------------------

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.requests.append(Recorded(request.method, request.url.path, dict(request.query_params),
                                          dict(request.headers), _decode(await request.body())))
            resource = "search" if request.url.path.startswith("/search/") else "core"
            if self._fail is not None:
                (status, message, headers), self._fail = self._fail, None
                return _error_response(status, message, None, headers)
            login = self._authenticate(request.headers.get("authorization", ""))
            if login is None:
                message = "Bad credentials" if "authorization" in request.headers else "Requires authentication"
                return _error_response(401, message)
            try:
                response = await handler(request, login)
            except GitHubError as exc:
                response = _error_response(exc.status, exc.message, exc.errors)
            response.headers.update(self._rate_headers(login, resource))
            return response

        return endpoint

    def _authenticate(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return None
        if token.strip() in self._issued:
            return self._issued[token.strip()]
        info = self.verify(token.strip())
        return str(info["user"]) if info else None

    def _rate_headers(self, login: str, resource: str) -> dict[str, str]:
        used = self._used[(login, resource)] = self._used.get((login, resource), 0) + 1
        limit = RATE_LIMITS[resource]
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(limit - used, 0)),
                "x-ratelimit-used": str(used), "x-ratelimit-reset": str(int(time.time()) + 3600),
                "x-ratelimit-resource": resource}

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error_response(404 if status == 405 else status, "Not Found" if status in (404, 405) else str(exc))

    def _page(self, request: Request, items: list[Any], search: bool = False, key: str | None = None) -> Response:
        """One page of `items` as GitHub serves it: `per_page` (max 100) and `page`, and a `Link` header;
        a search wraps the page in {total_count, incomplete_results, items}, Actions in {total_count, <key>}."""
        per_page = min(max(_int(request.query_params.get("per_page"), 30), 1), 100)
        page = max(_int(request.query_params.get("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = {"prev": page - 1, "next": page + 1, "last": last, "first": 1}
        parts = [f'<{request.url.include_query_params(per_page=per_page, page=n)}>; rel="{rel}"'
                 for rel, n in links.items()
                 if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last)]
        headers = {"link": ", ".join(parts)} if parts else {}
        chunk = items[(page - 1) * per_page: page * per_page]
        body: Any = {"total_count": len(items), "incomplete_results": False, "items": chunk} if search else chunk
        if key is not None:
            body = {"total_count": len(items), key: chunk}
        return JSONResponse(body, headers=headers)

    def _repo(self, request: Request) -> _Repo:
        params = request.path_params
        repo = self._repos.get(f"{params['owner']}/{params['repo']}".lower())
        if repo is None:
            raise _not_found()
        return repo

    def _issue(self, request: Request) -> tuple[_Repo, dict[str, Any]]:
        repo = self._repo(request)
        issue = repo.issues.get(request.path_params["number"])
        if issue is None:
            raise _not_found()
        return repo, issue

    # -- GitHub-shaped objects --------------------------------------------------------------------------------

    def _user_json(self, login: str, full: bool = False) -> dict[str, Any]:
        user = {"login": login, "id": _stable_id(login), "node_id": f"U_{login}", "type": "User",
                "site_admin": False, "url": f"{self.base_url}/users/{login}", "html_url": f"https://github.com/{login}",
                "avatar_url": f"https://avatars.githubusercontent.com/{login}"}
        if full:
            owned = [r for r in self._repos.values() if r.owner == login]
            user |= {"name": login.title(), "email": f"{login}@example.com", "company": None, "bio": None,
                     "location": None, "blog": "", "public_repos": sum(not r.private for r in owned),
                     "total_private_repos": sum(r.private for r in owned), "followers": 3, "following": 1,
                     "created_at": SEED_TIME, "updated_at": SEED_TIME}
        return user

    def _repo_json(self, repo: _Repo) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{repo.full_name}"
        open_issues = sum(i["state"] == "open" for i in repo.issues.values())
        return {"id": _stable_id(repo.full_name), "node_id": f"R_{repo.full_name}", "name": repo.name,
                "full_name": repo.full_name, "private": repo.private, "owner": self._user_json(repo.owner),
                "html_url": f"https://github.com/{repo.full_name}", "description": repo.description,
                "fork": False, "url": api, "issues_url": api + "/issues{/number}",
                "pulls_url": api + "/pulls{/number}", "clone_url": f"https://github.com/{repo.full_name}.git",
                "ssh_url": f"git@github.com:{repo.full_name}.git",
                "language": repo.language, "stargazers_count": repo.stars, "watchers_count": repo.stars,
                "forks_count": 0, "open_issues_count": open_issues, "topics": repo.topics,
                "visibility": "private" if repo.private else "public", "default_branch": "main", "archived": False,
                "has_issues": True, "license": None, "created_at": SEED_TIME, "updated_at": SEED_TIME,
                "pushed_at": SEED_TIME, "permissions": {"admin": True, "maintain": True, "push": True,
                                                        "triage": True, "pull": True}}

    def _new_issue(self, repo: _Repo, author: str, data: Mapping[str, Any], created_at: str) -> dict[str, Any]:
        if not isinstance(data.get("title"), str | int) or not str(data["title"]).strip():
            raise _invalid("Issue", "title", "missing_field")
        number = max([*repo.issues, 0]) + 1
        api = f"{self.base_url}/repos/{repo.full_name}/issues/{number}"
        issue = {"id": next(self._ids), "node_id": f"I_{repo.full_name}#{number}", "url": api,
                 "repository_url": f"{self.base_url}/repos/{repo.full_name}", "comments_url": api + "/comments",
                 "html_url": f"https://github.com/{repo.full_name}/issues/{number}", "number": number,
                 "state": "open", "state_reason": None, "title": "", "body": None, "user": self._user_json(author),
                 "labels": [], "assignee": None, "assignees": [], "milestone": None, "locked": False,
                 "comments": 0, "created_at": created_at, "updated_at": created_at, "closed_at": None,
                 "closed_by": None, "author_association": "OWNER" if author == repo.owner else "NONE"}
        self._edit(issue, data)
        repo.issues[number] = issue
        repo.comments[number] = []
        return issue

    def _edit(self, issue: dict[str, Any], data: Mapping[str, Any]) -> None:
        """Apply an issue payload's editable fields, refusing wrong types with a 422 as GitHub does."""
        for name in ("labels", "assignees"):
            if name in data and not (isinstance(data[name], list) and all(isinstance(v, str) for v in data[name])):
                raise _invalid("Issue", name, "invalid")
        milestone = data.get("milestone")
        if milestone is not None and (not isinstance(milestone, int) or milestone < 1):
            raise _invalid("Issue", "milestone", "invalid")
        if "title" in data:
            issue["title"] = str(data["title"])
        if "body" in data:
            issue["body"] = data["body"]
        if "labels" in data:
            issue["labels"] = [{"id": _stable_id(name), "name": name, "color": "d73a4a", "default": False,
                                "description": None} for name in data["labels"]]
        if "assignees" in data:
            issue["assignees"] = [self._user_json(login) for login in data["assignees"]]
            issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        if "milestone" in data:
            issue["milestone"] = milestone and {"number": milestone, "title": f"v{milestone}", "state": "open"}

    def _new_pull(self, repo: _Repo, author: str, title: str, body: str, head: str, base: str) -> dict[str, Any]:
        issue = self._new_issue(repo, author, {"title": title, "body": body}, SEED_TIME)
        number, html = issue["number"], f"https://github.com/{repo.full_name}/pull/{issue['number']}"
        api = f"{self.base_url}/repos/{repo.full_name}/pulls/{number}"
        issue["pull_request"] = {"url": api, "html_url": html, "diff_url": html + ".diff",
                                 "patch_url": html + ".patch", "merged_at": None}
        repo.pulls[number] = {
            "id": next(self._ids), "node_id": f"PR_{repo.full_name}#{number}", "url": api, "html_url": html,
            "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue["url"], "number": number,
            "state": "open", "locked": False, "title": title, "body": body, "user": issue["user"], "labels": [],
            "milestone": None, "draft": False, "created_at": SEED_TIME, "updated_at": SEED_TIME, "closed_at": None,
            "merged_at": None, "merge_commit_sha": None, "assignee": None, "assignees": [], "requested_reviewers": [],
            "head": {"label": f"{repo.owner}:{head}", "ref": head, "sha": repo.branches[head], "user": issue["user"]},
            "base": {"label": f"{repo.owner}:{base}", "ref": base, "sha": repo.branches[base], "user": issue["user"]},
            "author_association": "OWNER", "merged": False, "mergeable": True, "mergeable_state": "clean",
            "comments": 0, "review_comments": 0, "commits": 1, "additions": 12, "deletions": 3, "changed_files": 2,
        }
        return repo.pulls[number]

    def _comment_json(self, repo: _Repo, number: int, author: str, body: str, created_at: str) -> dict[str, Any]:
        comment_id = next(self._ids)
        return {"id": comment_id, "node_id": f"IC_{comment_id}",
                "url": f"{self.base_url}/repos/{repo.full_name}/issues/comments/{comment_id}",
                "html_url": f"https://github.com/{repo.full_name}/issues/{number}#issuecomment-{comment_id}",
                "issue_url": f"{self.base_url}/repos/{repo.full_name}/issues/{number}", "body": body,
                "user": self._user_json(author), "created_at": created_at, "updated_at": created_at,
                "author_association": "OWNER" if author == repo.owner else "NONE"}

    def _seed(self) -> None:
        """A small, realistic world: three repositories, issues with labels, a pull request, comments, files."""
        owner = self.owner
        hello = _Repo(owner, "hello-world", "My first repository on GitHub!", "Python", stars=42,
                      topics=["demo", "python"],
                      files={"README.md": "# Hello World\nA demo project that parses a config file.\n",
                             "src/app.py": "def parse_config(path):\n    return open(path).read().split()\n"})
        spoon = _Repo(owner, "spoon-knife", "A repository for testing forks", "HTML", stars=12000,
                      files={"index.html": "<h1>Spoon-Knife</h1>\n"})
        secret = _Repo(owner, "secret-plans", "Private notes", "Go", private=True,
                       files={"main.go": "package main\n\nfunc parseConfig() {}\n"})
        self._repos = {r.full_name.lower(): r for r in (hello, spoon, secret)}
        for repo in self._repos.values():
            self._commit(repo, "main", owner, "Initial commit", SEED_TIME)
            repo.labels = {name: _label(name) for name in ("bug", "enhancement", "documentation")}
        self._commit(hello, "main", "hubot", "Parse the config file", SEED_TIME)
        hello.branches["fix-crash"] = self._commit(hello, None, owner, "Fix the crash on start", SEED_TIME)["sha"]
        for number, (branch, conclusion) in enumerate([("main", "success"), ("fix-crash", "failure"),
                                                       ("main", "failure")], 1):
            hello.runs.insert(0, {"id": 30433640 + number, "name": "CI", "run_number": number, "event": "push",
                                  "head_branch": branch, "head_sha": hello.branches[branch], "status": "completed",
                                  "conclusion": conclusion, "run_attempt": 1, "created_at": SEED_TIME,
                                  "html_url": f"https://github.com/{hello.full_name}/actions/runs/{30433640 + number}"})
        for title, body, label in [("Found a bug", "The app crashes when the config file is empty.", "bug"),
                                   ("Add dark mode", "Please add a dark theme.", "enhancement"),
                                   ("Crash on start", "Stack trace attached.", "bug")]:
            self._new_issue(hello, owner, {"title": title, "body": body, "labels": [label]}, SEED_TIME)
        hello.issues[3] |= {"state": "closed", "state_reason": "completed", "closed_at": SEED_TIME}
        self._new_pull(hello, owner, "Fix the crash on start", "Closes #3.", head="fix-crash", base="main")
        typo = {"title": "Typo in README", "body": "'teh' should be 'the'.", "labels": ["documentation"]}
        self._new_issue(hello, "hubot", typo, SEED_TIME)
        for author, text in [("hubot", "I can reproduce this on 1.2."), (owner, "Thanks, looking into it.")]:
            hello.comments[1].append(self._comment_json(hello, 1, author, text, SEED_TIME))
        hello.issues[1]["comments"] = 2

    def _commit(self, repo: _Repo, branch: str | None, author: str, message: str, when: str) -> dict[str, Any]:
        """A commit on `branch` (None: a detached commit whose parent is main's head)."""
        parent = repo.branches.get(branch or "main")
        sha = hashlib.sha1(f"{repo.full_name}:{len(repo.commits)}:{message}".encode()).hexdigest()
        person = {"name": author.title(), "email": f"{author}@example.com", "date": when}
        commit = {"sha": sha, "node_id": f"C_{sha[:12]}",
                  "url": f"{self.base_url}/repos/{repo.full_name}/commits/{sha}",
                  "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
                  "commit": {"author": person, "committer": person, "message": message,
                             "tree": {"sha": "d" * 40}, "comment_count": 0},
                  "author": self._user_json(author), "committer": self._user_json(author),
                  "parents": [{"sha": parent}] if parent else []}
        repo.commits.insert(0, commit)
        if branch is not None:
            repo.branches[branch] = sha
        return commit

    def _branch_json(self, repo: _Repo, name: str) -> dict[str, Any]:
        head = next(c for c in repo.commits if c["sha"] == repo.branches[name])
        return {"name": name, "commit": head, "protected": name == "main",
                "_links": {"self": f"{self.base_url}/repos/{repo.full_name}/branches/{name}",
                           "html": f"https://github.com/{repo.full_name}/tree/{name}"}}

    def _file_json(self, repo: _Repo, path: str) -> dict[str, Any]:
        content = repo.files[path]
        return {"type": "file", "encoding": "base64", "size": len(content.encode()), "name": path.rsplit("/", 1)[-1],
                "path": path, "sha": _blob_sha(content), "content": base64.b64encode(content.encode()).decode(),
                "url": f"{self.base_url}/repos/{repo.full_name}/contents/{path}",
                "html_url": f"https://github.com/{repo.full_name}/blob/main/{path}"}

    # -- endpoints --------------------------------------------------------------------------------------------

    async def _get_user(self, request: Request, login: str) -> Response:
        return JSONResponse(self._user_json(login, full=True))

    async def _list_my_repos(self, request: Request, login: str) -> Response:
        q = request.query_params
        visibility = q.get("visibility", "all")
        repos = [r for r in self._repos.values()
                 if visibility == "all" or (visibility == "private") == r.private]
        # Seeded repositories share their timestamps, so every sort key orders them by name.
        default = "asc" if q.get("sort", "full_name") == "full_name" else "desc"
        repos.sort(key=lambda r: r.full_name.lower(), reverse=q.get("direction", default) == "desc")
        return self._page(request, [self._repo_json(r) for r in repos])

    async def _get_repo(self, request: Request, login: str) -> Response:
        return JSONResponse(self._repo_json(self._repo(request)))

    async def _list_issues(self, request: Request, login: str) -> Response:
        q = request.query_params
        issues = [i for i in self._repo(request).issues.values() if _issue_matches(i, q)]
        key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(q.get("sort", ""),
                                                                                             "created_at")
        issues.sort(key=lambda i: (i[key], i["number"]), reverse=q.get("direction", "desc") == "desc")
        return self._page(request, issues)

    async def _get_issue(self, request: Request, login: str) -> Response:
        return JSONResponse(self._issue(request)[1])

    async def _create_issue(self, request: Request, login: str) -> Response:
        repo = self._repo(request)
        issue = self._new_issue(repo, login, await _json_object(request), _now())
        return JSONResponse(issue, status_code=201, headers={"location": issue["url"]})

    async def _update_issue(self, request: Request, login: str) -> Response:
        repo, issue = self._issue(request)
        data = await _json_object(request)
        if data.get("state", "open") not in ("open", "closed"):
            raise _invalid("Issue", "state", "invalid")
        if data.get("state_reason") not in (None, "completed", "not_planned", "duplicate", "reopened"):
            raise _invalid("Issue", "state_reason", "invalid")
        self._edit(issue, data)
        if data.get("state", issue["state"]) != issue["state"]:
            closed = data["state"] == "closed"
            issue |= {"state": data["state"], "closed_at": _now() if closed else None,
                      "closed_by": self._user_json(login) if closed else None,
                      "state_reason": data.get("state_reason") or ("completed" if closed else "reopened")}
        issue["updated_at"] = _now()
        if issue["number"] in repo.pulls:
            repo.pulls[issue["number"]] |= {k: issue[k] for k in ("title", "body", "state", "closed_at")}
        return JSONResponse(issue)

    async def _list_comments(self, request: Request, login: str) -> Response:
        repo, issue = self._issue(request)
        since = request.query_params.get("since", "")
        return self._page(request, [c for c in repo.comments[issue["number"]] if c["updated_at"] >= since])

    async def _create_comment(self, request: Request, login: str) -> Response:
        repo, issue = self._issue(request)
        data = await _json_object(request)
        if not isinstance(data.get("body"), str) or not data["body"].strip():
            raise _invalid("IssueComment", "body", "missing_field")
        comment = self._comment_json(repo, issue["number"], login, data["body"], _now())
        repo.comments[issue["number"]].append(comment)
        issue["comments"] += 1
        return JSONResponse(comment, status_code=201, headers={"location": comment["url"]})

    async def _list_pulls(self, request: Request, login: str) -> Response:
        q = request.query_params
        pulls = [p for p in self._repo(request).pulls.values()
                 if q.get("state", "open") in ("all", p["state"])
                 and q.get("base", p["base"]["ref"]) == p["base"]["ref"]
                 and q.get("head", p["head"]["label"]) == p["head"]["label"]]
        pulls.sort(key=lambda p: p["number"], reverse=q.get("direction", "desc") == "desc")
        return self._page(request, pulls)

    async def _get_pull(self, request: Request, login: str) -> Response:
        pull = self._repo(request).pulls.get(request.path_params["number"])
        if pull is None:
            raise _not_found()
        return JSONResponse(pull)

    async def _search_code(self, request: Request, login: str) -> Response:
        terms, quals = _search_query(request)
        items = []
        for repo in self._scoped_repos(quals):
            for path, content in repo.files.items():
                if (all(t in (path + "\n" + content).lower() for t in terms)
                        and quals.get("path", "") in path and path.endswith(quals.get("extension", ""))):
                    repo_json = self._repo_json(repo)
                    items.append({"name": path.rsplit("/", 1)[-1], "path": path, "sha": "c" * 40,
                                  "url": f"{repo_json['url']}/contents/{path}",
                                  "html_url": f"{repo_json['html_url']}/blob/main/{path}",
                                  "repository": repo_json, "score": 1.0})
        return self._page(request, items, search=True)

    async def _search_issues(self, request: Request, login: str) -> Response:
        terms, quals = _search_query(request, login)
        items = [issue | {"score": 1.0} for repo in self._scoped_repos(quals) for issue in repo.issues.values()
                 if all(t in f"{issue['title']}\n{issue['body'] or ''}".lower() for t in terms)
                 and _issue_matches(issue, {"state": "all"} | quals)]
        return self._page(request, items, search=True)

    async def _search_repos(self, request: Request, login: str) -> Response:
        terms, quals = _search_query(request)
        repos = [r for r in self._scoped_repos(quals)
                 if all(t in f"{r.name} {r.description} {' '.join(r.topics)}".lower() for t in terms)]
        if request.query_params.get("sort") == "stars":
            repos.sort(key=lambda r: r.stars, reverse=request.query_params.get("order", "desc") == "desc")
        return self._page(request, [self._repo_json(r) | {"score": 1.0} for r in repos], search=True)

    async def _get_other_user(self, request: Request, login: str) -> Response:
        username = request.path_params["username"]
        if username not in {r.owner for r in self._repos.values()} | {"hubot", login}:
            raise _not_found()
        return JSONResponse(self._user_json(username, full=True))

    async def _list_branches(self, request: Request, login: str) -> Response:
        repo = self._repo(request)
        return self._page(request, [{"name": name, "commit": {"sha": sha, "url": f"{repo_url}/commits/{sha}"},
                                     "protected": name == "main"}
                                    for repo_url in [f"{self.base_url}/repos/{repo.full_name}"]
                                    for name, sha in sorted(repo.branches.items())])

    async def _get_branch(self, request: Request, login: str) -> Response:
        repo = self._repo(request)
        if request.path_params["branch"] not in repo.branches:
            raise GitHubError(404, "Branch not found")
        return JSONResponse(self._branch_json(repo, request.path_params["branch"]))

    async def _create_ref(self, request: Request, login: str) -> Response:
        repo, data = self._repo(request), await _json_object(request)
        ref, sha = data.get("ref"), data.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise GitHubError(422, "Reference name must start with 'refs/' and have at least two slashes.")
        if not any(c["sha"] == sha for c in repo.commits):
            raise GitHubError(422, "Object does not exist")
        name = ref.removeprefix("refs/heads/")
        if name in repo.branches:
            raise GitHubError(422, "Reference already exists")
        repo.branches[name] = str(sha)
        return JSONResponse({"ref": ref, "node_id": f"REF_{name}", "url": f"{self.base_url}/repos/{repo.full_name}/"
                             f"git/{ref}", "object": {"type": "commit", "sha": sha}}, status_code=201)

    async def _list_commits(self, request: Request, login: str) -> Response:
        repo = self._repo(request)
        start = request.query_params.get("sha", "main")
        head = repo.branches.get(start, start)
        chain, seen = [], {c["sha"]: c for c in repo.commits}
        while head in seen:
            chain.append(seen[head])
            parents = seen[head]["parents"]
            head = parents[0]["sha"] if parents else ""
        if not chain:
            raise GitHubError(404, "No commit found for SHA: " + start)
        return self._page(request, chain)

    async def _get_contents(self, request: Request, login: str) -> Response:
        repo, path = self._repo(request), request.path_params["path"].strip("/")
        if path in repo.files:
            return JSONResponse(self._file_json(repo, path))
        entries = sorted({p[len(path) + 1:].split("/")[0] for p in repo.files if p.startswith(path + "/")})
        if not entries:
            raise _not_found()
        return JSONResponse([{"type": "file" if f"{path}/{e}" in repo.files else "dir", "name": e,
                              "path": f"{path}/{e}"} for e in entries])

    async def _put_contents(self, request: Request, login: str) -> Response:
        repo, path, data = self._repo(request), request.path_params["path"].strip("/"), await _json_object(request)
        if not isinstance(data.get("message"), str) or not isinstance(data.get("content"), str):
            raise _invalid("Contents", "message" if "message" not in data else "content", "missing_field")
        try:
            text = base64.b64decode(data["content"], validate=True).decode()
        except ValueError:
            raise GitHubError(422, "content is not valid Base64") from None
        if path in repo.files and data.get("sha") != _blob_sha(repo.files[path]):
            raise GitHubError(409, f"{path} does not match {data.get('sha') or 'the missing sha'}")
        created = path not in repo.files
        repo.files[path] = text
        commit = self._commit(repo, data.get("branch") or "main", login, data["message"], _now())
        return JSONResponse({"content": self._file_json(repo, path), "commit": commit}, status_code=201 if created
                            else 200)

    async def _delete_contents(self, request: Request, login: str) -> Response:
        repo, path, data = self._repo(request), request.path_params["path"].strip("/"), await _json_object(request)
        if path not in repo.files:
            raise _not_found()
        if data.get("sha") != _blob_sha(repo.files[path]):
            raise GitHubError(409, f"{path} does not match {data.get('sha')}")
        del repo.files[path]
        commit = self._commit(repo, data.get("branch") or "main", login, str(data.get("message")), _now())
        return JSONResponse({"content": None, "commit": commit})

    async def _create_pull(self, request: Request, login: str) -> Response:
        repo, data = self._repo(request), await _json_object(request)
        head, base = str(data.get("head", "")).split(":")[-1], str(data.get("base", ""))
        if head not in repo.branches or base not in repo.branches:
            raise _invalid("PullRequest", "head" if head not in repo.branches else "base", "invalid")
        if repo.branches[head] == repo.branches[base]:
            raise GitHubError(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                          "message": f"No commits between {base} and {head}"}])
        pull = self._new_pull(repo, login, str(data.get("title") or head), str(data.get("body") or ""), head, base)
        pull["draft"] = bool(data.get("draft"))
        return JSONResponse(pull, status_code=201, headers={"location": pull["url"]})

    async def _merge_pull(self, request: Request, login: str) -> Response:
        repo = self._repo(request)
        pull, data = repo.pulls.get(request.path_params["number"]), await _json_object(request)
        if pull is None:
            raise _not_found()
        if pull["merged"] or pull["state"] != "open":
            raise GitHubError(405, "Pull Request is not mergeable")
        if data.get("sha") not in (None, pull["head"]["sha"], repo.branches.get(pull["head"]["ref"])):
            raise GitHubError(409, "Head branch was modified. Review and try the merge again.")
        method = data.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise _invalid("PullRequest", "merge_method", "invalid")
        title = data.get("commit_title") or f"Merge pull request #{pull['number']}"
        commit = self._commit(repo, pull["base"]["ref"], login, title, _now())
        pull |= {"merged": True, "state": "closed", "merged_at": _now(), "merge_commit_sha": commit["sha"]}
        repo.issues[pull["number"]]["state"] = "closed"
        return JSONResponse({"sha": commit["sha"], "merged": True, "message": "Pull Request successfully merged"})

    async def _list_reviews(self, request: Request, login: str) -> Response:
        repo = self._repo(request)
        if request.path_params["number"] not in repo.pulls:
            raise _not_found()
        return self._page(request, repo.reviews.get(request.path_params["number"], []))

    async def _create_review(self, request: Request, login: str) -> Response:
        repo, data = self._repo(request), await _json_object(request)
        pull = repo.pulls.get(request.path_params["number"])
        if pull is None:
            raise _not_found()
        event = data.get("event")
        if event in ("REQUEST_CHANGES", "COMMENT") and not data.get("body"):
            raise GitHubError(422, "Unprocessable Entity", [{"resource": "PullRequestReview", "field": "body",
                                                              "code": "missing_field"}])
        if event == "APPROVE" and pull["user"]["login"] == login:
            raise GitHubError(422, "Unprocessable Entity: Can not approve your own pull request")
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
            str(event), "PENDING")
        review = {"id": next(self._ids), "user": self._user_json(login), "body": data.get("body") or "",
                  "state": state, "commit_id": data.get("commit_id") or pull["head"]["sha"],
                  "html_url": f"{pull['html_url']}#pullrequestreview-1", "submitted_at": _now()}
        repo.reviews.setdefault(pull["number"], []).append(review)
        return JSONResponse(review)

    async def _list_labels(self, request: Request, login: str) -> Response:
        return self._page(request, list(self._repo(request).labels.values()))

    async def _create_label(self, request: Request, login: str) -> Response:
        repo, data = self._repo(request), await _json_object(request)
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid("Label", "name", "missing_field")
        if name in repo.labels:
            raise _invalid("Label", "name", "already_exists")
        repo.labels[name] = _label(name, str(data.get("color") or "ededed"), data.get("description"))
        return JSONResponse(repo.labels[name], status_code=201)

    def _release_json(self, repo: _Repo, data: Mapping[str, Any], login: str) -> dict[str, Any]:
        release_id, tag = next(self._ids), str(data["tag_name"])
        return {"id": release_id, "tag_name": tag, "target_commitish": data.get("target_commitish") or "main",
                "name": data.get("name") or tag, "body": data.get("body") or "", "draft": bool(data.get("draft")),
                "prerelease": bool(data.get("prerelease")), "author": self._user_json(login), "assets": [],
                "created_at": _now(), "published_at": None if data.get("draft") else _now(),
                "url": f"{self.base_url}/repos/{repo.full_name}/releases/{release_id}",
                "html_url": f"https://github.com/{repo.full_name}/releases/tag/{tag}"}

    async def _list_releases(self, request: Request, login: str) -> Response:
        return self._page(request, self._repo(request).releases)

    async def _latest_release(self, request: Request, login: str) -> Response:
        published = [r for r in self._repo(request).releases if not r["draft"] and not r["prerelease"]]
        if not published:
            raise _not_found()
        return JSONResponse(published[0])

    async def _create_release(self, request: Request, login: str) -> Response:
        repo, data = self._repo(request), await _json_object(request)
        if not isinstance(data.get("tag_name"), str) or not data["tag_name"]:
            raise _invalid("Release", "tag_name", "missing_field")
        if any(r["tag_name"] == data["tag_name"] for r in repo.releases):
            raise _invalid("Release", "tag_name", "already_exists")
        release = self._release_json(repo, data, login)
        repo.releases.insert(0, release)
        return JSONResponse(release, status_code=201, headers={"location": release["url"]})

    async def _list_runs(self, request: Request, login: str) -> Response:
        q = request.query_params
        runs = [r for r in self._repo(request).runs
                if q.get("branch", r["head_branch"]) == r["head_branch"]
                and q.get("status") in (None, r["status"], r["conclusion"])]
        return self._page(request, runs, key="workflow_runs")

    async def _rerun(self, request: Request, login: str) -> Response:
        run = next((r for r in self._repo(request).runs if r["id"] == request.path_params["run_id"]), None)
        if run is None:
            raise _not_found()
        if run["status"] != "completed":
            raise GitHubError(403, "This workflow is already running")
        run |= {"status": "queued", "conclusion": None, "run_attempt": run["run_attempt"] + 1}
        return JSONResponse({}, status_code=201)

    def _scoped_repos(self, quals: Mapping[str, str]) -> list[_Repo]:
        """Repositories a search's repo:/user:/org:/language: qualifiers allow."""
        owner = quals.get("user") or quals.get("org")
        return [r for r in self._repos.values()
                if quals.get("repo", r.full_name).lower() == r.full_name.lower()
                and (owner or r.owner).lower() == r.owner.lower()
                and quals.get("language", r.language).lower() == r.language.lower()]


def _error_response(status: int, message: str, errors: list[dict[str, str]] | None = None,
                    headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    body |= {"documentation_url": DOCS, "status": str(status)}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _s256(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _blob_sha(content: str) -> str:
    """Git's blob id: SHA-1 of "blob <size>\\0" + content."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _label(name: str, color: str = "d73a4a", description: str | None = None) -> dict[str, Any]:
    return {"id": _stable_id(name), "node_id": f"LA_{name}", "name": name, "color": color,
            "default": name in ("bug", "enhancement", "documentation"), "description": description}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise GitHubError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise GitHubError(400, "Problems parsing JSON")
    return data


def _search_query(request: Request, login: str = "") -> tuple[list[str], dict[str, str]]:
    """Split `q` into lower-case terms and qualifiers (`is:` may repeat: it is stored as is_issue, is_open...)."""
    q = request.query_params.get("q", "")
    if not q.strip():
        raise _invalid("Search", "q", "missing")
    terms, quals = [], {}
    for word in shlex.split(q):
        name, sep, value = word.partition(":")
        if not sep:
            terms.append(word.lower())
        elif name == "is":
            quals["state" if value in ("open", "closed") else "is"] = value
        else:
            quals[name] = login if value == "@me" else value
    return terms, quals


def _issue_matches(issue: dict[str, Any], filters: Mapping[str, str]) -> bool:
    """GitHub's issue filters, shared by the list endpoint (query parameters) and search (qualifiers)."""
    state = filters.get("state", "open")
    labels = {label["name"] for label in issue["labels"]}
    wanted = {name.strip() for name in filters.get("labels", filters.get("label", "")).split(",") if name.strip()}
    assignee = filters.get("assignee")
    logins = {a["login"] for a in issue["assignees"]}
    kind = filters.get("is")
    return (state in ("all", issue["state"]) and wanted <= labels
            and filters.get("creator", filters.get("author", issue["user"]["login"])) == issue["user"]["login"]
            and (assignee is None or (assignee == "none" and not logins) or (assignee == "*" and bool(logins))
                 or assignee in logins)
            and (kind is None or (kind in ("pr", "pull-request")) == ("pull_request" in issue)))

