"""Helpers preloaded in the workbench REPL; every call goes back to the server over one Unix socket.

The sandbox has no network and holds no credential: the server runs the tool with the session's
user, accounts and filter, and answers with the execution's result. Signatures follow the
reference workbench (`run_composio_tool` returns `(result, error)`) so existing prompts work.
"""

from __future__ import annotations

import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["invoke_llm", "list_files", "load_result", "run_composio_tool", "run_tools"]

MAX_PARALLEL_CALLS = 8

HELPERS_DOC = """\
Helpers preloaded in the workbench (also importable with `from concierge_helpers import *`, e.g. from
`python3` in the bash tool). Tool calls run through this session: same user, connected accounts,
tool filter and execution log. Credentials never enter the sandbox, and it has no network.

- run_composio_tool(tool_slug, arguments) -> (result, error)
    Run one tool. `result` is {"data", "successful", "error", "log_id"}; `error` is None on
    success, else a message (also for tools outside this session's filter).
        result, error = run_composio_tool("GITHUB_LIST_ISSUES", {"owner": "o", "repo": "r"})
        issues = result["data"] if not error else []
- run_tools(calls, max_workers=8) -> [(result, error), ...]
    Run many tools in parallel (at most 8 at once); answers are in the order of `calls`, each
    {"tool_slug": ..., "arguments": {...}}.
- list_files(path=".") -> [str]
    Files under `path` in the workbench, relative to the working directory.
- load_result(path) -> object
    Parse a JSON file, e.g. a large tool result the server saved as results/<id>.json.
- invoke_llm(prompt) -> (text, error)
    Ask the LLM configured on the server; `error` says so when none is configured.

The working directory is the session's workbench: its files persist across calls and restarts,
variables persist only while the Python process lives (a result says when a new one started).
A cell's last expression is its value. Long output is cut and the full text saved under
outputs/. Limits: memory, CPU time, processes, file size, workbench size, time per call.
"""


def _request(message: dict[str, Any]) -> dict[str, Any]:
    path = os.environ.get("CONCIERGE_TOOL_SOCKET")
    if not path:
        raise ConnectionError("this process has no tool channel (CONCIERGE_TOOL_SOCKET is not set)")
    payload = json.dumps(message).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall(payload)
        with conn.makefile("rb") as stream:
            line = stream.readline()
    if not line:
        raise ConnectionError("the server closed the tool channel without answering")
    return json.loads(line)


def run_composio_tool(tool_slug: str, arguments: dict[str, Any] | None = None) -> tuple[Any, str | None]:
    """Run one tool through the session; returns (result, error) with error None on success."""
    try:
        response = _request({"op": "tool", "slug": tool_slug, "arguments": arguments or {}})
    except (OSError, TypeError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if response.get("successful"):
        return response, None
    return response, str(response.get("error") or "the tool failed without an error message")


def run_tools(calls: list[dict[str, Any]], max_workers: int = MAX_PARALLEL_CALLS) -> list[tuple[Any, str | None]]:
    """Run `[{"tool_slug", "arguments"}, ...]` in parallel; answers in input order."""
    if not calls:
        return []

    def one(call: dict[str, Any]) -> tuple[Any, str | None]:
        return run_composio_tool(call.get("tool_slug", ""), call.get("arguments"))

    workers = max(1, min(max_workers, MAX_PARALLEL_CALLS, len(calls)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, calls))


def list_files(path: str = ".") -> list[str]:
    """Every file under `path`, relative to the working directory, sorted."""
    found: list[str] = []
    for folder, _dirs, names in os.walk(path):
        found.extend(os.path.relpath(os.path.join(folder, name)) for name in names)
    return sorted(found)


def load_result(path: str) -> Any:
    """Parse a JSON file such as an offloaded tool result (`results/<id>.json`)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def invoke_llm(prompt: str) -> tuple[str | None, str | None]:
    """Ask the server's LLM; returns (text, error)."""
    try:
        response = _request({"op": "llm", "prompt": str(prompt)})
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if response.get("error"):
        return None, str(response["error"])
    return response.get("text"), None
