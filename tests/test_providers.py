"""Issue 6, must-show 2: provider formats checked against the providers' own SDK types.

Tool definitions must validate as the SDKs' request param types without losing a key, and a model
response built with the SDKs' response types must round-trip through `handle_tool_calls` into
messages that validate as the SDKs' conversation types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic.types as anthropic_types
import jsonschema
import pytest
from openai.types import chat, responses
from pydantic import TypeAdapter

from server.api.schemas import ToolListingOut
from server.client import Concierge, Session
from tests.live import API_KEY, LiveServer

ECHO_CALL = {"tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "hello"}}]}
FAIL_CALL = {"tools": [{"tool_slug": "DEMO_FAIL", "arguments": {}}]}
SEARCH_CALL = {"queries": [{"use_case": "echo some text"}]}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    toolkits = Path(__file__).parent / "fixtures" / "toolkits"
    server = LiveServer(tmp_path_factory.mktemp("providers") / "data", toolkit_paths=[toolkits]).start()
    with Concierge(server.url, API_KEY) as concierge:
        # a preloaded catalog tool next to the meta tools: toolkit schemas must convert too
        yield concierge.create(user_id="user_1", toolkits=["demo"], preload={"tools": ["DEMO_ECHO"]})
    server.stop()


def validated(param_type: Any, value: Any) -> Any:
    """`value` validated as an SDK type, returned as plain data. SDK `Iterable` fields validate lazily,
    so they are iterated here; keys the type does not know are dropped, which `== value` catches.
    (Where a union also admits SDK response models, pydantic may pick those: they are dumped back.)"""
    def plain(v: Any) -> Any:
        if hasattr(v, "model_dump"):
            return plain(v.model_dump(exclude_none=True))
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple) or type(v).__name__ == "ValidatorIterator":
            return [plain(x) for x in v]
        return v

    adapter = TypeAdapter(param_type)  # must outlive the lazy iterators it hands out
    return plain(adapter.validate_python(value))


def envelope(text: str) -> dict[str, Any]:
    return json.loads(text)


def test_openai_chat_tools_are_chat_completion_tool_params(session: Session) -> None:
    tools = session.tools(provider="openai")
    assert [t["function"]["name"] for t in tools][-1] == "DEMO_ECHO"
    for tool in tools:
        assert validated(chat.ChatCompletionToolParam, tool) == tool


def test_openai_responses_tools_are_function_tool_params(session: Session) -> None:
    tools = session.tools(provider="openai_responses")
    for tool in tools:
        assert validated(responses.FunctionToolParam, tool) == tool
        assert tool["strict"] is False  # the API's default (strict) would reject optional parameters
    assert validated(list[responses.ToolParam], tools) == tools


def test_anthropic_tools_are_tool_params(session: Session) -> None:
    tools = session.tools(provider="anthropic")
    for tool in tools:
        assert validated(anthropic_types.ToolParam, tool) == tool
    assert validated(list[anthropic_types.ToolUnionParam], tools) == tools


def test_plain_tools_are_the_listings_with_valid_json_schemas(session: Session) -> None:
    tools = session.tools()
    assert [ToolListingOut.model_validate(t).model_dump() for t in tools] == tools
    for tool in tools:
        jsonschema.Draft202012Validator.check_schema(tool["input_schema"])


def test_unknown_provider_and_unreadable_response_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="openai_responses"):
        session.tools(provider="cohere")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tool calls"):
        session.handle_tool_calls(42)


def test_openai_chat_completion_round_trip(session: Session) -> None:
    completion = chat.ChatCompletion.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4.1",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": None, "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "COMPOSIO_SEARCH_TOOLS", "arguments": json.dumps(SEARCH_CALL)}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "COMPOSIO_MULTI_EXECUTE_TOOL", "arguments": json.dumps(ECHO_CALL)}},
                {"id": "call_c", "type": "function", "function": {"name": "DEMO_ECHO", "arguments": '{"text": "x"}'}},
            ]}}],
    })
    results = session.handle_tool_calls(completion)
    assert session.handle_tool_calls(completion.model_dump())[0]["tool_call_id"] == "call_a"  # plain dicts too

    assert [r["tool_call_id"] for r in results] == ["call_a", "call_b", "call_c"]
    for result in results:
        assert validated(chat.ChatCompletionToolMessageParam, result) == result
        assert envelope(result["content"])["successful"] is True
    assert envelope(results[0]["content"])["data"]["results"][0]["primary_tool_slugs"][0] == "DEMO_ECHO"
    assert envelope(results[2]["content"])["data"]["data"]["text"] == "x"
    conversation = [{"role": "user", "content": "echo hello"},
                    completion.choices[0].message.model_dump(exclude_none=True), *results]
    assert validated(list[chat.ChatCompletionMessageParam], conversation) == conversation


def test_openai_responses_round_trip(session: Session) -> None:
    response = responses.Response.model_validate({
        "id": "resp_1", "object": "response", "created_at": 0, "model": "gpt-4.1", "parallel_tool_calls": True,
        "tool_choice": "auto", "tools": session.tools(provider="openai_responses"), "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "COMPOSIO_MULTI_EXECUTE_TOOL",
             "arguments": json.dumps(ECHO_CALL), "status": "completed"},
        ]})
    results = session.handle_tool_calls(response)
    assert [r["call_id"] for r in results] == ["call_1"]
    assert results[0]["type"] == "function_call_output"
    assert envelope(results[0]["output"])["data"]["results"][0]["response"]["data"]["text"] == "hello"
    items = [{"role": "user", "content": "echo hello"},
             *[item.model_dump(exclude_none=True) for item in response.output], *results]
    assert validated(responses.ResponseInputParam, items) == items


def test_anthropic_message_round_trip(session: Session) -> None:
    message = anthropic_types.Message.model_validate({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}, "content": [
            {"type": "text", "text": "Running both."},
            {"type": "tool_use", "id": "toolu_1", "name": "COMPOSIO_MULTI_EXECUTE_TOOL", "input": ECHO_CALL},
            {"type": "tool_use", "id": "toolu_2", "name": "COMPOSIO_MULTI_EXECUTE_TOOL", "input": FAIL_CALL},
        ]})
    [reply] = session.handle_tool_calls(message)
    assert reply["role"] == "user"
    assert [(b["type"], b["tool_use_id"], b["is_error"]) for b in reply["content"]] == [
        ("tool_result", "toolu_1", False), ("tool_result", "toolu_2", True)]
    assert envelope(reply["content"][0]["content"])["data"]["results"][0]["response"]["data"]["text"] == "hello"
    assert envelope(reply["content"][1]["content"])["data"]["results"][0]["error"] == "this tool always fails"
    conversation = [{"role": "user", "content": "echo hello, then fail"},
                    {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
                    reply]
    assert validated(list[anthropic_types.MessageParam], conversation) == conversation
