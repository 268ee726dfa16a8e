"""A small in-memory catalog for unit tests, built through the real toolkit-file models and loader."""

from __future__ import annotations

from typing import Any

from server.catalog.catalog import Catalog
from server.catalog.loader import build_toolkit
from server.catalog.toolkit_file import ToolkitFile


def _tool(slug: str, description: str, tags: list[str]) -> dict[str, Any]:
    return {"slug": slug, "name": slug.split("_", 1)[1].replace("_", " ").title(), "description": description,
            "tags": tags, "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            "http": {"method": "GET", "path": "/x", "query": ["q"]}}


def toolkit(slug: str, tools: list[dict[str, Any]], categories: list[str] | None = None) -> ToolkitFile:
    return ToolkitFile.model_validate({"slug": slug, "name": slug.title(), "description": f"The {slug} toolkit.",
                                       "categories": categories or [], "base_url": "http://127.0.0.1:9",
                                       "tools": tools})


def small_catalog() -> Catalog:
    return Catalog([build_toolkit(spec) for spec in (
        toolkit("github", [
            _tool("GITHUB_CREATE_ISSUE", "Create a new issue in a repository.", ["createHint"]),
            _tool("GITHUB_LIST_ISSUES", "List issues of a repository.", ["readOnlyHint"]),
            _tool("GITHUB_DELETE_REPO", "Delete a repository permanently.", ["destructiveHint"]),
        ], categories=["developer"]),
        toolkit("slack", [
            _tool("SLACK_SEND_MESSAGE", "Post a message to a channel.", ["createHint"]),
            _tool("SLACK_LIST_CHANNELS", "List channels in the workspace.", ["readOnlyHint"]),
        ], categories=["chat"]),
        toolkit("gmail", [
            _tool("GMAIL_SEND_EMAIL", "Send an email.", ["createHint"]),
            _tool("GMAIL_FETCH_EMAILS", "Fetch emails matching a query.", ["readOnlyHint"]),
        ]),
    )])
