"""COMPOSIO_REMOTE_WORKBENCH and COMPOSIO_REMOTE_BASH_TOOL: the session's persistent sandbox."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from server.meta_tools.base import MetaContext, MetaInput, MetaServices, MetaTool, ok
from server.meta_tools.json_schema import BOOL, NUM, OPT_INT, OPT_STR, STR, STRS, envelope, nullable, obj
from server.values import Session
from server.workbench import HELPERS_DOC


class PythonInput(MetaInput):
    code_to_execute: str = Field(
        min_length=1,
        max_length=200_000,
        description="Python code; the value of a trailing expression is returned like a notebook cell",
    )
    timeout_seconds: float | None = Field(None, gt=0, description="Default 180; bounded by the server's limit")


class BashInput(MetaInput):
    command: str = Field(min_length=1, max_length=20_000, description="A shell command, run in the workbench folder")
    timeout_seconds: float | None = Field(None, gt=0)


PYTHON_DESCRIPTION = f"""Run Python in this session's persistent sandbox (a notebook-like process): variables, \
imports and functions defined in one call exist in the next, and files in the working directory persist for \
the whole session. Use it for large tool results (COMPOSIO_MULTI_EXECUTE_TOOL saves them under results/ and \
gives you the path), for data processing (pandas and numpy are installed), and for calling many tools in bulk. \
There is no network access: call tools through the helpers below.

{HELPERS_DOC}

Returns stdout, stderr, `results` (the trailing expression), `error` (with traceback), the files created or \
changed, and `fresh_process` with a `notice` when earlier variables were lost (first use, idle stop, crash)."""

BASH_DESCRIPTION = """Run a shell command in the same sandbox and folder as COMPOSIO_REMOTE_WORKBENCH (ls, grep, \
head, python3, jq-like one-liners). No network access. Returns stdout, stderr and exit_code."""


_OUTPUT_FILES = {"notice": OPT_STR, "stdout_file_path": OPT_STR, "stderr_file_path": OPT_STR}
PYTHON_OUTPUT_SCHEMA = envelope(
    obj(
        {
            "stdout": STR,
            "stderr": STR,
            "results": OPT_STR,
            "error": nullable(obj({"type": STR, "message": STR, "traceback": STR})),
            "files": STRS,
            "execution_time": NUM,
            "fresh_process": BOOL,
            "fresh_reason": OPT_STR,
            "timed_out": BOOL,
        },
        {**_OUTPUT_FILES, "results_file_path": OPT_STR},
    )
)
BASH_OUTPUT_SCHEMA = envelope(
    obj(
        {
            "stdout": STR,
            "stderr": STR,
            "exit_code": OPT_INT,
            "timed_out": BOOL,
            "execution_time": NUM,
        },
        {"files": STRS, **_OUTPUT_FILES},
    )
)


def available(services: MetaServices, session: Session) -> bool:
    return services.workbench is not None and session.options.workbench.enable


async def run_python(ctx: MetaContext, params: PythonInput) -> dict[str, Any]:
    assert ctx.services.workbench is not None
    run = await ctx.services.workbench.run_python(ctx.session.id, params.code_to_execute, params.timeout_seconds)
    data = run.to_dict()
    if run.error is not None:
        return {"data": data, "error": f"{run.error.type}: {run.error.message}", "successful": False}
    return ok(data)


async def run_bash(ctx: MetaContext, params: BashInput) -> dict[str, Any]:
    assert ctx.services.workbench is not None
    run = await ctx.services.workbench.run_bash(ctx.session.id, params.command, params.timeout_seconds)
    data = run.to_dict()
    if run.timed_out or run.exit_code != 0:
        if run.timed_out:
            reason = "timed out"
        elif run.exit_code is None:  # killed for another limit (the disk quota): the notice says which
            reason = f"was stopped: {run.notice}" if run.notice else "was stopped before it exited"
        else:
            reason = f"exited with code {run.exit_code}"
        return {"data": data, "error": f"command {reason}", "successful": False}
    return ok(data)


PYTHON_TOOL = MetaTool(
    name="COMPOSIO_REMOTE_WORKBENCH",
    title="Python workbench",
    description=PYTHON_DESCRIPTION,
    input_model=PythonInput,
    handler=run_python,
    output_schema=PYTHON_OUTPUT_SCHEMA,
    destructive=True,
    open_world=True,
    available=available,
)
BASH_TOOL = MetaTool(
    name="COMPOSIO_REMOTE_BASH_TOOL",
    title="Workbench shell",
    description=BASH_DESCRIPTION,
    input_model=BashInput,
    handler=run_bash,
    output_schema=BASH_OUTPUT_SCHEMA,
    destructive=True,
    open_world=True,
    available=available,
)
