"""Issue 15, must-show 4: every meta tool declares an `outputSchema` that its real results (success and
failure) validate against, and the OpenAI Agents SDK's own strict-mode conversion accepts
COMPOSIO_SEARCH_TOOLS and COMPOSIO_GET_TOOL_SCHEMAS (no `$ref`/`$defs` in our input schemas)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents.mcp import MCPServerStreamableHttp
from agents.mcp.util import MCPUtil
from agents.strict_schema import ensure_strict_json_schema
from jsonschema import Draft202012Validator
from mcp import Client

from server.meta_tools.registry import CORE_META_TOOLS
from tests.live import LiveServer

pytestmark = pytest.mark.anyio

KEYED = """
slug: keyed
name: Keyed
description: A test service that authenticates with an API key header.
base_url: http://127.0.0.1:9
auth_schemes:
  - {type: api_key, api_key_in: header, api_key_name: X-Api-Key}
tools:
  - slug: KEYED_WHOAMI
    name: Key check
    description: Return which API key the service received.
    input_schema: {type: object, properties: {}}
    http: {method: GET, path: /keyed}
"""

# Per meta tool: calls whose results must validate, covering success and failure shapes.
CALLS: dict[str, list[dict[str, Any]]] = {
    "COMPOSIO_SEARCH_TOOLS": [{"queries": [{"use_case": "convert 9am New York time to Tokyo"},
                                           {"use_case": "evaluate 2+2 then call the key check"}]},
                              {"queries": []}],
    "COMPOSIO_GET_TOOL_SCHEMAS": [{"tool_slugs": ["MATH_EVALUATE", "MATH_EVALUTE"],
                                   "include": ["input_schema", "output_schema"]}, {"tool_slugs": "nope"}],
    "COMPOSIO_MULTI_EXECUTE_TOOL": [
        {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "2 + 2"}},
                   {"tool_slug": "DATETIME_NOW", "arguments": {}}],
         "memory": {"math": ["the user likes exact answers"]}},
        {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "1/0"}}]},
        {"tools": [{"tool_slug": "KEYED_WHOAMI", "arguments": {}}]},
        {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"wrong": 1}}, {"tool_slug": "NO_SUCH_TOOL"}]},
        {"tools": [{"tool_slug": "MATH_EVALUATE", "arguments": {"expression": "3 * 3"}}],
         "sync_response_to_workbench": True},
    ],
    "COMPOSIO_MANAGE_CONNECTIONS": [{"toolkits": ["math", "keyed", "nosuchkit"]}, {"toolkits": []}],
    "COMPOSIO_WAIT_FOR_CONNECTIONS": [{"toolkits": ["math", "keyed", "nosuchkit"], "timeout_seconds": 1},
                                      {"toolkits": ["math"], "mode": "any"}, {"toolkits": []}],
    "COMPOSIO_REMOTE_WORKBENCH": [{"code_to_execute": "x = 21\nx * 2"}, {"code_to_execute": "1 / 0"}],
    "COMPOSIO_REMOTE_BASH_TOOL": [{"command": "echo hi && ls"}, {"command": "exit 3"}],
}


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[LiveServer]:
    (tmp_path / "kits" / "keyed").mkdir(parents=True)
    (tmp_path / "kits" / "keyed" / "toolkit.yaml").write_text(KEYED)
    live = LiveServer(tmp_path / "data", toolkit_paths=[str(tmp_path / "kits")]).start()
    yield live
    live.stop()


def session_url(server: LiveServer) -> str:
    return server.create_session(toolkits=["math", "datetime", "keyed"],
                                 manage_connections={"enable": True, "wait_for_connections": True})["mcp"]["url"]


async def test_every_meta_tool_result_validates_against_its_output_schema(keyed_server: LiveServer) -> None:
    async with Client(session_url(keyed_server)) as client:  # the SDK client also checks results itself
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(listed) == {tool.name for tool in CORE_META_TOOLS} == set(CALLS)
        seen: set[tuple[str, bool]] = set()
        for name, calls in CALLS.items():
            schema = listed[name].output_schema
            assert schema is not None, name
            Draft202012Validator.check_schema(schema)
            assert "$ref" not in json.dumps(schema)
            for arguments in calls:
                result = await client.call_tool(name, arguments)
                content = result.structured_content
                errors = [e.message for e in Draft202012Validator(schema).iter_errors(content)]
                assert errors == [], (name, arguments, errors, content)
                assert json.loads(result.content[0].text) == content
                seen.add((name, content["successful"]))
    assert seen == {(name, ok) for name in CALLS for ok in (True, False)}  # both shapes of every tool


async def test_openai_agents_strict_mode_accepts_search_and_get_schemas(keyed_server: LiveServer) -> None:
    strict = {}
    async with MCPServerStreamableHttp(params={"url": session_url(keyed_server)}) as server:
        for tool in await server.list_tools():
            assert "$ref" not in json.dumps(tool.input_schema) and "$defs" not in json.dumps(tool.input_schema)
            strict[tool.name] = MCPUtil.to_function_tool(tool, server, True).strict_json_schema
            if tool.name in ("COMPOSIO_SEARCH_TOOLS", "COMPOSIO_GET_TOOL_SCHEMAS"):
                converted = ensure_strict_json_schema(copy.deepcopy(tool.input_schema))
                assert converted["additionalProperties"] is False
        found = await server.call_tool("COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "time in Tokyo"}]})
        assert found.structured_content["successful"] is True
    assert strict["COMPOSIO_SEARCH_TOOLS"] and strict["COMPOSIO_GET_TOOL_SCHEMAS"], strict
