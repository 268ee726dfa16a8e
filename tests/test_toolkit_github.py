"""toolkits/github beyond issues: a personal access token through the Connect Link (no OAuth app), then
branches, files, pull requests, reviews, merges, releases, pages and rate limits against the GitHub stand-in."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.auth_fixtures import follow_oauth_link, hidden_fields
from tests.github_standin import GitHubStandIn, fixed_tokens
from tests.live import LiveServer
from tests.mcp_helpers import call

pytestmark = pytest.mark.anyio
PAT = "github_pat_11ASTANDIN0123456789_abcdefghijklmnopqrstuvwxyz"
REPO = {"owner": "octocat", "repo": "hello-world"}


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(fixed_tokens({PAT: "octocat"})) as standin:
        yield standin


@pytest.fixture
def server(tmp_path: Path, github: GitHubStandIn) -> Iterator[LiveServer]:
    """No [oauth_apps] at all: the Connect Link offers GitHub's token form instead of failing."""
    live = LiveServer(tmp_path / "data", toolkit_overrides={"github": {"base_url": github.base_url}}).start()
    try:
        yield live
    finally:
        live.stop()


def paste_token(url: str) -> httpx.Response:
    with httpx.Client(timeout=30) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and "Personal access token" in page.text
        assert "github.com/settings/personal-access-tokens" in page.text
        return browser.post(url, data={**hidden_fields(page.text), "token": PAT})


async def connect(client: Client) -> None:
    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["github"]}))["data"]["results"]["github"]
    assert link["status"] == "initiated" and link["auth_scheme"] == "BEARER_TOKEN", link
    done = paste_token(link["redirect_url"])
    assert done.status_code == 200 and "connected" in done.text.lower()


async def run(client: Client, slug: str, **arguments: Any) -> dict[str, Any]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL", {"tools": [{"tool_slug": slug, "arguments": arguments}]})
    result = batch["data"]["results"][0]
    return result["response"] or {"successful": False, "refused": result["error"]}  # None: refused before running


async def test_token_connect_then_branch_commit_pull_request_review_merge(server: LiveServer,
                                                                           github: GitHubStandIn) -> None:
    """Issue #10 item 3 for GitHub, then the everyday change workflow end to end."""
    session = server.create_session(user_id="octo_user", toolkits=["github"])
    async with Client(session["mcp"]["url"]) as client:
        await connect(client)
        me = await run(client, "GITHUB_GET_AUTHENTICATED_USER")
        assert me["successful"] and me["data"]["login"] == "octocat"

        main = await run(client, "GITHUB_GET_BRANCH", **REPO, branch="main")
        head = main["data"]["commit"]["sha"]
        created = await run(client, "GITHUB_CREATE_BRANCH", **REPO, ref="refs/heads/docs-notes", sha=head)
        assert created["successful"] and created["data"]["object"]["sha"] == head
        written = await run(client, "GITHUB_CREATE_OR_UPDATE_FILE", **REPO, path="docs/notes.md",
                            message="Add notes", text="# Notes\nRun `make` first.\n", branch="docs-notes")
        assert written["successful"] and written["data"]["content"]["path"] == "docs/notes.md"
        pull = await run(client, "GITHUB_CREATE_PULL_REQUEST", **REPO, title="Add notes", head="docs-notes",
                         base="main", body="Adds setup notes.")
        assert pull["successful"], pull
        number = pull["data"]["number"]
        approve_own = await run(client, "GITHUB_CREATE_REVIEW", **REPO, pull_number=number, event="APPROVE")
        assert not approve_own["successful"] and "Can not approve your own pull request" in approve_own["error"]
        comment = await run(client, "GITHUB_CREATE_REVIEW", **REPO, pull_number=number, event="COMMENT",
                            body="Self-review: fine.")
        assert comment["successful"] and comment["data"]["state"] == "COMMENTED"
        merged = await run(client, "GITHUB_MERGE_PULL_REQUEST", **REPO, pull_number=number, merge_method="squash")
        assert merged["successful"] and merged["data"]["merged"] is True
        again = await run(client, "GITHUB_MERGE_PULL_REQUEST", **REPO, pull_number=number)
        assert not again["successful"] and "405" in again["error"] and "not mergeable" in again["error"]

        read = await run(client, "GITHUB_GET_FILE_CONTENTS", **REPO, path="docs/notes.md", ref="docs-notes")
        assert read["data"]["text"] == "# Notes\nRun `make` first.\n" and "content" not in read["data"]
        assert read["data"]["sha"] == written["data"]["content"]["sha"]
        stale = await run(client, "GITHUB_CREATE_OR_UPDATE_FILE", **REPO, path="docs/notes.md", message="Edit",
                          text="new", branch="docs-notes", sha="0" * 40)
        assert not stale["successful"] and "409" in stale["error"] and "does not match" in stale["error"]
        both = await run(client, "GITHUB_CREATE_OR_UPDATE_FILE", **REPO, path="x.md", message="x", text="a",
                         content="YQ==")
        assert not both["successful"] and "either `text` (plain text) or `content` (base64)" in both["error"]
        neither = await run(client, "GITHUB_CREATE_OR_UPDATE_FILE", **REPO, path="x.md", message="x")
        assert not neither["successful"] and "as `text` (plain text) or `content` (base64)" in neither["error"]
        folder = await run(client, "GITHUB_GET_FILE_CONTENTS", **REPO, path="src")
        assert folder["data"] == [{"type": "file", "name": "app.py", "path": "src/app.py"}]

    put = next(r for r in github.requests if r.method == "PUT" and "/contents/" in r.path)
    assert put.path == "/repos/octocat/hello-world/contents/docs/notes.md"  # slashes kept in the file path
    notes = base64.b64encode(b"# Notes\nRun `make` first.\n").decode()
    assert put.body == {"message": "Add notes", "content": notes, "branch": "docs-notes"}  # base64 on the wire
    assert not any(r.path.endswith("/contents/x.md") for r in github.requests)
    assert all(r.headers["authorization"] == f"Bearer {PAT}" for r in github.requests)


async def test_pages_releases_and_rate_limits(server: LiveServer, github: GitHubStandIn) -> None:
    session = server.create_session(user_id="octo_user", toolkits=["github"])
    async with Client(session["mcp"]["url"]) as client:
        await connect(client)
        no_release = await run(client, "GITHUB_GET_LATEST_RELEASE", **REPO)
        assert not no_release["successful"]
        assert no_release["error_details"]["code"] == "tool_error" and "404" in no_release["error"]
        release = await run(client, "GITHUB_CREATE_RELEASE", **REPO, tag_name="v1.0.0", name="First",
                            body="Hello.")
        assert release["successful"] and release["data"]["tag_name"] == "v1.0.0"

        github.fail_next(429, "API rate limit exceeded for user ID 1.", {"retry-after": "1"})
        latest = await run(client, "GITHUB_GET_LATEST_RELEASE", **REPO)
        assert latest["successful"] and latest["data"]["name"] == "First"  # waited out, then answered

        commits = await run(client, "GITHUB_LIST_COMMITS", **REPO, per_page=1, max_results=2)
        assert commits["successful"] and len(commits["data"]["items"]) == 2
        assert commits["data"]["has_more"] is False and commits["data"]["next_page"] is None  # main has 2 commits
        labels = await run(client, "GITHUB_LIST_LABELS", **REPO, per_page=2, max_results=2)
        assert [label["name"] for label in labels["data"]["items"]] == ["bug", "enhancement"]
        assert labels["data"]["has_more"] is True and labels["data"]["next_page"] == 2

    latest_calls = [r for r in github.requests if r.path.endswith("/releases/latest")]
    assert len(latest_calls) == 3  # the 404, then the 429 and its retry
    pages = [r.query.get("page", "1") for r in github.requests if r.path.endswith("/commits")]
    assert pages == ["1", "2"]


def test_standin_keeps_git_facts(github: GitHubStandIn) -> None:
    headers = {"Authorization": f"Bearer {PAT}"}
    with httpx.Client(base_url=github.base_url, headers=headers) as api:
        readme = api.get("/repos/octocat/hello-world/contents/README.md").json()
        text = base64.b64decode(readme["content"])
        assert readme["sha"] == hashlib.sha1(b"blob %d\0" % len(text) + text).hexdigest()  # git's blob id
        folder = api.get("/repos/octocat/hello-world/contents/src").json()
        assert folder == [{"type": "file", "name": "app.py", "path": "src/app.py"}]
        branches = {b["name"]: b["commit"]["sha"] for b in api.get("/repos/octocat/hello-world/branches").json()}
        assert set(branches) == {"main", "fix-crash"} and branches["main"] != branches["fix-crash"]
        pull = api.get("/repos/octocat/hello-world/pulls/4").json()
        assert pull["head"]["sha"] == branches["fix-crash"]
        same = api.post("/repos/octocat/hello-world/pulls", json={"title": "x", "head": "main", "base": "main"})
        assert same.status_code == 422 and "No commits between main and main" in same.text
        dup = api.post("/repos/octocat/hello-world/labels", json={"name": "bug"})
        assert dup.status_code == 422 and dup.json()["errors"][0]["code"] == "already_exists"


async def test_oauth_app_round_trip_with_githubs_token_endpoint(tmp_path: Path, github: GitHubStandIn) -> None:
    """GitHub's own token endpoint quirks: errors arrive as HTTP 200 with `error` (a refused code must leave the
    account FAILED with GitHub's words), scopes come back comma-separated, OAuth App tokens do not expire."""
    server = LiveServer(tmp_path / "data", oauth_apps={"github": {"client_id": github.client_id,
                                                                  "client_secret": github.client_secret}},
                        toolkit_overrides={"github": {"base_url": github.base_url,
                                                      "authorize_url": github.authorize_url,
                                                      "token_url": github.token_url}}).start()
    try:
        session = server.create_session(user_id="octo_user", toolkits=["github"])
        async with Client(session["mcp"]["url"]) as client:
            github.refuse_next_code = True
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS",
                               {"toolkits": ["github"]}))["data"]["results"]["github"]
            assert link["auth_scheme"] == "OAUTH2"
            refused = follow_oauth_link(link["redirect_url"])
            assert refused.status_code == 400 and "bad_verification_code" in refused.text
            failed = server.api("GET", f"/connected_accounts/{link['connected_account_id']}").json()
            assert failed["status"] == "FAILED" and "incorrect or expired" in failed["status_reason"]

            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS",
                               {"toolkits": ["github"]}))["data"]["results"]["github"]
            assert follow_oauth_link(link["redirect_url"]).status_code == 200
            me = await run(client, "GITHUB_GET_AUTHENTICATED_USER")
            assert me["successful"] and me["data"]["login"] == "octocat"
        account = server.api("GET", f"/connected_accounts/{link['connected_account_id']}").json()
        assert account["status"] == "ACTIVE"
    finally:
        server.stop()
    authorize = next(r for r in github.requests if r.path == "/login/oauth/authorize")
    assert authorize.query["scope"] == "repo read:user user:email"
    assert authorize.query["code_challenge_method"] == "S256"
    exchanges = [r for r in github.requests if r.path == "/login/oauth/access_token"]
    assert len(exchanges) == 2 and all(r.body["code_verifier"] for r in exchanges)
    assert all(r.headers["accept"] == "application/json" for r in exchanges)  # else GitHub answers form-encoded


async def test_ci_runs_page_inside_the_body_and_rerun(server: LiveServer, github: GitHubStandIn) -> None:
    """Actions wraps each page as {total_count, workflow_runs}; `paginate.items` reaches inside it."""
    session = server.create_session(user_id="octo_user", toolkits=["github"])
    async with Client(session["mcp"]["url"]) as client:
        await connect(client)
        failed = await run(client, "GITHUB_LIST_WORKFLOW_RUNS", **REPO, status="failure", per_page=1, max_results=5)
        assert failed["successful"], failed
        assert [(r["head_branch"], r["run_number"]) for r in failed["data"]["items"]] == [("main", 3),
                                                                                        ("fix-crash", 2)]
        rerun = await run(client, "GITHUB_RERUN_WORKFLOW_RUN", **REPO, run_id=failed["data"]["items"][0]["id"])
        assert rerun["successful"]
        again = await run(client, "GITHUB_RERUN_WORKFLOW_RUN", **REPO, run_id=failed["data"]["items"][0]["id"])
        assert not again["successful"] and "already running" in again["error"]
