"""What every meta tool is: a name, an LLM-facing description, a pydantic input model, annotations
and an async handler returning the reference's `{data, error, successful}` envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from server.auth.services import AuthServices
from server.catalog.catalog import Catalog
from server.errors import ConciergeError, InvalidInput, describe_validation_error, model_vocabulary
from server.execute.executor import Executor
from server.meta_tools.json_schema import inline_refs
from server.store.interfaces import ExecutionStore, MemoryStore
from server.values import Session
from server.workbench import Workbench


class MetaInput(BaseModel):
    """Unknown keys are refused with a suggestion; the reference's bookkeeping fields are accepted."""

    model_config = ConfigDict(extra="forbid")

    thought: str | None = None
    current_step: str | None = None
    current_step_metric: str | None = None


@dataclass(frozen=True, slots=True)
class MetaLimits:
    max_parallel: int
    schema_inline_max_chars: int
    auto_offload_threshold: int


@dataclass(frozen=True)
class MetaServices:
    """What meta tools may use (not the server's whole runtime: no sessions, no database, no config)."""

    catalog: Catalog
    executor: Executor
    executions: ExecutionStore
    memory: MemoryStore
    auth: AuthServices
    workbench: Workbench | None
    limits: MetaLimits


@dataclass(frozen=True, slots=True)
class MetaContext:
    services: MetaServices
    session: Session
    source: str = "mcp"  # where the call came from, for the execution log: "mcp" or "api"


Handler = Callable[[MetaContext, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class MetaTool:
    name: str
    title: str
    description: str
    input_model: type[MetaInput]
    handler: Handler
    output_schema: dict[str, Any] | None = None  # of the whole envelope: `envelope(data schema)`
    read_only: bool = False
    destructive: bool = False
    open_world: bool = False
    idempotent: bool = False
    aliases: tuple[str, ...] = ()
    available: Callable[[MetaServices, Session], bool] = field(default=lambda services, session: True)

    @cached_property
    def input_schema(self) -> dict[str, Any]:
        schema = inline_refs(self.input_model.model_json_schema())
        schema.pop("title", None)
        return schema

    @cached_property
    def vocabulary(self) -> set[str]:
        return model_vocabulary(self.input_model)

    @property
    def annotations(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "openWorldHint": self.open_world,
            "idempotentHint": self.idempotent,
        }

    def parse(self, arguments: dict[str, Any] | None) -> MetaInput:
        try:
            return self.input_model.model_validate(arguments or {})
        except ValidationError as exc:
            message, problems = describe_validation_error(exc, self.vocabulary)
            raise InvalidInput(
                f"{self.name}: invalid arguments: {message}", {"problems": problems, "input_schema": self.input_schema}
            ) from None


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": None, "successful": True}


def failed(error: ConciergeError) -> dict[str, Any]:
    return {"data": {"error_code": error.code, **error.details}, "error": error.message, "successful": False}
