"""LlamaIndex: a `FunctionTool` per session tool, for `FunctionAgent`, `ReActAgent` or `tool.call(...)`.

LlamaIndex describes parameters by a pydantic model; each tool gets one that reports the session
tool's JSON Schema as is and accepts any arguments: the server validates them, with better errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.tools import FunctionTool, ToolMetadata

from server.client.adapters import Runner, schema_model
from server.client.models import ToolListingOut


def tools(listings: Sequence[ToolListingOut], runner: Runner) -> list[FunctionTool]:
    built = []
    for t in listings:
        metadata = ToolMetadata(name=t.name, description=t.description, fn_schema=schema_model(t.name, t.input_schema))
        coroutine = runner.coroutine(t.name)
        built.append(
            FunctionTool.from_defaults(
                fn=runner.sync(t.name) or _sync_unavailable(t.name), async_fn=coroutine, tool_metadata=metadata
            )
        )
    return built


def _sync_unavailable(name: str) -> Any:
    def run(**arguments: Any) -> str:
        raise RuntimeError(f"{name} comes from an AsyncSession: use `await tool.acall(...)` or an async agent")

    return run
