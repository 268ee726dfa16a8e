"""toolkits/github must send what GitHub's API accepts: checked against GitHub's OpenAPI description."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from server.catalog import spec_check
from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.catalog.model import Tool, Toolkit

TOOLKIT: Toolkit = load_toolkit_folder(BUILTIN_TOOLKITS / "github")
TOOLS = list(TOOLKIT.tools.values())


def test_every_tool_matches_githubs_openapi_description() -> None:
    """Method, path, path parameters, required parameters and body fields, enum values and query names,
    against GitHub's own OpenAPI description (server/catalog/spec_check.py)."""
    report = spec_check.check_toolkit(TOOLKIT, spec_check.specs_dir())
    assert report is not None and report.spec == "github/api.github.com.json"
    assert report.mismatches == [] and report.checked == len(TOOLS), report.line()


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
