"""OpenAI Agents SDK: a `FunctionTool` per session tool, for `Agent(tools=...)`.

Strict mode is used when the tool's schema already is a strict one (every property required, no
extra properties); otherwise it would turn optional parameters into required ones, so the tool is
sent non-strict, as the Responses provider format does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agents import FunctionTool, RunContextWrapper
from agents.strict_schema import ensure_strict_json_schema

from server.client.adapters import Runner, arguments_from_json
from server.client.models import ToolListingOut


def is_strict(schema: dict[str, Any]) -> bool:
    """Whether the SDK's strict conversion leaves the schema's meaning unchanged."""
    try:
        return ensure_strict_json_schema(json.loads(json.dumps(schema))) == schema
    except Exception:  # the SDK raises UserError or ValueError for what strict mode cannot express
        return False


def tools(listings: Sequence[ToolListingOut], runner: Runner) -> list[FunctionTool]:
    return [_tool(t, runner) for t in listings]


def _tool(listing: ToolListingOut, runner: Runner) -> FunctionTool:
    name = listing.name

    async def invoke(context: RunContextWrapper[Any], raw: str) -> str:
        arguments = arguments_from_json(name, raw)
        if isinstance(arguments, str):
            return arguments
        return await runner.acall(name, arguments)

    return FunctionTool(
        name=name,
        description=listing.description,
        params_json_schema=listing.input_schema,
        on_invoke_tool=invoke,
        strict_json_schema=is_strict(listing.input_schema),
    )
