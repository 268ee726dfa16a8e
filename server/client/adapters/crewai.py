"""CrewAI: a `BaseTool` per session tool, for `Agent(tools=...)`.

CrewAI reads a tool's parameters from a pydantic model (`args_schema`); each tool gets one that
reports the session tool's JSON Schema and accepts any arguments: the server validates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crewai.tools import BaseTool
from pydantic import PrivateAttr

from server.client.adapters import Runner, schema_model
from server.client.models import ToolListingOut


class SessionTool(BaseTool):
    """One session tool; CrewAI's `run`/`arun` call it through the session."""

    _runner: Runner = PrivateAttr()

    def _run(self, *args: Any, **arguments: Any) -> str:
        call = self._runner.call
        if call is None:
            raise RuntimeError(f"{self.name} comes from an AsyncSession: use `await tool.arun(...)`")
        return call(self.name, arguments)

    async def _arun(self, *args: Any, **arguments: Any) -> str:
        return await self._runner.acall(self.name, arguments)


def tools(listings: Sequence[ToolListingOut], runner: Runner) -> list[BaseTool]:
    built: list[BaseTool] = []
    for t in listings:
        tool = SessionTool(name=t.name, description=t.description, args_schema=schema_model(t.name, t.input_schema))
        tool._runner = runner
        built.append(tool)
    return built
