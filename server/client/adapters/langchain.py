"""LangChain / LangGraph: a `StructuredTool` per session tool, with the tool's JSON Schema as `args_schema`.

Works wherever LangChain tools do: `model.bind_tools(tools)`, LangGraph's `ToolNode` and
`create_react_agent`. A sync session gives tools that run with `invoke` and `ainvoke`; an async one,
tools for `ainvoke` only.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.tools import StructuredTool

from server.client.adapters import Runner
from server.client.models import ToolListingOut


def tools(listings: Sequence[ToolListingOut], runner: Runner) -> list[StructuredTool]:
    return [
        StructuredTool(
            name=t.name,
            description=t.description,
            args_schema=t.input_schema,
            func=runner.sync(t.name),
            coroutine=runner.coroutine(t.name),
        )
        for t in listings
    ]
