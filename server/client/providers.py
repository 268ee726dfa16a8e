"""Native tool formats and tool-call round trips for model providers, without importing their SDKs.

The shapes follow the providers' published request schemas (OpenAI Chat Completions and Responses,
Anthropic Messages, Gemini contents); `tests/test_providers.py` validates them against the SDKs' own param types.
SDK response objects are accepted because they are pydantic models: they are dumped to the same
JSON the HTTP API returns, so one parser serves SDK objects and plain dicts alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from server.client.models import ToolListingOut, ToolResult

Format = Literal["openai", "openai_responses", "anthropic"]
FORMATS: tuple[Format, ...] = ("openai", "openai_responses", "anthropic")
# Frameworks get their own tool objects (server.client.adapters); Gemini's calls come back as messages.
Provider = Literal[
    "openai", "openai_responses", "anthropic", "langchain", "openai_agents", "gemini", "llamaindex", "crewai"
]
PROVIDERS: tuple[Provider, ...] = (*FORMATS, "langchain", "openai_agents", "gemini", "llamaindex", "crewai")


def format_tools(listings: Sequence[ToolListingOut], provider: Format | None) -> list[dict[str, Any]]:
    """Tool definitions ready for the provider's `tools` parameter; None gives the listings as plain dicts."""
    if provider is None:
        return [t.model_dump() for t in listings]
    if provider == "openai":
        return [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in listings
        ]
    if provider == "openai_responses":
        # The Responses API makes function tools strict by default, and strict mode rejects schemas
        # with optional properties, which most tools have.
        return [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.input_schema,
                "strict": False,
            }
            for t in listings
        ]
    if provider == "anthropic":
        return [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in listings]
    raise ValueError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)} or None")


def check_provider(provider: str | None) -> None:
    if provider is not None and provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)} or None")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call a model asked for; `problem` is set when its arguments could not be read."""

    provider: Provider
    id: str
    name: str
    arguments: dict[str, Any]
    problem: str | None = None


def _plain(value: Any) -> Any:
    """SDK objects (pydantic models) become the JSON-shaped dicts their API sends."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _from_json(provider: Provider, call_id: str, name: str, raw: Any) -> ToolCall:
    if isinstance(raw, dict):
        return ToolCall(provider, call_id, name, raw)
    try:
        arguments = json.loads(raw or "{}")
    except ValueError as exc:
        return ToolCall(provider, call_id, name, {}, f"the arguments of {name} are not valid JSON: {exc}")
    if not isinstance(arguments, dict):
        return ToolCall(provider, call_id, name, {}, f"the arguments of {name} must be a JSON object")
    return ToolCall(provider, call_id, name, arguments)


def _item_call(item: dict[str, Any]) -> ToolCall | None:
    kind = item.get("type")
    if kind == "function_call":
        return _from_json("openai_responses", item["call_id"], item["name"], item.get("arguments"))
    if kind == "tool_use":
        return _from_json("anthropic", item["id"], item["name"], item.get("input"))
    gemini = item.get("function_call") or item.get("functionCall")
    if isinstance(gemini, dict):
        return _from_json("gemini", gemini.get("id") or "", gemini["name"], gemini.get("args") or {})
    if isinstance(item.get("function"), dict):
        function = item["function"]
        return _from_json("openai", item["id"], function["name"], function.get("arguments"))
    return None


def _items(response: Any) -> list[Any]:
    if isinstance(response, list | tuple):
        return list(response)
    if not isinstance(response, dict):
        raise TypeError(
            f"cannot read tool calls from {type(response).__name__}; pass a model response, "
            "message or list of tool calls (dict or openai/anthropic SDK object)"
        )
    if isinstance(response.get("candidates"), list):  # Gemini: the first candidate is the one acted on
        candidates = response["candidates"] or [{}]
        return list((candidates[0].get("content") or {}).get("parts") or [])
    if isinstance(response.get("parts"), list):  # Gemini content
        return response["parts"]
    if "choices" in response:  # OpenAI chat completion: the first choice is the one acted on
        choices = response["choices"] or [{}]
        return list((choices[0].get("message") or {}).get("tool_calls") or [])
    if "tool_calls" in response:  # OpenAI chat message
        return list(response["tool_calls"] or [])
    if isinstance(response.get("output"), list):  # OpenAI Responses
        return response["output"]
    if isinstance(response.get("content"), list):  # Anthropic message
        return response["content"]
    return [response]


def tool_calls(response: Any) -> list[ToolCall]:
    """The tool calls in a chat completion, Responses result, Anthropic message or Gemini response
    (or their parts)."""
    items = (_plain(item) for item in _items(_plain(response)))
    return [call for item in items if isinstance(item, dict) and (call := _item_call(item)) is not None]


def result_body(result: ToolResult) -> dict[str, Any]:
    body = result.model_dump(mode="json")
    for optional in ("log_id", "error_details"):
        if body.get(optional) is None:
            body.pop(optional, None)
    return body


def result_text(result: ToolResult) -> str:
    """A tool result as the model sees it: the envelope as compact JSON."""
    return json.dumps(result_body(result), ensure_ascii=False, separators=(",", ":"))


def result_messages(calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """What to append to the conversation: one message per call, or for Anthropic one user message."""
    if not calls:
        return []
    pairs = list(zip(calls, results, strict=True))
    provider = calls[0].provider
    if provider == "openai":
        return [{"role": "tool", "tool_call_id": c.id, "content": result_text(r)} for c, r in pairs]
    if provider == "openai_responses":
        return [{"type": "function_call_output", "call_id": c.id, "output": result_text(r)} for c, r in pairs]
    if provider == "gemini":  # Gemini reads `output` as the result and `error` as a failure
        return [{"role": "user", "parts": [{"function_response": _gemini_response(c, r)} for c, r in pairs]}]
    return [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": c.id, "content": result_text(r), "is_error": not r.successful}
                for c, r in pairs
            ],
        }
    ]


def _gemini_response(call: ToolCall, result: ToolResult) -> dict[str, Any]:
    body = result_body(result)
    response: dict[str, Any] = {"name": call.name, "response": {"output" if result.successful else "error": body}}
    if call.id:
        response["id"] = call.id
    return response
