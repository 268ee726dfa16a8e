"""The only way out of a sandbox: a Unix socket per session on which the server runs tools for it.

A socket in a folder bind-mounted into one sandbox is reachable from that sandbox alone (Unix
sockets are files, unaffected by its empty network namespace), so a request's session is known
from the socket it arrives on: sandboxed code cannot name another session, user or account.
One JSON line in, one JSON line out, one request per connection. A sandbox is hostile, so what it
can make the server hold is bounded: at most `max_connections` open connections per session (more
are answered with an error and closed unread), a request line of at most `max_request_bytes`, and
`REQUEST_READ_SECONDS` to send it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from server import jsontext
from server.errors import ConciergeError
from server.workbench.files import Owner
from server.workbench.llm import LlmClient

log = logging.getLogger(__name__)

ToolRunner = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""(session_id, tool_slug, arguments) -> {"data", "error", "successful", "log_id"}."""

REQUEST_READ_SECONDS = 30.0
OVERSIZE_PENALTY_SECONDS = 1.0
LLM_NOT_CONFIGURED = (
    "invoke_llm is not configured on this server: the operator has to set an OpenAI-compatible "
    "endpoint and model for the workbench"
)


def _failure(message: str, code: str = "invalid_request") -> dict[str, Any]:
    return {"data": None, "error": message, "successful": False, "log_id": None, "error_code": code}


class ToolChannel:
    """Listens on `path` for one session; at most `max_parallel` requests run at once."""

    def __init__(
        self,
        session_id: str,
        path: Path,
        tool_runner: ToolRunner,
        llm: LlmClient | None,
        max_parallel: int,
        owner: Owner,
        max_request_bytes: int,
    ) -> None:
        self._session_id = session_id
        self._path = path
        self._tool_runner = tool_runner
        self._llm = llm
        self._slots = asyncio.Semaphore(max_parallel)
        self._max_connections = 2 * max_parallel  # the ones running plus as many waiting
        self._connections = 0
        self._max_request = max_request_bytes
        self._owner = owner
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._path.unlink(missing_ok=True)
        # The reader's buffer may hold up to twice its limit before it stops reading the socket.
        limit = max(1, self._max_request // 2)
        self._server = await asyncio.start_unix_server(self._handle, path=str(self._path), limit=limit)
        os.chmod(self._path, 0o600)
        if self._owner is not None:
            os.chown(self._path, *self._owner)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._path.unlink(missing_ok=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connections >= self._max_connections:
            reply = _failure(
                f"too many open tool-channel connections from this workbench (at most {self._max_connections}); "
                "make fewer calls at once (run_tools runs up to 8 in parallel)",
                "rate_limited",
            )
            writer.write(jsontext.dumps_bytes(reply) + b"\n")
            writer.close()
            return
        self._connections += 1
        try:
            response = await self._read_and_answer(reader)
            writer.write(jsontext.dumps_bytes(response) + b"\n")
            await writer.drain()
        except ConnectionError:  # the sandbox went away (timeout, restart): nobody to answer
            pass
        finally:
            self._connections -= 1
            writer.close()

    async def _read_and_answer(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        too_long = f"a request must be one JSON line of at most {self._max_request:,} bytes"
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), REQUEST_READ_SECONDS)
        except asyncio.LimitOverrunError:
            # Hold the connection slot a while: a sandbox re-sending oversized lines in a loop would
            # otherwise have the server read max_connections MiB after MiB as fast as it can.
            await asyncio.sleep(OVERSIZE_PENALTY_SECONDS)
            return _failure(too_long + " (workbench.tool_request_max_bytes)")
        except asyncio.IncompleteReadError:
            return _failure("a request must end with a newline")
        except TimeoutError:
            return _failure(f"no complete request line within {REQUEST_READ_SECONDS:g} s")
        if len(line) > self._max_request:
            return _failure(too_long + " (workbench.tool_request_max_bytes)")
        try:
            request = jsontext.loads(line)  # orjson: nesting past its limit is a ValueError, not a RecursionError
        except ValueError:
            return _failure("a request must be one JSON line (a JSON object)")
        return await self._answer(request)

    async def _answer(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return _failure("a request must be a JSON object")
        op = request.get("op")
        async with self._slots:
            if op == "tool":
                return await self._run_tool(request.get("slug"), request.get("arguments"))
            if op == "llm":
                return await self._invoke_llm(request.get("prompt"))
        return _failure(f"unknown request {op!r}")

    async def _run_tool(self, slug: Any, arguments: Any) -> dict[str, Any]:
        if not isinstance(slug, str) or not slug:
            return _failure("tool_slug must be a non-empty string")
        if not isinstance(arguments, dict):
            return _failure(f"arguments for {slug} must be a JSON object")
        try:
            return dict(await self._tool_runner(self._session_id, slug, arguments))
        except ConciergeError as exc:
            return _failure(exc.message, exc.code)
        except Exception:
            log.exception("workbench tool call %s failed in session %s", slug, self._session_id)
            return _failure(f"{slug} failed with an internal error (logged on the server)", "internal_error")

    async def _invoke_llm(self, prompt: Any) -> dict[str, Any]:
        if self._llm is None:
            return {"text": None, "error": LLM_NOT_CONFIGURED}
        if not isinstance(prompt, str) or not prompt:
            return {"text": None, "error": "the prompt must be a non-empty string"}
        try:
            return {"text": await self._llm.complete(prompt), "error": None}
        except ConciergeError as exc:
            return {"text": None, "error": exc.message}
