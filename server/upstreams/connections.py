"""Client sessions to upstream MCP servers, pooled per (upstream, credential) and bounded.

Each live connection is owned by one background task that holds the SDK `Client` open (its transport
and task group must be entered and left by the same task); calls from any request task go through it.
A stdio upstream without per-user credentials runs one process for everybody; with them, one process
per account, so a credential placed in a process's environment is only ever that account's. Processes
are bounded (`max_processes`, counted from spawn to exit, so one still closing holds its place): the
least recently used idle one is closed to make room. At most `max_starting` start at once: a crowd of
new users on a small machine would otherwise starve every start past the connect timeout together.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError, SubscriptionLost
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, CallToolResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from server import progress
from server.config import UpstreamConfig, UpstreamPoolConfig
from server.errors import UpstreamError
from server.upstreams import tasks
from server.upstreams.http_calls import HttpCaller
from server.upstreams.http_pool import HttpPool, no_connection

log = logging.getLogger("concierge.upstreams")
LIST_CHANGED = "notifications/tools/list_changed"


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect and as whom. `secret` is the calling account's credential (None: shared)."""

    upstream: str
    config: UpstreamConfig
    account_id: str | None = None
    secret: str | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        if self.secret is None:
            return (self.upstream, "*")
        # a refreshed token gets a new connection; the old one idles out
        return (self.upstream, f"{self.account_id}:{hashlib.sha256(self.secret.encode()).hexdigest()[:16]}")

    @property
    def is_process(self) -> bool:
        return self.config.command is not None

    def http_headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        if self.secret is not None:
            headers[self.config.auth.header] = self.config.auth.prefix + self.secret
        return headers


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


@dataclass(frozen=True, slots=True)
class Hooks:
    """What every connection of a pool shares with it."""

    log_dir: Path
    starts: asyncio.Semaphore  # process starts under way at once
    connect_timeout: float  # from a start's turn to its handshake done
    on_list_changed: Callable[[str], None]
    on_closed: Callable[[Connection], None]


class Connection:
    def __init__(self, target: Target, hooks: Hooks) -> None:
        self.target = target
        self.ready = asyncio.Event()  # set once connected, or once it never will be (`client` is None)
        self.closing = asyncio.Event()
        self.closed = asyncio.Event()
        self.client: Client | None = None
        self.error: BaseException | None = None
        self.in_flight = 0
        self.last_used = time.monotonic()
        self._hooks = hooks
        self._start_deadline: asyncio.Timeout | None = None
        self.task = asyncio.create_task(self._run(), name=f"upstream {target.upstream}")

    @property
    def alive(self) -> bool:
        return not self.closed.is_set() and not self.closing.is_set()

    def _transport(self, errlog: TextIO | None) -> Any:
        config, secret = self.target.config, self.target.secret
        if config.command is not None:
            env = dict(config.env)
            if secret is not None and config.auth.env:
                env[config.auth.env] = secret
            params = StdioServerParameters(
                command=config.command, args=config.args, env=env, cwd=str(config.cwd) if config.cwd else None
            )
            return stdio_client(params, errlog=errlog) if errlog is not None else stdio_client(params)
        assert config.url is not None
        return _http_transport(config.url, self.target.http_headers())

    async def _on_message(self, message: Any) -> None:
        method = getattr(message, "method", None) or getattr(getattr(message, "root", None), "method", None)
        if method == LIST_CHANGED:
            self._hooks.on_list_changed(self.target.upstream)

    async def _run(self) -> None:
        """Handshake era first: it is the one where servers of every SDK announce tool-list changes
        (`notifications/tools/list_changed`); a server that refuses it is asked in the 2026-07-28 era.
        The connect timeout runs from the start's turn, so waiting for a turn is not counted against it."""
        errlog: TextIO | None = None
        turn = self._hooks.starts if self.target.is_process else None
        try:
            if turn is not None:
                await turn.acquire()
            try:
                if self.target.is_process:  # the upstream's stderr goes to its own log, not the server's
                    errlog = await asyncio.to_thread(_open_log, self._hooks.log_dir, self.target.upstream)
                async with asyncio.timeout(self._hooks.connect_timeout) as self._start_deadline:
                    for mode in ("legacy", "auto"):
                        try:
                            await self._serve(mode, errlog)
                            return
                        except Exception as exc:
                            self.error = exc
                            if self.ready.is_set() or self.closing.is_set():
                                return
            except TimeoutError:
                hint = "; a program fetched on its first run, as by `npx -y`, can take longer" if turn else ""
                self.error = TimeoutError(
                    f"did not finish connecting within {self._hooks.connect_timeout:g} s "
                    f"(upstream_pool.connect_timeout_seconds{hint})"
                )
            finally:
                if turn is not None and not self.ready.is_set():
                    turn.release()
        finally:
            self.client = None
            self.ready.set()
            self.closed.set()
            if errlog is not None:
                errlog.close()
            self._hooks.on_closed(self)

    async def _serve(self, mode: str, errlog: TextIO | None) -> None:
        async with Client(self._transport(errlog), mode=mode, message_handler=self._on_message) as client:
            assert self._start_deadline is not None
            self._start_deadline.reschedule(None)  # connected: the connection may live as long as it is used
            self.client = client
            self.ready.set()
            if self.target.is_process:
                self._hooks.starts.release()
            async with anyio.create_task_group() as tasks:
                if self.target.secret is None and client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    tasks.start_soon(self._listen, client)
                await self.closing.wait()
                tasks.cancel_scope.cancel()

    async def _listen(self, client: Client) -> None:
        """2026-07-28 servers announce tool-list changes on a `subscriptions/listen` stream (handshake-era
        servers send `notifications/tools/list_changed`, seen by `_on_message`)."""
        try:
            async with client.listen(tools_list_changed=True) as events:
                async for _ in events:
                    self._hooks.on_list_changed(self.target.upstream)
        except (ListenNotSupportedError, SubscriptionLost, MCPError) as exc:
            log.debug("upstream %s: no tool-list subscription (%s)", self.target.upstream, _reason(exc))

    async def call(
        self, tool_name: str, arguments: dict[str, Any], limit_seconds: float, as_task: bool = False
    ) -> dict[str, Any]:
        """The upstream's answer in wire form; a connection that dies or a call that overruns becomes an UpstreamError
        naming the upstream (the caller's cancellation is passed on to the upstream by the SDK)."""
        client = self.client
        name = self.target.upstream
        if client is None or not self.alive:
            raise UpstreamError(f"upstream MCP server {name!r} is not connected", {"upstream": name})
        if as_task:
            running = tasks.call_as_task(
                _raw_sender(client, name, tool_name), name, tool_name, arguments, limit_seconds
            )
        else:
            running = _wire(client.call_tool(tool_name, arguments, progress_callback=progress.current()))
        call = asyncio.ensure_future(running)
        gone = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({call, gone}, timeout=limit_seconds, return_when=asyncio.FIRST_COMPLETED)
            if call in done:
                return call.result()
            if gone in done:
                raise UpstreamError(
                    f"upstream MCP server {name!r} went away during the call "
                    f"({_reason(self.error)}); the next call reconnects",
                    {"upstream": name},
                )
            raise UpstreamError(
                f"upstream MCP server {name!r} did not answer {tool_name!r} within {limit_seconds:g} s",
                {"upstream": name, "timeout_seconds": limit_seconds},
            )
        except UpstreamError:
            raise
        except Exception as exc:
            if _connection_lost(exc):  # the next call must not reuse a dead session
                self.closing.set()
                raise UpstreamError(
                    f"upstream MCP server {name!r} went away during the call ({_reason(exc)}); "
                    "the next call reconnects",
                    {"upstream": name},
                ) from None
            raise UpstreamError(f"upstream MCP server {name!r} failed: {_reason(exc)}", {"upstream": name}) from None
        finally:
            for task in (call, gone):
                task.cancel()

    async def list_tools(self) -> list[dict[str, Any]]:
        client = self.client
        if client is None:
            raise UpstreamError(f"upstream MCP server {self.target.upstream!r} is not connected")
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools += [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                return tools

    async def close(self) -> None:
        self.closing.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()


async def _wire(result: Awaitable[CallToolResult]) -> dict[str, Any]:
    return (await result).model_dump(mode="json", by_alias=True, exclude_none=True)


def _raw_sender(client: Client, upstream: str, tool_name: str) -> tasks.Send:
    """Task requests as sent, answers as received: the SDK's `send_request` checks a `tools/call` answer
    against `CallToolResult`, which a task's first answer is not, and its claims for other result shapes
    serve only the 2026-07-28 era. Its dispatcher sends any request without reading the answer."""
    send_raw = getattr(getattr(client.session, "_dispatcher", None), "send_raw_request", None)
    if send_raw is None:
        raise UpstreamError(
            f"upstream MCP server {upstream!r} runs {tool_name!r} only as an MCP task, which this version of the "
            "mcp SDK gives no way to send over stdio",
            {"upstream": upstream},
        )
    return lambda method, params: send_raw(method, params, {})


def _connection_lost(exc: BaseException) -> bool:
    return (isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED) or isinstance(
        exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError)
    )


def _open_log(folder: Path, upstream: str) -> TextIO:
    folder.mkdir(parents=True, exist_ok=True)
    return open(folder / f"{upstream}.log", "a", encoding="utf-8")  # noqa: SIM115 - kept open for the process


def _reason(exc: BaseException | None, config: UpstreamConfig | None = None) -> str:
    if exc is None:
        return "connection closed"
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, FileNotFoundError) and config is not None and config.command is not None:
        # the error names neither the program nor the folder it was to start in
        if config.cwd is not None and not Path(config.cwd).is_dir():
            return f"its folder (cwd) {str(config.cwd)!r} does not exist"
        return f"its command {config.command!r} was not found (is it installed, and on the server's PATH?)"
    if isinstance(exc, httpx2.ConnectError | httpx.ConnectError) and config is not None and config.url is not None:
        return no_connection(config.url)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ConnectionPool:
    def __init__(
        self,
        settings: UpstreamPoolConfig,
        log_dir: Path,
        on_list_changed: Callable[[str], None],
        max_answer_bytes: int,
    ) -> None:
        self.settings = settings
        self._max_answer_bytes = max_answer_bytes  # of an HTTP upstream's answer to a call
        self._connections: dict[tuple[str, str], Connection] = {}
        self._processes: set[Connection] = set()  # from spawn until the process has exited
        self._callers: dict[tuple[str, str], HttpCaller] = {}
        self.eras: dict[str, str] = {}  # HTTP upstream -> the protocol version its listing session negotiated
        self._http: HttpPool | None = None
        self._lock = asyncio.Lock()
        self._freed = asyncio.Event()
        self._reaper: asyncio.Task[None] | None = None
        starts = asyncio.Semaphore(settings.max_starting)
        self._hooks = Hooks(log_dir, starts, settings.connect_timeout_seconds, on_list_changed, self._closed)

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap_forever(), name="upstream reaper")
        # calls to HTTP upstreams: no cookies kept between users, no redirects followed (a credential
        # must not follow a redirect to another host)
        self._http = HttpPool(limit=100, max_answer_bytes=self._max_answer_bytes)

    def counts_of(self, upstream: str | None = None) -> dict[str, int]:
        live = [c for c in self._connections.values() if c.alive and upstream in (None, c.target.upstream)]
        callers = [c for k, c in self._callers.items() if upstream in (None, k[0])]
        processes = sum(upstream in (None, c.target.upstream) for c in self._processes)
        return {"connections": len(live) + len(callers), "processes": processes}

    @contextlib.asynccontextmanager
    async def lease(self, target: Target) -> AsyncIterator[Connection]:
        """A connected session for `target`, counted as busy until the block ends, so that making room
        for another process never closes it under a caller."""
        conn = self._connections.get(target.key)
        if conn is None or not conn.alive:
            async with self._lock:
                conn = self._connections.get(target.key)
                if conn is None or not conn.alive:
                    if target.is_process:
                        await self._make_room()
                    conn = self._connections[target.key] = Connection(target, self._hooks)
                    if target.is_process:
                        self._processes.add(conn)
        conn.in_flight += 1
        try:
            await self._ready(conn)
            if not target.is_process and conn.client is not None:
                self.eras[target.upstream] = conn.client.protocol_version
            yield conn
        finally:
            conn.in_flight -= 1
            conn.last_used = time.monotonic()
            self._freed.set()  # a caller waiting for a process slot may find an idle one now

    async def _ready(self, conn: Connection) -> None:
        """Waits as long as the connection's start does: its own deadline bounds it."""
        await conn.ready.wait()
        if conn.client is None:
            await self._drop(conn)
            name = conn.target.upstream
            if isinstance(conn.error, TimeoutError):
                raise UpstreamError(f"upstream MCP server {name!r} {conn.error}", {"upstream": name})
            raise UpstreamError(
                f"upstream MCP server {name!r} cannot be reached: {_reason(conn.error, conn.target.config)}",
                {"upstream": name},
            )

    def _closed(self, conn: Connection) -> None:
        self._processes.discard(conn)
        self._freed.set()

    async def _make_room(self) -> None:
        """Called under the lock: close the least recently used idle process, or wait for one to free."""
        deadline = time.monotonic() + self.settings.connect_timeout_seconds
        while True:
            if len(self._processes) < self.settings.max_processes:
                return
            idle = sorted(
                (c for c in self._processes if c.alive and c.in_flight == 0 and c.ready.is_set()),
                key=lambda c: c.last_used,
            )
            if idle:
                await self._drop(idle[0])
                continue
            self._freed.clear()
            self._lock.release()
            try:
                await asyncio.wait_for(self._freed.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise UpstreamError(
                    f"all {self.settings.max_processes} upstream MCP processes are busy; "
                    "try again shortly or raise upstream_pool.max_processes"
                ) from None
            finally:
                await self._lock.acquire()

    async def _drop(self, conn: Connection) -> None:
        if self._connections.get(conn.target.key) is conn:
            del self._connections[conn.target.key]
        await conn.close()
        self._freed.set()

    async def call(self, target: Target, tool_name: str, arguments: dict[str, Any], as_task: bool = False) -> Any:
        """The result in wire form; `as_task`: the tool runs only as an MCP task (`server/upstreams/tasks.py`)."""
        if not target.is_process:
            return await self._http_call(target, tool_name, arguments, as_task)
        async with self.lease(target) as conn:
            return await conn.call(tool_name, arguments, target.config.timeout_seconds, as_task)

    async def _http_call(self, target: Target, tool_name: str, arguments: dict[str, Any], as_task: bool) -> Any:
        # Task-only tools are known from a handshake-era listing (2026-07-28 has no tasks in its core
        # protocol), so they are called in that era, by a caller of their own.
        key = (target.upstream, f"{target.key[1]} tasks") if as_task else target.key
        caller = self._callers.get(key)
        if caller is None:
            assert self._http is not None and target.config.url is not None
            era = None if as_task else self.eras.get(target.upstream)
            caller = self._callers[key] = HttpCaller(
                self._http, target.upstream, target.config.url, target.http_headers(), era, for_tasks=as_task
            )
        elif caller.era is None and not as_task:
            caller.era = self.eras.get(target.upstream)
        caller.in_flight += 1
        try:
            return await caller.call(tool_name, arguments, target.config.timeout_seconds)
        finally:
            caller.in_flight -= 1
            caller.last_used = time.monotonic()

    async def close_upstream(self, upstream: str) -> None:
        for key in [k for k in self._callers if k[0] == upstream]:
            del self._callers[key]
        self.eras.pop(upstream, None)
        for conn in [c for c in self._connections.values() if c.target.upstream == upstream]:
            await self._drop(conn)

    async def _reap_forever(self) -> None:
        interval = min(30.0, self.settings.idle_seconds / 2)
        while True:
            await asyncio.sleep(interval)
            await self.reap()

    async def reap(self) -> None:
        if self._http is not None:
            self._http.prune()
        cutoff = time.monotonic() - self.settings.idle_seconds
        for key, caller in list(self._callers.items()):
            if caller.in_flight == 0 and caller.last_used < cutoff:
                del self._callers[key]
        for conn in list(self._connections.values()):
            if not conn.alive or (conn.in_flight == 0 and conn.last_used < cutoff):
                await self._drop(conn)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        await asyncio.gather(*(self._drop(c) for c in list(self._connections.values())), return_exceptions=True)
        self._callers.clear()
        if self._http is not None:
            self._http.close()
