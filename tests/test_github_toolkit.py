"""toolkits/github must send what GitHub's API accepts: checked against facts from GitHub's OpenAPI description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.catalog.model import Tool, Toolkit
from tests.data.make_github_subset import DEFAULT_SPEC, SUBSET, build_subset, toolkit_operations

SPEC = json.loads(SUBSET.read_text(encoding="utf-8"))
OPERATIONS = {(op["method"], op["path"]): op for op in SPEC["operations"]}
TOOLKIT: Toolkit = load_toolkit_folder(BUILTIN_TOOLKITS / "github")
TOOLS = list(TOOLKIT.tools.values())


def operation(tool: Tool) -> dict[str, Any]:
    assert tool.http is not None
    return OPERATIONS[(tool.http.method, tool.http.path.replace("{+", "{"))]


def test_subset_covers_exactly_the_toolkit_and_names_its_source() -> None:
    assert list(OPERATIONS) == toolkit_operations(), "re-run tests/data/make_github_subset.py"
    assert SPEC["source"]["license"] == "MIT" and "octokit" in SPEC["source"]["url"]


def test_subset_matches_the_full_description() -> None:
    """Where the provider's full description is at hand (a development checkout), the committed subset
    must equal a fresh extraction; on a clean clone the committed subset is the reference."""
    if DEFAULT_SPEC.is_file():
        spec = json.loads(Path(DEFAULT_SPEC).read_text(encoding="utf-8"))
        assert build_subset(spec, toolkit_operations()) == SPEC, "re-run tests/data/make_github_subset.py"
    else:
        assert SPEC["operations"] and all(op["method"] and op["path"].startswith("/") for op in SPEC["operations"])


def test_toolkit_essentials() -> None:
    assert len(TOOLS) >= 35 and all(tool.http is not None for tool in TOOLS)
    assert TOOLKIT.base_url == "https://api.github.com"
    assert TOOLKIT.default_headers == {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    oauth = TOOLKIT.auth_schemes[0].oauth2
    assert oauth is not None
    assert (oauth.authorize_url, oauth.token_url) == ("https://github.com/login/oauth/authorize",
                                                      "https://github.com/login/oauth/access_token")
    assert oauth.default_scopes == ["repo", "read:user", "user:email"] and oauth.scope_separator == " "


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.slug)
def test_tool_matches_its_operation(tool: Tool) -> None:
    op = operation(tool)
    assert tool.http is not None
    schema = tool.input_schema
    properties, required = schema.get("properties", {}), set(schema.get("required", []))
    assert tool.http.path_params == op["path_params"]
    assert set(op["path_params"]) | set(op["required_query"]) | set(op["required_body"]) <= required
    assert set(tool.http.query) <= set(op["query_params"])
    sent_in_body = set(tool.http.body) if isinstance(tool.http.body, list) else set()
    assert set(op["required_body"]) <= sent_in_body <= set(op["body_params"])
    paged = {"max_results"} if tool.http.pagination is not None else set()  # consumed by the executor
    assert set(properties) == set(tool.http.path_params) | set(tool.http.query) | sent_in_body | paged, \
        "unsent arguments"
    for name, values in op["enums"].items():
        if name in properties and "enum" in properties[name]:
            assert set(properties[name]["enum"]) <= set(values), f"{name}: values GitHub does not accept"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.slug)
def test_schema_is_honest_for_an_llm(tool: Tool) -> None:
    schema = tool.input_schema
    assert schema.get("additionalProperties") is False
    for name, prop in schema["properties"].items():
        assert len(prop.get("description", "")) >= 10, f"{name} needs a description"
    if "per_page" in schema["properties"]:
        assert schema["properties"]["per_page"]["maximum"] in (50, 100)  # GitHub's limit: 100 (notifications 50)
    validator = Draft202012Validator(schema)
    for example in schema.get("examples", []):
        validator.validate(example)
    hints = {"readOnlyHint", "createHint", "updateHint", "destructiveHint"} & set(tool.tags)
    assert len(hints) == 1 and ("readOnlyHint" in hints) == (tool.http is not None and tool.http.method == "GET")
