"""Session tools as agent frameworks' own tool objects, whose invocation runs the tool through the session.

Each framework lives in its own module, imported only when its tools are asked for, so `import
server.client` never loads a framework (or needs one installed).
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from server.client.models import ToolListingOut

Framework = Literal["langchain", "openai_agents", "gemini", "llamaindex", "crewai"]
FRAMEWORKS: tuple[Framework, ...] = ("langchain", "openai_agents", "gemini", "llamaindex", "crewai")
PACKAGES: dict[Framework, str] = {
    "langchain": "langchain-core",
    "openai_agents": "openai-agents",
    "gemini": "google-genai",
    "llamaindex": "llama-index-core",
    "crewai": "crewai",
}


@dataclass(frozen=True, slots=True)
class Runner:
    """How a framework's tool runs a call through the session, returning the text the model sees.

    `call` is None for an `AsyncSession`: its tools can only be awaited.
    """

    call: Callable[[str, dict[str, Any]], str] | None
    acall: Callable[[str, dict[str, Any]], Awaitable[str]]

    def sync(self, name: str) -> Callable[..., str] | None:
        """A blocking `(**arguments) -> text` for the tool `name`, when the session is sync."""
        call = self.call
        if call is None:
            return None

        def run(**arguments: Any) -> str:
            return call(name, arguments)

        return run

    def coroutine(self, name: str) -> Callable[..., Awaitable[str]]:
        acall = self.acall

        async def run(**arguments: Any) -> str:
            return await acall(name, arguments)

        return run


def framework_tools(framework: Framework, listings: Sequence[ToolListingOut], runner: Runner) -> list[Any]:
    try:
        module = importlib.import_module(f"server.client.adapters.{framework}")
    except ImportError as exc:
        raise ImportError(
            f"tools for {framework!r} need the {PACKAGES[framework]} package: pip install {PACKAGES[framework]} ({exc})"
        ) from exc
    tools: list[Any] = module.tools(listings, runner)
    return tools


def arguments_from_json(name: str, raw: str) -> dict[str, Any] | str:
    """A model's JSON arguments as a dict, or the problem as text for the model to fix."""
    try:
        arguments = json.loads(raw or "{}")
    except ValueError as exc:
        return f"the arguments of {name} are not valid JSON: {exc}"
    if not isinstance(arguments, dict):
        return f"the arguments of {name} must be a JSON object"
    return arguments


def schema_model(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model whose JSON Schema is `schema` (frameworks read parameters from a model)."""

    class Arguments(BaseModel):
        model_config = ConfigDict(extra="allow")

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return copy.deepcopy(schema)

    Arguments.__name__ = Arguments.__qualname__ = f"{name}Arguments"
    return Arguments
