"""Every shipped toolkit loads with the real loader and its definitions are honest and searchable."""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import anyio
import httpx
import pytest
from jsonschema import Draft202012Validator

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkits
from server.catalog.model import Tool, Toolkit
from server.catalog.retrieval_set import load_builtin_set
from server.values import ToolContext

LOCAL_TOOLKITS = ("datetime", "math", "text", "sqlite", "http")
HINTS = {"readOnlyHint", "idempotentHint", "destructiveHint", "openWorldHint"}
QUERIES = Path(__file__).parent / "data" / "search_queries.jsonl"


@cache
def _all_toolkits() -> dict[str, Toolkit]:
    """The shipped folder through the real loader, once per test run."""
    return {toolkit.slug: toolkit for toolkit in load_toolkits([BUILTIN_TOOLKITS])}


def _toolkits() -> list[Toolkit]:
    return [_all_toolkits()[slug] for slug in LOCAL_TOOLKITS]


def _tools() -> list[Tool]:
    return [tool for toolkit in _toolkits() for tool in toolkit.tools.values()]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolContext]:
    client = httpx.AsyncClient()
    yield ToolContext("sess_test", "user_test", tmp_path_factory.mktemp("data"), client, {})
    anyio.run(client.aclose)


def test_the_builtin_folder_loads_with_every_local_toolkit() -> None:
    loaded = _all_toolkits()
    assert set(LOCAL_TOOLKITS) <= set(loaded)
    for slug in LOCAL_TOOLKITS:
        assert not loaded[slug].needs_auth
        assert loaded[slug].aliases, f"{slug} needs aliases for search"


def test_at_least_25_local_tools() -> None:
    counts = {toolkit.slug: len(toolkit.tools) for toolkit in _toolkits()}
    assert sum(counts.values()) >= 25, counts


@pytest.mark.parametrize("tool", _tools(), ids=lambda t: t.slug)
def test_tool_definition_is_complete(tool: Tool) -> None:
    assert tool.slug.startswith(tool.toolkit.upper() + "_")
    assert callable(tool.handler)
    assert 80 <= len(tool.description) <= 600, "1-3 sentences: what, when, returns"
    assert HINTS & set(tool.tags), "tags carry the MCP hints"
    assert len(set(tool.tags) - HINTS) >= 2, "and a few topical tags"
    assert tool.input_schema.get("additionalProperties") is False
    for name, prop in tool.input_schema["properties"].items():
        assert prop.get("description"), f"{tool.slug}.{name} needs a description"
    for name in tool.input_schema.get("required", []):
        assert name in tool.input_schema["properties"]


@pytest.mark.parametrize("tool", [t for tk in _all_toolkits().values() for t in tk.tools.values()],
                         ids=lambda t: t.slug)
def test_examples_validate_against_the_schema(tool: Tool) -> None:
    examples = tool.input_schema.get("examples", [])
    if tool.toolkit in LOCAL_TOOLKITS:
        assert examples, f"{tool.slug} has no example arguments"
    validator = Draft202012Validator(dict(tool.input_schema))
    for example in examples:
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{tool.slug} example {example}: {errors}"


@pytest.mark.parametrize("tool", [t for t in _tools() if t.toolkit in ("datetime", "math", "text")],
                         ids=lambda t: t.slug)
def test_examples_of_offline_toolkits_run(tool: Tool, ctx: ToolContext) -> None:
    """The examples are what an agent copies first, so they must work (http/sqlite need a server or file)."""
    assert not inspect.iscoroutinefunction(tool.handler)
    for example in tool.input_schema["examples"]:
        json.dumps(tool.handler(example, ctx))  # runs, and the result is JSON-serialisable as promised


def test_search_queries_file_is_labelled_for_every_toolkit() -> None:
    """The built-in evaluation set (issue 14): at least 5 everyday use cases for every toolkit of the
    catalog, and every tool of the local toolkits labelled at least twice."""
    lines = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) >= 150
    ids = [q["_id"] for q in lines]
    assert len(ids) == len(set(ids))
    assert len({q["text"].lower() for q in lines}) == len(lines), "no duplicate queries"
    toolkits = load_builtin_set().toolkits
    slugs = {tool.slug for toolkit in toolkits for tool in toolkit.tools.values()}
    coverage: Counter[str] = Counter()
    per_toolkit: Counter[str] = Counter()
    for query in lines:
        assert set(query) == {"_id", "text", "relevant"} and query["text"].strip()
        assert query["relevant"] and set(query["relevant"]) <= slugs, query
        coverage.update(query["relevant"])
        per_toolkit.update({tool.toolkit for toolkit in toolkits for tool in toolkit.tools.values()
                            if tool.slug in query["relevant"]})
    thin_toolkits = sorted(tk.slug for tk in toolkits if per_toolkit[tk.slug] < 5)
    assert not thin_toolkits, f"toolkits with fewer than five labelled use cases: {thin_toolkits}"
    local = {tool.slug for toolkit in toolkits if not toolkit.needs_auth for tool in toolkit.tools.values()}
    thin = sorted(slug for slug in local if coverage[slug] < 2)
    assert not thin, f"local tools with fewer than two labelled queries: {thin}"
