"""Everything a running server holds, built once at start and passed explicitly (no globals).

The REST API, the MCP endpoint and stdio mode all work through one `Runtime`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from server.auth.services import AuthServices
from server.catalog.catalog import Catalog
from server.config import Settings
from server.execute import http_tool
from server.execute.executor import Executor
from server.sessions.service import SessionService
from server.store.db import Database
from server.store.executions import ExecutionStore
from server.store.mcp_clients import McpClientStore
from server.store.memory import MemoryStore
from server.store.server_meta import ServerMetaStore
from server.store.sessions import SessionStore
from server.workbench import SandboxUnavailable, WorkbenchManager, WorkbenchSettings

log = logging.getLogger("concierge")


def no_cookie_jar() -> CookieJar:
    """One HTTP client serves every user: a Set-Cookie from one user's call must never ride along on
    another user's request, so the shared client stores no cookies at all."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def load_catalog(settings: Settings) -> Catalog:
    overrides = {slug: o.model_dump() for slug, o in settings.toolkit_overrides.items()}
    semantic = {"auto": None, "on": True, "off": False}[settings.search.semantic]
    return Catalog.load(settings.toolkit_paths, builtin=settings.builtin_toolkits, overrides=overrides,
                        semantic=semantic)


def start_workbench(settings: Settings, runtime: Runtime) -> WorkbenchManager | None:
    """Tool calls from a sandbox go through the same executor as MCP calls: same filter, accounts, log.

    None (and one log line saying why and how to turn it on) when no sandbox can run on this host."""
    config = settings.workbench.model_dump(exclude={"enable", "auto_offload_threshold", "llm_api_key"})
    api_key = settings.workbench.llm_api_key.get_secret_value() if settings.workbench.llm_api_key else None

    async def run_tool(session_id: str, slug: str, arguments: dict[str, Any]) -> dict[str, Any]:
        session = await runtime.sessions.get(session_id)
        outcome = await runtime.executor.execute(session, slug, arguments, source="workbench")
        return outcome.to_dict()

    try:
        return WorkbenchManager(settings.data_dir / "workbench", WorkbenchSettings(**config, llm_api_key=api_key),
                                run_tool)
    except SandboxUnavailable as exc:
        log.warning("%s", exc)
        return None


@dataclass
class Runtime:
    settings: Settings
    db: Database
    catalog: Catalog
    sessions: SessionService
    executor: Executor
    executions: ExecutionStore
    memory: MemoryStore
    mcp_clients: McpClientStore
    meta: ServerMetaStore
    http: httpx.AsyncClient
    auth: AuthServices
    workbench: WorkbenchManager | None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings, catalog: Catalog | None = None) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = catalog or load_catalog(settings)
        db = await Database.open(settings.db_path)
        meta = ServerMetaStore(db)
        try:
            auth = await AuthServices.start(settings, db, catalog, meta)
        except BaseException:
            await db.close()
            raise
        http = httpx.AsyncClient(timeout=httpx.Timeout(settings.execution.tool_timeout_seconds),
                                 follow_redirects=False, headers={"User-Agent": "concierge/0.1"},
                                 cookies=no_cookie_jar())
        executions = ExecutionStore(db)
        executor = Executor(catalog, executions, settings.data_dir, http,
                            http_tool.new_client(settings.execution.tool_timeout_seconds),
                            timeout=settings.execution.tool_timeout_seconds,
                            max_response_bytes=settings.execution.http_max_response_bytes,
                            toolkit_settings=settings.toolkit_settings, credentials=auth.credentials)
        sessions = SessionService(SessionStore(db), catalog, settings.allow_default_user)
        sessions.add_check(auth.check_session_options)
        log.info("catalog: %d toolkits, %d tools, search index over %d", len(catalog.toolkits), len(catalog.tools),
                 len(catalog.index))  # built here, at start, not on the first search
        runtime = cls(settings=settings, db=db, catalog=catalog, sessions=sessions, executor=executor,
                   executions=executions, memory=MemoryStore(db), mcp_clients=McpClientStore(db),
                   meta=meta, http=http, auth=auth, workbench=None)
        if settings.workbench.enable:
            try:
                runtime.workbench = start_workbench(settings, runtime)
            except BaseException:
                await runtime.aclose()
                raise
        return runtime

    async def aclose(self) -> None:
        if self.workbench is not None:
            await self.workbench.aclose()
        await self.executions.aclose()
        await self.http.aclose()
        await self.executor.http_tools.close()
        await self.db.close()
