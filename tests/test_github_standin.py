"""The GitHub stand-in must answer like api.github.com, or end-to-end tests of the toolkit prove nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.github_standin import GitHubStandIn, fixed_tokens

TOKEN = "gho_standin_test_token_0123456789"
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(fixed_tokens({TOKEN: "octocat"})) as standin:
        yield standin


@pytest.fixture
def api(github: GitHubStandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=github.base_url, headers=HEADERS | {"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def test_bearer_token_is_required_and_checked(github: GitHubStandIn, api: httpx.Client) -> None:
    missing = httpx.get(github.base_url + "/user", headers=HEADERS)
    assert missing.status_code == 401 and missing.json()["message"] == "Requires authentication"
    wrong = httpx.get(github.base_url + "/user", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json() == {
        "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
    me = api.get("/user")
    assert me.status_code == 200 and me.json()["login"] == "octocat" and me.json()["public_repos"] == 2
    seen = github.requests[-1]
    assert (seen.method, seen.path) == ("GET", "/user")
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["accept"] == "application/vnd.github+json"
    assert seen.headers["x-github-api-version"] == "2022-11-28"


def test_link_header_pagination_and_rate_limit_headers(api: httpx.Client) -> None:
    first = api.get("/repos/octocat/hello-world/issues", params={"per_page": 3})
    assert [i["number"] for i in first.json()] == [5, 4, 2]  # open only, newest first, pull requests included
    assert set(first.links) == {"next", "last"}
    second = api.get(first.links["next"]["url"])
    assert [i["number"] for i in second.json()] == [1]
    assert set(second.links) == {"prev", "first"} and "page=1" in second.links["first"]["url"]
    assert first.headers["x-ratelimit-limit"] == "5000" and first.headers["x-ratelimit-resource"] == "core"
    assert int(second.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1
    everything = api.get("/repos/octocat/hello-world/issues", params={"state": "all", "per_page": 100})
    assert len(everything.json()) == 5 and "link" not in everything.headers


def test_errors_have_githubs_shape(api: httpx.Client) -> None:
    for path in ("/repos/octocat/nope", "/repos/octocat/hello-world/issues/999", "/no/such/endpoint"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest",
                                   "status": "404"}
    invalid = api.post("/repos/octocat/hello-world/issues", json={"body": "no title"})
    assert invalid.status_code == 422 and invalid.json()["message"] == "Validation Failed"
    assert invalid.json()["errors"] == [{"resource": "Issue", "field": "title", "code": "missing_field"}]
    assert api.get("/search/issues").status_code == 422


def test_issue_lifecycle_is_remembered(github: GitHubStandIn, api: httpx.Client) -> None:
    created = api.post("/repos/octocat/hello-world/issues",
                       json={"title": "Flaky login test", "body": "Fails one run in ten.", "labels": ["bug"]})
    assert created.status_code == 201
    issue = created.json()
    assert issue["number"] == 6 and issue["state"] == "open" and issue["user"]["login"] == "octocat"
    assert issue["labels"][0]["name"] == "bug" and issue["url"].startswith(github.base_url)
    assert github.requests[-1].body == {"title": "Flaky login test", "body": "Fails one run in ten.", "labels": ["bug"]}
    comment = api.post("/repos/octocat/hello-world/issues/6/comments", json={"body": "Seen on CI too."})
    assert comment.status_code == 201
    assert [c["body"] for c in api.get("/repos/octocat/hello-world/issues/6/comments").json()] == ["Seen on CI too."]
    closed = api.patch("/repos/octocat/hello-world/issues/6", json={"state": "closed", "state_reason": "not_planned"})
    assert closed.json()["state"] == "closed" and closed.json()["state_reason"] == "not_planned"
    open_numbers = [i["number"] for i in api.get("/repos/octocat/hello-world/issues").json()]
    assert 6 not in open_numbers
    found = api.get("/search/issues", params={"q": "flaky repo:octocat/hello-world is:issue"}).json()
    assert found["total_count"] == 1 and found["items"][0]["comments"] == 1


def test_search_results_and_pulls(api: httpx.Client) -> None:
    prs = api.get("/search/issues", params={"q": "is:pr is:open author:@me", "per_page": 1})
    assert prs.json()["total_count"] == 1 and "pull_request" in prs.json()["items"][0]
    assert prs.headers["x-ratelimit-resource"] == "search"
    code = api.get("/search/code", params={"q": "parse_config language:python"}).json()
    assert [(i["path"], i["repository"]["full_name"]) for i in code["items"]] == [("src/app.py",
                                                                                   "octocat/hello-world")]
    repos = api.get("/search/repositories", params={"q": "fork", "sort": "stars"}).json()
    assert [r["full_name"] for r in repos["items"]] == ["octocat/spoon-knife"]
    pull = api.get("/repos/octocat/hello-world/pulls/4").json()
    assert pull["head"]["ref"] == "fix-crash" and pull["base"]["ref"] == "main" and pull["merged"] is False
    assert [p["number"] for p in api.get("/repos/octocat/hello-world/pulls", params={"base": "main"}).json()] == [4]
    private = api.get("/user/repos", params={"visibility": "private"}).json()
    assert [r["full_name"] for r in private] == ["octocat/secret-plans"]


def test_fail_next_injects_one_error(github: GitHubStandIn, api: httpx.Client) -> None:
    github.fail_next(403, "You have exceeded a secondary rate limit", {"retry-after": "1"})
    limited = api.get("/user")
    assert limited.status_code == 403 and limited.headers["retry-after"] == "1"
    assert limited.json()["message"] == "You have exceeded a secondary rate limit"
    assert api.get("/user").status_code == 200
