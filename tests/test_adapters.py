"""Issue 15: session tools as agent frameworks' own tool objects, checked with the frameworks' own code.

Each framework converts the tools as it would before sending them to a model, and calls them as its
agents do; the calls run through a real server.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import FunctionTool as AgentsFunctionTool
from agents.tool_context import ToolContext
from google.genai import types as genai
from langchain_core.messages import ToolMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from llama_index.core.tools import FunctionTool as LlamaFunctionTool

from server.client import AsyncConcierge, Concierge, ConfigurationError, Session
from server.client.adapters.openai_agents import is_strict
from tests.live import API_KEY, LiveServer

ROOT = Path(__file__).resolve().parents[1]
ECHO_CALL = {"tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "hello"}}]}
FAIL_CALL = {"tools": [{"tool_slug": "DEMO_FAIL", "arguments": {}}]}
SEARCH_CALL = {"queries": [{"use_case": "echo some text"}]}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    toolkits = Path(__file__).parent / "fixtures" / "toolkits"
    server = LiveServer(tmp_path_factory.mktemp("adapters") / "data", toolkit_paths=[toolkits]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def session(live: LiveServer) -> Iterator[Session]:
    with Concierge(live.url, API_KEY) as concierge:
        yield concierge.create(user_id="user_1", toolkits=["demo"], preload={"tools": ["DEMO_ECHO"]})


def listings(session: Session) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in session.tools(provider=None)}


def same_parameters(converted: dict[str, Any], schema: dict[str, Any]) -> bool:
    """The same parameters after a framework's conversion (which may inline `$defs` or drop titles)."""
    return (converted.get("type") == schema.get("type") == "object"
            and list(converted["properties"]) == list(schema["properties"])
            and sorted(converted.get("required", [])) == sorted(schema.get("required", [])))


def echoed(text: str) -> str:
    return json.loads(text)["data"]["results"][0]["response"]["data"]["text"]


def test_importing_the_client_loads_no_framework() -> None:
    code = "import sys, server.client; print('\\n'.join(sorted(sys.modules)))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=ROOT).stdout.split()
    assert "server.client" in modules
    assert [m for m in modules if m.startswith(("langchain", "agents", "google", "llama_index"))] == []


def test_provider_set_once_on_the_client(live: LiveServer) -> None:
    with Concierge(live.url, API_KEY, provider="langchain") as concierge:
        session = concierge.create(user_id="user_1", toolkits=["demo"])
        assert all(isinstance(t, StructuredTool) for t in session.tools())
        assert isinstance(session.tools(provider="openai")[0], dict)  # a call can still choose
    with pytest.raises(ConfigurationError, match="langchain"):
        Concierge(live.url, API_KEY, provider="crew")  # type: ignore[arg-type]


def test_a_framework_that_is_not_installed_is_named_with_its_package(session: Session) -> None:
    # crewai cannot be installed next to the server (it pins mcp<2), so it is absent here
    with pytest.raises(ImportError, match="pip install crewai"):
        session.tools(provider="crewai")


def test_langchain_tools_convert_and_run(session: Session) -> None:
    tools = {t.name: t for t in session.tools(provider="langchain")}
    plain = listings(session)
    assert list(tools) == list(plain)
    for name, tool in tools.items():
        assert isinstance(tool, StructuredTool)
        function = convert_to_openai_tool(tool)["function"]  # what LangChain sends to a model
        assert function["name"] == name
        assert same_parameters(function["parameters"], plain[name]["input_schema"])

    message = tools["COMPOSIO_MULTI_EXECUTE_TOOL"].invoke(
        {"type": "tool_call", "id": "call_1", "name": "COMPOSIO_MULTI_EXECUTE_TOOL", "args": ECHO_CALL})
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call_1"
    assert echoed(message.content) == "hello"
    direct = asyncio.run(tools["DEMO_ECHO"].ainvoke({"text": "async"}))
    assert json.loads(direct)["data"]["data"]["text"] == "async"
    failed = json.loads(tools["COMPOSIO_MULTI_EXECUTE_TOOL"].invoke(FAIL_CALL))
    assert failed["data"]["results"][0]["error"] == "this tool always fails"


def test_openai_agents_function_tools_run(session: Session) -> None:
    tools = {t.name: t for t in session.tools(provider="openai_agents")}
    plain = listings(session)
    assert list(tools) == list(plain)
    for name, tool in tools.items():
        assert isinstance(tool, AgentsFunctionTool)
        assert tool.params_json_schema == plain[name]["input_schema"]
        assert tool.strict_json_schema == is_strict(plain[name]["input_schema"])

    async def invoke(name: str, raw: str) -> Any:
        context = ToolContext(context=None, tool_name=name, tool_call_id="call_1", tool_arguments=raw)
        return await tools[name].on_invoke_tool(context, raw)

    assert echoed(asyncio.run(invoke("COMPOSIO_MULTI_EXECUTE_TOOL", json.dumps(ECHO_CALL)))) == "hello"
    found = json.loads(asyncio.run(invoke("COMPOSIO_SEARCH_TOOLS", json.dumps(SEARCH_CALL))))
    assert found["data"]["results"][0]["primary_tool_slugs"][0] == "DEMO_ECHO"
    assert "not valid JSON" in asyncio.run(invoke("DEMO_ECHO", "{oops"))


def test_strict_only_where_the_schema_already_is_strict() -> None:
    strict = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
              "additionalProperties": False}
    assert is_strict(strict)
    assert not is_strict({"type": "object", "properties": {"a": {"type": "string"}}})


def test_gemini_declarations_and_function_call_round_trip(session: Session) -> None:
    [tool] = session.tools(provider="gemini")
    assert isinstance(tool, genai.Tool)
    plain = listings(session)
    declarations = tool.function_declarations or []
    assert [d.name for d in declarations] == list(plain)
    for declaration in declarations:
        assert declaration.parameters_json_schema == plain[declaration.name or ""]["input_schema"]
    genai.GenerateContentConfig(tools=[tool])  # accepted where the SDK takes tools

    response = genai.GenerateContentResponse(candidates=[genai.Candidate(content=genai.Content(role="model", parts=[
        genai.Part(text="Running both."),
        genai.Part(function_call=genai.FunctionCall(id="fc_1", name="COMPOSIO_MULTI_EXECUTE_TOOL", args=ECHO_CALL)),
        genai.Part(function_call=genai.FunctionCall(name="COMPOSIO_MULTI_EXECUTE_TOOL", args=FAIL_CALL)),
    ]))])
    [turn] = session.handle_tool_calls(response)
    content = genai.Content.model_validate(turn)
    assert content.role == "user"
    first, second = [part.function_response for part in content.parts or []]
    assert first is not None and second is not None
    assert (first.id, first.name) == ("fc_1", "COMPOSIO_MULTI_EXECUTE_TOOL") and second.id is None
    assert first.response is not None and first.response["output"]["data"]["results"][0]["response"]["data"][
        "text"] == "hello"
    assert second.response is not None and "error" in second.response
    [again] = session.handle_tool_calls(response.model_dump(mode="json", by_alias=True))  # the API's JSON
    assert [(p["function_response"]["name"], p["function_response"].get("id")) for p in again["parts"]] == [
        ("COMPOSIO_MULTI_EXECUTE_TOOL", "fc_1"), ("COMPOSIO_MULTI_EXECUTE_TOOL", None)]


def test_llamaindex_function_tools_run(session: Session) -> None:
    tools = {t.metadata.name: t for t in session.tools(provider="llamaindex")}
    plain = listings(session)
    assert list(tools) == list(plain)
    for name, tool in tools.items():
        assert isinstance(tool, LlamaFunctionTool)
        # as LlamaIndex's LLM integrations convert tools (they skip its 1024-character description check)
        spec = tool.metadata.to_openai_tool(skip_length_check=True)["function"]
        assert same_parameters(spec["parameters"], plain[name]["input_schema"])

    output = tools["COMPOSIO_MULTI_EXECUTE_TOOL"].call(**ECHO_CALL)
    assert echoed(output.content) == "hello" and output.tool_name == "COMPOSIO_MULTI_EXECUTE_TOOL"
    assert json.loads(asyncio.run(tools["DEMO_ECHO"].acall(text="a")).content)["data"]["data"]["text"] == "a"


def test_async_session_tools_run_when_awaited(live: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncConcierge(live.url, API_KEY, provider="langchain") as concierge:
            session = await concierge.create(user_id="user_1", toolkits=["demo"])
            tools = {t.name: t for t in await session.tools()}
            assert echoed(await tools["COMPOSIO_MULTI_EXECUTE_TOOL"].ainvoke(ECHO_CALL)) == "hello"
            with pytest.raises(NotImplementedError):  # LangChain's own refusal: no sync function
                tools["COMPOSIO_MULTI_EXECUTE_TOOL"].invoke(ECHO_CALL)
            llama = {t.metadata.name: t for t in await session.tools(provider="llamaindex")}
            assert echoed((await llama["COMPOSIO_MULTI_EXECUTE_TOOL"].acall(**ECHO_CALL)).content) == "hello"
            agents = {t.name: t for t in await session.tools(provider="openai_agents")}
            context = ToolContext(context=None, tool_name="x", tool_call_id="c", tool_arguments="{}")
            raw = json.dumps(ECHO_CALL)
            assert echoed(await agents["COMPOSIO_MULTI_EXECUTE_TOOL"].on_invoke_tool(context, raw)) == "hello"

    asyncio.run(scenario())
