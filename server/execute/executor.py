"""Runs one tool for one session: filter, argument validation, credential, run, execution log.

`check()` is separate from `run()` so MULTI_EXECUTE can validate every call before running any.
`run()` never raises for a tool failure: it returns an `Outcome` and always writes the log row.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import anyio
import httpx

from server import jsontext
from server.catalog.catalog import Catalog, near_matches
from server.catalog.model import Tool, Toolkit
from server.errors import ConciergeError, InvalidInput, NotFound, ToolError, ToolNotAllowed, UpstreamError
from server.execute import http_tool
from server.execute.arguments import ArgumentValidator
from server.execute.credentials import Credential, CredentialProvider, NoAuthProvider
from server.store.interfaces import ExecutionStore
from server.store.records import ExecutionRow
from server.values import Session, ToolContext

log = logging.getLogger("concierge.execute")


class UpstreamCaller(Protocol):
    """Runs a tool that lives on another MCP server (server/upstreams/)."""

    async def call(self, toolkit: Toolkit, tool: Tool, arguments: dict[str, Any], credential: Credential) -> Any: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    data: Any
    successful: bool
    log_id: str
    error: ConciergeError | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "error": self.error.message if self.error else None,
            "error_details": self.error.to_dict() if self.error else None,
            "successful": self.successful,
            "log_id": self.log_id,
        }


def arguments_digest(arguments: Any) -> str:
    return "sha256:" + hashlib.sha256(jsontext.dumps_bytes(arguments, sort_keys=True)).hexdigest()


def new_log_id() -> str:
    return "log_" + secrets.token_hex(10)


class Executor:
    def __init__(
        self,
        catalog: Catalog,
        executions: ExecutionStore,
        data_dir: Path,
        http: httpx.AsyncClient,
        http_tools: aiohttp.ClientSession,
        *,
        timeout: float = 60,
        max_response_bytes: int = 5 * 1024 * 1024,
        toolkit_settings: dict[str, dict[str, Any]] | None = None,
        credentials: CredentialProvider | None = None,
    ) -> None:
        self.catalog = catalog
        self.executions = executions
        self.data_dir = data_dir
        self.http = http
        self.http_tools = http_tools
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.toolkit_settings = toolkit_settings or {}
        self.credentials: CredentialProvider = credentials or NoAuthProvider()
        self._validators: dict[str, ArgumentValidator] = {}
        self.upstreams: UpstreamCaller | None = None

    def find(self, session: Session, slug: str) -> Tool:
        tool = self.catalog.tool(slug)
        if tool is None:
            suggestions = near_matches(slug, session.allowed)
            raise NotFound(
                f"tool {slug!r} does not exist"
                + (f"; did you mean {', '.join(suggestions)}?" if suggestions else "; use COMPOSIO_SEARCH_TOOLS"),
                {"tool_slug": slug, "suggestions": suggestions},
            )
        if tool.slug not in session.allowed:
            why = (
                f"its `toolkits` do not include {tool.toolkit!r}"
                if not session.options.admits_toolkit(tool.toolkit)
                else f"its `tools` or `tags` filter excludes this tool of {tool.toolkit!r}"
            )
            raise ToolNotAllowed(
                f"tool {tool.slug} is not available in this session ({why}); search within the session's tools instead",
                {"tool_slug": tool.slug, "toolkit": tool.toolkit},
            )
        return tool

    def validator(self, tool: Tool) -> ArgumentValidator:
        """Compiled once per tool, not per call."""
        v = self._validators.get(tool.slug)
        if v is None:
            v = self._validators[tool.slug] = ArgumentValidator(tool.input_schema)
        return v

    def check(self, session: Session, slug: str, arguments: Any) -> Tool:
        tool = self.find(session, slug)
        if not isinstance(arguments, dict):
            raise InvalidInput(f"{tool.slug}: arguments must be a JSON object", {"tool_slug": tool.slug})
        validator = self.validator(tool)
        if validator.is_valid(arguments):
            return tool
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            problems = [
                {"field": ".".join(str(p) for p in e.absolute_path) or "(arguments)", "problem": e.message}
                for e in errors[:5]
            ]
            raise InvalidInput(
                f"{tool.slug}: invalid arguments: " + "; ".join(f"{p['field']}: {p['problem']}" for p in problems),
                {"tool_slug": tool.slug, "problems": problems, "input_schema": tool.input_schema},
            )
        return tool

    async def execute(
        self, session: Session, slug: str, arguments: Any, *, account: str | None = None, source: str = "mcp"
    ) -> Outcome:
        """check() + run(), for callers with a single call (workbench helpers, REST)."""
        try:
            tool = self.check(session, slug, arguments)
        except ConciergeError as exc:
            return Outcome(None, False, "", exc)
        return await self.run(session, tool, arguments, account=account, source=source)

    async def run(
        self,
        session: Session,
        tool: Tool,
        arguments: dict[str, Any],
        *,
        account: str | None = None,
        source: str = "mcp",
    ) -> Outcome:
        """A tool that leaves the loop (HTTP, upstream, thread) has its log row written as it starts, so
        that commit overlaps the call and the answer does not wait for one; its outcome follows unwaited.
        An inline tool has nothing to overlap: its one row is committed before it is answered."""
        started_at, t0 = time.time(), time.perf_counter()
        log_id = new_log_id()

        def running(account_id: str | None) -> ExecutionRow:
            return ExecutionRow(
                log_id,
                session.id,
                session.user_id,
                tool.slug,
                tool.toolkit,
                account_id,
                arguments_digest(arguments),
                "running",
                None,
                started_at,
                0.0,
                source,
            )

        row: ExecutionRow | None = None  # once the account is known
        logged: Awaitable[None] | None = None
        data: Any = None
        error: ConciergeError | None = None
        try:
            toolkit = self.catalog.toolkit_of(tool)
            credential = await self.credentials.credential_for(session, toolkit, account)
            row = running(credential.account_id)
            if tool.inline:  # runs to completion on the loop: a deadline could not interrupt it anyway
                data = await self._invoke(session, tool, arguments, credential)
            else:
                logged = self.executions.begin(row)
                async with asyncio.timeout(self.timeout):
                    data = await self._invoke(session, tool, arguments, credential)
        except ConciergeError as exc:
            error = exc
        except asyncio.CancelledError:  # the caller went away: the row says so instead of "running"
            if logged is not None and row is not None:
                self.executions.finish(row.settled("cancelled", None, (time.perf_counter() - t0) * 1000))
            raise
        except TimeoutError:
            error = ToolError(
                f"{tool.slug} did not finish within {self.timeout:g} s", {"timeout_seconds": self.timeout}
            )
        except (httpx.HTTPError, *http_tool.TRANSPORT_ERRORS) as exc:
            error = ToolError(f"{tool.slug}: request failed: {type(exc).__name__}: {exc}")
        except Exception as exc:
            log.exception("tool %s crashed (log %s)", tool.slug, log_id)
            error = ToolError(f"{tool.slug} failed with an internal error ({type(exc).__name__}); see log {log_id}")
        row = (row or running(None)).settled(  # no row yet: the credential lookup failed
            "success" if error is None else "error", error.message if error else None, (time.perf_counter() - t0) * 1000
        )
        if logged is None:
            await self.executions.record(row)
        else:  # the outcome is handed over once the answer is on its way: nobody waits for it
            asyncio.get_running_loop().call_soon(self.executions.finish, row)
            await logged
        return Outcome(data, error is None, log_id, error)

    async def _invoke(self, session: Session, tool: Tool, arguments: dict[str, Any], credential: Credential) -> Any:
        if tool.handler is not None:
            ctx = ToolContext(
                session.id, session.user_id, self.data_dir, self.http, self.toolkit_settings.get(tool.toolkit, {})
            )
            if inspect.iscoroutinefunction(tool.handler):
                return await tool.handler(arguments, ctx)
            if tool.inline:
                return tool.handler(arguments, ctx)
            return await anyio.to_thread.run_sync(tool.handler, arguments, ctx)
        toolkit = self.catalog.toolkit_of(tool)
        if tool.upstream_name is not None:
            if self.upstreams is None:
                raise ToolError(f"{tool.slug} lives on an upstream MCP server, which this process does not run")
            try:
                return await self.upstreams.call(toolkit, tool, arguments, credential)
            except UpstreamError as exc:  # an expired sign-in: refresh once, as for HTTP tools
                if exc.details.get("status") != 401:
                    raise
                refreshed = await self.credentials.after_unauthorized(session, toolkit, credential)
                if refreshed is None:
                    raise
                return await self.upstreams.call(toolkit, tool, arguments, refreshed)
        current = credential

        async def exchange(args: dict[str, Any], url: str | None) -> http_tool.HttpResponse:
            nonlocal current
            response = await self._send(tool, args, current, url)
            if response.status == 401:
                refreshed = await self.credentials.after_unauthorized(session, toolkit, current)
                if refreshed is not None:
                    current = refreshed
                    response = await self._send(tool, args, current, url)
            return response

        return await http_tool.run(tool, toolkit, arguments, exchange)

    async def _send(
        self, tool: Tool, arguments: dict[str, Any], credential: Credential, url: str | None
    ) -> http_tool.HttpResponse:
        request = http_tool.build_request(tool, self.catalog.toolkit_of(tool), arguments, credential, url)
        return await http_tool.send(self.http_tools, request, self.max_response_bytes)
