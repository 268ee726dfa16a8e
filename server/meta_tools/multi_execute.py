"""COMPOSIO_MULTI_EXECUTE_TOOL: validate every call, then run them concurrently with the session's user.

If any call is invalid (unknown slug, not allowed, bad arguments) nothing runs: a batch of partly
destructive calls must not half-happen because of a typo in call 7.
"""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from server.errors import ConciergeError, InvalidInput
from server.execute.executor import Outcome
from server.meta_tools.base import MetaContext, MetaInput, MetaTool, ok
from server.meta_tools.offload import offload


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_slug: str = Field(min_length=1, description="Slug from COMPOSIO_SEARCH_TOOLS")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Arguments matching the tool's input_schema")
    account: str | None = Field(None, description="Connected account id or alias, when the session allows choosing")


class MultiExecuteInput(MetaInput):
    tools: list[ToolCall] = Field(
        min_length=1, max_length=50, description="1 to 50 calls; independent ones run in parallel"
    )
    sync_response_to_workbench: bool = Field(False, description="Write every full result to the workbench")
    memory: dict[str, list[str]] | None = Field(
        None, description="Facts to remember for later searches, per toolkit: {'slack': ['#general is C0123']}"
    )


DESCRIPTION = """Execute one or more tools found with COMPOSIO_SEARCH_TOOLS, with the session user's connected \
accounts. Pass `tools: [{tool_slug, arguments}]` (1–50); independent calls run in parallel, so batch them. \
Arguments are checked against each tool's schema before anything runs: if any call is invalid, none runs and \
each result says what to fix. One call failing at run time does not stop the others. Each result is \
`{index, tool_slug, response: {data, error, log_id, successful}, error}`. A call to an app the user has not \
connected returns an error with a Connect Link to show the user. Large results are saved to the workbench and \
returned as a preview plus a file path (process them with COMPOSIO_REMOTE_WORKBENCH). Use `memory` to save \
facts (ids, names) you will need again."""


# Keys only, on purpose: MCP clients validate every result of every call against it, and this is the
# tool agents call most. The `mcp` SDK's client walks the schema with a Python JSON Schema validator on
# every call, where each nested keyword costs far more than the `required` check, so the shape is given
# in words (the README's Performance section has the figures).
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "error", "successful"],
    "description": "{data, error: string or null, successful: boolean}; data on success: {results: [{index, "
    "tool_slug, response: {data, error, error_details, successful, log_id} or null when not run, error, "
    "error_details?}], total_count, success_count, error_count, remote_file_info: [{index, tool_slug, file_path, "
    "size_chars, log_id, error?}] or null, next_steps: [string]}; on failure: {error_code, ...details}",
}


async def handle(ctx: MetaContext, params: MultiExecuteInput) -> dict[str, Any]:
    services, session = ctx.services, ctx.session
    executor = services.executor
    checked: list[Any] = []
    problems: dict[int, ConciergeError] = {}
    for i, call in enumerate(params.tools):
        try:
            checked.append(executor.check(session, call.tool_slug, call.arguments))
        except ConciergeError as exc:
            checked.append(None)
            problems[i] = exc
    outcomes: list[Outcome | None] = [None] * len(params.tools)
    files: list[dict[str, Any] | None] = [None] * len(params.tools)
    if not problems:

        async def run_one(i: int) -> None:
            outcome = await executor.run(
                session, checked[i], params.tools[i].arguments, account=params.tools[i].account, source=ctx.source
            )
            outcomes[i], info = await offload(services, session, outcome, params.sync_response_to_workbench)
            files[i] = info and {"index": i + 1, "tool_slug": checked[i].slug, **info}

        if len(params.tools) == 1:
            await run_one(0)  # the common case: no task group or limiter to set up and tear down
        else:
            limiter = anyio.CapacityLimiter(services.limits.max_parallel)

            async def run_limited(i: int) -> None:
                async with limiter:
                    await run_one(i)

            async with anyio.create_task_group() as tg:
                for i in range(len(params.tools)):
                    tg.start_soon(run_limited, i)
    results = []
    for i, call in enumerate(params.tools):
        outcome = outcomes[i]
        if outcome is not None:
            results.append(
                {
                    "index": i + 1,
                    "tool_slug": checked[i].slug,
                    "response": outcome.to_dict(),
                    "error": outcome.error.message if outcome.error else None,
                }
            )
            continue
        error = problems.get(i) or InvalidInput(
            "not run: another call in this batch is invalid; fix it and send the batch again"
        )
        results.append(
            {
                "index": i + 1,
                "tool_slug": call.tool_slug,
                "response": None,
                "error": error.message,
                "error_details": error.to_dict(),
            }
        )
    if params.memory and not problems:
        await services.memory.remember(session.user_id, session.id, params.memory)
    success = sum(1 for o in outcomes if o is not None and o.successful)
    data: dict[str, Any] = {
        "results": results,
        "total_count": len(results),
        "success_count": success,
        "error_count": len(results) - success,
        "remote_file_info": [f for f in files if f] or None,
        "next_steps": _next_steps(problems, outcomes),
    }
    return (
        ok(data)
        if success == len(results)
        else {
            "data": data,
            "error": f"{len(results) - success} of {len(results)} call(s) failed; see results[].error",
            "successful": False,
        }
    )


def _next_steps(problems: dict[int, ConciergeError], outcomes: list[Outcome | None]) -> list[str]:
    if problems:
        return ["Fix the invalid calls (see results[].error and error_details) and send the whole batch again."]
    steps = []
    if any(o and o.error and o.error.code == "connection_required" for o in outcomes):
        steps.append("Show the user the Connect Link in the error, wait for them to connect, then retry.")
    if any(o and o.error and o.error.code != "connection_required" for o in outcomes):
        steps.append("Read each failed call's error; correct the arguments or try a related tool.")
    return steps


TOOL = MetaTool(
    name="COMPOSIO_MULTI_EXECUTE_TOOL",
    title="Execute tools",
    description=DESCRIPTION,
    input_model=MultiExecuteInput,
    handler=handle,
    output_schema=OUTPUT_SCHEMA,
    destructive=True,
    open_world=True,
    aliases=("COMPOSIO_MULTI_EXECUTE",),
)
