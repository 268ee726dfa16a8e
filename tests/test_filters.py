from __future__ import annotations

from typing import Any

import pytest

from server.errors import InvalidInput
from server.sessions import filters
from server.sessions.options import SessionCreate, SessionOptions, parse
from tests.catalog_fixture import small_catalog

CATALOG = small_catalog()


def allowed(**options: Any) -> set[str]:
    opts = parse(SessionOptions, options)
    filters.validate(CATALOG, opts)
    return set(filters.resolve_allowed(CATALOG, opts))


def test_no_filter_allows_everything() -> None:
    assert allowed() == set(CATALOG.tools)


def test_toolkit_list_enable_and_disable() -> None:
    assert allowed(toolkits=["slack"]) == {"SLACK_SEND_MESSAGE", "SLACK_LIST_CHANNELS"}
    assert allowed(toolkits={"enable": ["slack"]}) == allowed(toolkits=["slack"])
    assert allowed(toolkits={"disable": ["slack", "gmail"]}) == {
        "GITHUB_CREATE_ISSUE", "GITHUB_LIST_ISSUES", "GITHUB_DELETE_REPO"}
    assert allowed(toolkits={"enable": []}) == set()


def test_per_toolkit_tools_enable_disable_tags() -> None:
    assert allowed(toolkits=["github"], tools={"github": ["GITHUB_LIST_ISSUES"]}) == {"GITHUB_LIST_ISSUES"}
    assert allowed(toolkits=["github"], tools={"github": {"disable": ["github_delete_repo"]}}) == {
        "GITHUB_CREATE_ISSUE", "GITHUB_LIST_ISSUES"}
    assert allowed(tools={"github": {"tags": ["readOnlyHint"]}}) == {
        "GITHUB_LIST_ISSUES", "SLACK_SEND_MESSAGE", "SLACK_LIST_CHANNELS", "GMAIL_SEND_EMAIL", "GMAIL_FETCH_EMAILS"}


def test_tags_enable_and_disable_include_toolkit_categories() -> None:
    assert allowed(tags=["readOnlyHint"]) == {"GITHUB_LIST_ISSUES", "SLACK_LIST_CHANNELS", "GMAIL_FETCH_EMAILS"}
    assert "GITHUB_DELETE_REPO" not in allowed(tags={"disable": ["destructiveHint"]})
    assert allowed(tags={"enable": ["chat"]}) == {"SLACK_SEND_MESSAGE", "SLACK_LIST_CHANNELS"}


@pytest.mark.parametrize(("options", "needle"), [
    ({"toolkits": ["githb"]}, "did you mean github"),
    ({"toolkits": {"enabled": ["github"]}}, "did you mean 'enable'"),
    ({"tools": {"github": ["GITHUB_CREATE_ISUE"]}}, "GITHUB_CREATE_ISSUE"),
    ({"tags": ["readOnlyHnt"]}, "readOnlyHint"),
    ({"toolkits": ["slack"], "tools": {"github": ["GITHUB_LIST_ISSUES"]}}, "not enabled by `toolkits`"),
    ({"toolkits": {"enable": ["a"], "disable": ["b"]}}, "exactly one of"),
    ({"multi_account": {"max_accounts_per_toolkit": 50}}, "max_accounts_per_toolkit"),
])
def test_mistakes_are_refused_with_the_fix(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        allowed(**options)
    assert needle in exc.value.message


def test_user_id_rules() -> None:
    for bad in ("", "   ", "x" * 257):
        with pytest.raises(InvalidInput, match="user_id"):
            parse(SessionCreate, {"user_id": bad})
    assert parse(SessionCreate, {"user_id": "x" * 256}).user_id == "x" * 256


def test_sandbox_is_an_alias_of_workbench() -> None:
    opts = parse(SessionOptions, {"sandbox": {"enable": False}})
    assert opts.workbench.enable is False and opts.stored()["workbench"] == {"enable": False}
