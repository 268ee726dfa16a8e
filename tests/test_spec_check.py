"""Every HTTP tool of every toolkit under toolkits/ against its provider's published API description
(../shared/data/api-specs), and the checker itself against deliberate mistakes in each format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from server.catalog import api_specs, spec_check
from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder, load_toolkits
from server.catalog.model import Toolkit
from server.errors import ConfigError

SPECS = spec_check.specs_dir()  # fails with a clear message when the shared descriptions are absent
# Toolkits whose provider publishes a description in the api-specs folder: they must declare it.
DESCRIBED = {"github": "github", "slack": "slack", "discord": "discord", "notion": "notion", "gmail": "google",
             "googlecalendar": "google", "googledrive": "google", "googlesheets": "google", "linear": "linear",
             "jira": "jira", "outlook": "microsoft-graph", "stripe": "stripe", "asana": "asana", "twilio": "twilio",
             "sendgrid": "sendgrid", "intercom": "intercom", "figma": "figma", "box": "box"}
MIN_COVERAGE = 0.9


def test_every_toolkit_with_a_published_description_is_checked_with_zero_mismatches(
        capsys: pytest.CaptureFixture[str]) -> None:
    toolkits = load_toolkits([BUILTIN_TOOLKITS])
    undeclared = [tk.slug for tk in toolkits if tk.slug in DESCRIBED and tk.api_spec is None
                  and any(t.http for t in tk.tools.values())]
    assert not undeclared, f"declare api_spec in toolkit.yaml for {undeclared}"
    reports = spec_check.check_catalog(toolkits, SPECS)
    with capsys.disabled():
        print()
        for report in reports:
            print("  spec check:", report.line())
    assert reports and any(r.toolkit == "github" for r in reports)
    for report in reports:
        assert DESCRIBED.get(report.toolkit, report.spec.split("/")[0]) == report.spec.split("/")[0]
        assert report.mismatches == [], report.line() + "\n" + "\n".join(report.mismatches)
        assert report.coverage >= MIN_COVERAGE, report.line() + "; unchecked: " + "; ".join(
            f"{r.slug} ({r.reason})" for r in report.results if not r.checked)


def tool(slug: str, http: dict[str, Any], properties: dict[str, Any] | None = None,
         required: list[str] | None = None) -> dict[str, Any]:
    return {"slug": slug, "name": slug.title(), "description": f"{slug} for the checker's own test.",
            "http": http, "input_schema": {"type": "object", "properties": properties or {},
                                           "required": required or []}}


def toolkit(root: Path, slug: str, spec: dict[str, Any], tools: list[dict[str, Any]], **extra: Any) -> Toolkit:
    (root / slug).mkdir(parents=True)
    body = {"slug": slug, "name": slug.title(), "description": "A toolkit with deliberate mistakes.",
            "base_url": "https://example.invalid", "api_spec": spec, "tools": tools, **extra}
    (root / slug / "toolkit.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    return load_toolkit_folder(root / slug)


OWNER_REPO = {"owner": {"type": "string"}, "repo": {"type": "string"}}


def problems(report: spec_check.ToolkitReport | None) -> dict[str, list[str]]:
    assert report is not None
    return {r.slug: r.problems for r in report.results}


def test_openapi_mistakes_are_each_named(tmp_path: Path) -> None:
    issues = "/repos/{owner}/{repo}/issues"
    kit = toolkit(tmp_path, "ghcheck", {"file": "github/api.github.com.json", "format": "openapi",
                                        "not_in_spec": {"GHCHECK_EXCUSED": "a method newer than the file"}}, [
        tool("GHCHECK_GOOD", {"method": "GET", "path": "/repos/{o}/{r}/issues", "query": ["state", "per_page"]},
             {"o": {"type": "string"}, "r": {"type": "string"}, "per_page": {"type": "integer"},
              "state": {"type": "string", "enum": ["open", "closed", "all"]}}, ["o", "r"]),
        tool("GHCHECK_NO_PATH", {"method": "GET", "path": "/repos/{owner}/{repo}/issuez"}, OWNER_REPO,
             ["owner", "repo"]),
        tool("GHCHECK_NO_METHOD", {"method": "PUT", "path": issues}, OWNER_REPO, ["owner", "repo"]),
        tool("GHCHECK_ENUM", {"method": "GET", "path": issues, "query": ["state"]},
             {**OWNER_REPO, "state": {"type": "string", "enum": ["open", "merged"]}}, ["owner", "repo"]),
        tool("GHCHECK_QUERY", {"method": "GET", "path": issues, "query": ["colour"]},
             {**OWNER_REPO, "colour": {"type": "string"}}, ["owner"]),
        tool("GHCHECK_BODY", {"method": "POST", "path": issues, "body": ["title", "priority"]},
             {**OWNER_REPO, "title": {"type": "string"}, "priority": {"type": "string"}}, ["owner", "repo"]),
        tool("GHCHECK_MISSING", {"method": "POST", "path": issues, "body": ["body"]},
             {**OWNER_REPO, "body": {"type": "string"}}, ["owner", "repo"]),
        tool("GHCHECK_EXCUSED", {"method": "GET", "path": "/brand/new"}),
        tool("GHCHECK_UNSENT", {"method": "GET", "path": issues}, {**OWNER_REPO, "labels": {"type": "string"}},
             ["owner", "repo"]),
    ])
    report = spec_check.check_toolkit(kit, SPECS)
    found = problems(report)
    assert found["GHCHECK_GOOD"] == [] and found["GHCHECK_EXCUSED"] == []
    assert found["GHCHECK_NO_PATH"] == ["GET /repos/{owner}/{repo}/issuez is not in the provider's description"]
    assert found["GHCHECK_NO_METHOD"] == [f"the provider has {issues} only as GET, POST"]
    assert found["GHCHECK_ENUM"] == ["state: values ['merged'] are not among the provider's ['open', 'closed', 'all']"]
    assert found["GHCHECK_QUERY"] == ["path parameter 'repo' must be required",
                                      "query parameter 'colour' is not one the provider accepts"]
    assert found["GHCHECK_BODY"] == ["body fields ['priority'] are not in the provider's request body",
                                     "the provider requires body field 'title'; the tool must require it"]
    assert found["GHCHECK_MISSING"] == ["the provider requires body field 'title'; the tool does not send it"]
    assert found["GHCHECK_UNSENT"] == ["arguments ['labels'] are never sent (not in the path, query, headers or body)"]
    assert report is not None and report.checked == 8 and report.http_tools == 9
    assert report.line() == ("ghcheck: 8/9 HTTP tools checked against github/api.github.com.json (89%), "
                             "9 mismatches")


def test_swagger_form_methods_and_discovery_documents(tmp_path: Path) -> None:
    slack = toolkit(tmp_path, "slackcheck", {"file": "slack/slack_web_openapi_v2.json", "format": "swagger"}, [
        tool("SLACKCHECK_POST", {"method": "POST", "path": "/chat.postMessage", "body": ["channel", "text"],
                                 "body_format": "form"},
             {"channel": {"type": "string"}, "text": {"type": "string"}}, ["channel"]),
        tool("SLACKCHECK_BAD", {"method": "POST", "path": "/chat.postMessage", "body": ["text", "colour"],
                                "body_format": "form"}, {"text": {"type": "string"}, "colour": {"type": "string"}}),
        tool("SLACKCHECK_HISTORY", {"method": "GET", "path": "/conversations.history",
                                    "query": ["channel", "cursor", "limit"]},
             {"channel": {"type": "string"}, "cursor": {"type": "string"}, "limit": {"type": "integer"}}),
    ])
    found = problems(spec_check.check_toolkit(slack, SPECS))
    assert found["SLACKCHECK_POST"] == [] and found["SLACKCHECK_HISTORY"] == []
    assert found["SLACKCHECK_BAD"] == ["body fields ['colour'] are not in the provider's request body",
                                       "the provider requires formData parameter 'channel'; the tool does not send it"]
    gmail = toolkit(tmp_path, "gmailcheck", {"file": "google/gmail.v1.json", "format": "google_discovery",
                                             "base_path": "/gmail/v1"}, [
        tool("GMAILCHECK_LIST", {"method": "GET", "path": "/users/{userId}/messages",
                                 "query": ["q", "maxResults", "pageToken", "labelIds", "fields"]},
             {"userId": {"type": "string", "default": "me"}, "q": {"type": "string"},
              "maxResults": {"type": "integer"}, "pageToken": {"type": "string"}, "labelIds": {"type": "array"},
              "fields": {"type": "string"}}, ["userId"]),
        tool("GMAILCHECK_SEND", {"method": "POST", "path": "/users/{userId}/messages/send", "body": ["raw", "cc"]},
             {"userId": {"type": "string"}, "raw": {"type": "string"}, "cc": {"type": "string"}}, ["userId"]),
        tool("GMAILCHECK_FORMAT", {"method": "GET", "path": "/users/{userId}/messages/{id}", "query": ["format"]},
             {"userId": {"type": "string"}, "id": {"type": "string"},
              "format": {"type": "string", "enum": ["full", "raw", "html"]}}, ["userId", "id"]),
    ])
    found = problems(spec_check.check_toolkit(gmail, SPECS))
    assert found["GMAILCHECK_LIST"] == []
    assert found["GMAILCHECK_SEND"] == ["body fields ['cc'] are not in the provider's request body"]
    assert found["GMAILCHECK_FORMAT"] == [
        "format: values ['html'] are not among the provider's ['minimal', 'full', 'raw', 'metadata']"]


def test_graphql_operations_are_validated_against_the_schema(tmp_path: Path) -> None:
    def gql(slug: str, query: str, variables: list[str], props: dict[str, Any], required: list[str]) -> dict[str, Any]:
        return tool(slug, {"method": "POST", "path": "/graphql", "graphql": {"query": query, "variables": variables}},
                    props, required)

    kit = toolkit(tmp_path, "lincheck", {"file": "linear/schema.graphql", "format": "graphql"}, [
        gql("LINCHECK_GOOD", "query I($first: Int, $after: String) { issues(first: $first, after: $after) "
                             "{ nodes { id identifier title } pageInfo { hasNextPage endCursor } } }",
            ["first", "after"], {"first": {"type": "integer"}, "after": {"type": "string"}}, []),
        gql("LINCHECK_FIELD", "query { issues { nodes { id colour } } }", [], {}, []),
        gql("LINCHECK_CREATE", "mutation C($input: IssueCreateInput!) { issueCreate(input: $input) "
                               "{ success issue { id } } }", ["input"], {"input": {"type": "object"}}, []),
        gql("LINCHECK_ARG", "query I($n: Int) { issues(count: $n) { nodes { id } } }", ["n"],
            {"n": {"type": "integer"}}, []),
    ])
    found = problems(spec_check.check_toolkit(kit, SPECS))
    assert found["LINCHECK_GOOD"] == []
    assert found["LINCHECK_FIELD"] == ["GraphQL: Cannot query field 'colour' on type 'Issue'."]
    assert found["LINCHECK_CREATE"] == ["GraphQL variable $input is non-null; argument 'input' must be required"]
    assert found["LINCHECK_ARG"] == ["GraphQL: Unknown argument 'count' on field 'Query.issues'. Did you mean 'sort'?"]


def test_paths_compare_with_parameter_names_normalised() -> None:
    assert api_specs.template("/users/{user-id}/messages/") == api_specs.template("users/{user_id}/messages")
    assert api_specs.template("/v1/{+name}:get") == "/v1/{}:get"
    assert api_specs.placeholders("/files/{fileId}/{+path}") == ["fileId", "path"]


def test_an_absent_specs_folder_and_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="providers' API descriptions are not at .*missing"):
        spec_check.specs_dir(tmp_path / "missing")
    kit = toolkit(tmp_path, "nofile", {"file": "nowhere/api.json", "format": "openapi"},
                  [tool("NOFILE_GET", {"method": "GET", "path": "/x"})])
    with pytest.raises(ConfigError, match="api_spec.file 'nowhere/api.json' is not in"):
        spec_check.check_toolkit(kit, SPECS)
