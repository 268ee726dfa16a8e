"""Everything a running server holds, built once at start and passed explicitly (no globals).

The REST API, the MCP endpoint and stdio mode all work through one `Runtime`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from server.auth.services import AuthServices
from server.catalog.catalog import Catalog
from server.catalog.embeddings import OpenAIEncoder, TextEncoder, load_local
from server.catalog.vector_cache import build_index_with_stored_vectors
from server.config import SearchConfig, Settings
from server.execute import http_tool
from server.execute.executor import Executor
from server.limits.jsonlimits import check_depth
from server.meta_tools.base import MetaLimits, MetaServices
from server.replicas.replica import Replica
from server.replicas.workbench import RoutedWorkbench
from server.sessions.clients import McpClients
from server.sessions.service import SessionService
from server.store import PoolSettings, open_store
from server.store.interfaces import ExecutionStore, MemoryStore, ServerMetaStore, Store
from server.tls import client_tls
from server.upstreams.service import OAuthContext, UpstreamService
from server.workbench import SandboxUnavailable, Workbench, WorkbenchManager, WorkbenchSettings

log = logging.getLogger("concierge")


def no_cookie_jar() -> CookieJar:
    """One HTTP client serves every user: a Set-Cookie from one user's call must never ride along on
    another user's request, so the shared client stores no cookies at all."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def semantic_option(search: SearchConfig) -> bool | None | TextEncoder:
    """The index's semantic setting: off, the packaged extra (auto/on), or the configured provider."""
    if search.semantic == "off":
        return False
    if search.embeddings == "openai":
        key = search.api_key.get_secret_value() if search.api_key else None
        return OpenAIEncoder(search.base_url, search.model, key, search.embeddings_timeout_seconds)
    if search.embeddings == "local":
        return load_local(search.model)
    return {"auto": None, "on": True}[search.semantic]


def load_catalog(settings: Settings) -> Catalog:
    overrides = {slug: o.model_dump() for slug, o in settings.toolkit_overrides.items()}
    semantic = semantic_option(settings.search)
    return Catalog.load(
        settings.toolkit_paths, builtin=settings.builtin_toolkits, overrides=overrides, semantic=semantic
    )


def start_workbench(settings: Settings, runtime: Runtime) -> WorkbenchManager | None:
    """Tool calls from a sandbox go through the same executor as MCP calls: same filter, accounts, log.

    None (and one log line saying why and how to turn it on) when no sandbox can run on this host."""
    config = settings.workbench.model_dump(exclude={"enable", "auto_offload_threshold", "llm_api_key"})
    api_key = settings.workbench.llm_api_key.get_secret_value() if settings.workbench.llm_api_key else None

    async def run_tool(session_id: str, slug: str, arguments: dict[str, Any]) -> dict[str, Any]:
        check_depth(arguments, settings.max_json_depth)  # the sandbox is an edge like the MCP and REST bodies
        session = await runtime.sessions.get(session_id)
        outcome = await runtime.executor.execute(session, slug, arguments, source="workbench")
        return outcome.to_dict()

    try:
        return WorkbenchManager(
            settings.data_dir / "workbench", WorkbenchSettings(**config, llm_api_key=api_key), run_tool
        )
    except SandboxUnavailable as exc:
        log.warning("%s", exc)
        return None


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog
    sessions: SessionService
    executor: Executor
    executions: ExecutionStore
    memory: MemoryStore
    meta: ServerMetaStore
    http: httpx.AsyncClient
    auth: AuthServices
    workbench: Workbench | None
    upstreams: UpstreamService
    extras: dict[str, Any] = field(default_factory=dict)
    replica: Replica | None = None

    @classmethod
    async def start(cls, settings: Settings, catalog: Catalog | None = None) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = catalog or load_catalog(settings)
        store = await open_store(settings.store_url, PoolSettings(**settings.database_pool.model_dump()))
        try:
            await build_index_with_stored_vectors(catalog, store.vectors)
            auth = await AuthServices.start(settings, store, catalog)
        except BaseException:
            await store.aclose()
            raise
        http = httpx.AsyncClient(
            verify=client_tls(),
            timeout=httpx.Timeout(settings.execution.tool_timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": "concierge/0.1"},
            cookies=no_cookie_jar(),
        )
        executor = Executor(
            catalog,
            store.executions,
            settings.data_dir,
            http,
            http_tool.new_client(settings.execution.tool_timeout_seconds),
            timeout=settings.execution.tool_timeout_seconds,
            max_response_bytes=settings.execution.http_max_response_bytes,
            toolkit_settings=settings.toolkit_settings,
            credentials=auth.credentials,
        )
        sessions = SessionService(
            store.sessions, catalog, McpClients(store.mcp_clients), settings.allow_default_user, store.sole_use
        )
        sessions.add_check(auth.check_session_options)
        upstreams = UpstreamService(
            settings.upstreams,
            settings.upstream_pool,
            store.upstreams,
            catalog,
            settings.data_dir,
            sessions.invalidate,
            OAuthContext(settings.oauth_apps, auth.box, auth.flow.callback_uri, http),
            settings.execution.http_max_response_bytes,
        )
        auth.flow.on_active.append(upstreams.account_active)
        replica = Replica(store.replicas, settings.replica, settings.data_dir)
        executor.upstreams = upstreams
        runtime = cls(
            settings=settings,
            store=store,
            catalog=catalog,
            sessions=sessions,
            executor=executor,
            executions=store.executions,
            memory=store.memory,
            meta=store.meta,
            http=http,
            auth=auth,
            workbench=None,
            upstreams=upstreams,
            replica=replica,
        )
        try:
            await upstreams.start()
            await replica.start()
        except BaseException:
            await runtime.aclose()
            raise
        log.info(
            "catalog: %d toolkits, %d tools, search index over %d",
            len(catalog.toolkits),
            len(catalog.tools),
            len(catalog.index),
        )  # built here, at start, not on the first search
        if settings.workbench.enable:
            try:
                local = start_workbench(settings, runtime)
                if local is not None:
                    runtime.workbench = sessions.workbench = RoutedWorkbench(local, replica, store.replicas)
            except BaseException:
                await runtime.aclose()
                raise
        return runtime

    def meta_services(self) -> MetaServices:
        settings = self.settings
        limits = MetaLimits(
            max_parallel=settings.execution.max_parallel,
            schema_inline_max_chars=settings.search.schema_inline_max_chars,
            auto_offload_threshold=settings.workbench.auto_offload_threshold,
        )
        return MetaServices(
            self.catalog, self.executor, self.executions, self.memory, self.auth, self.workbench, limits
        )

    async def aclose(self) -> None:
        """Each part closes even when one closed before it fails; the store last, as the others write to it."""
        async with contextlib.AsyncExitStack() as parts:  # callbacks run last-pushed first
            parts.push_async_callback(self.store.aclose)
            if self.replica is not None:
                parts.push_async_callback(self.replica.stop)
            parts.push_async_callback(self.executor.http_tools.close)
            parts.push_async_callback(self.http.aclose)
            if self.workbench is not None:
                parts.push_async_callback(self.workbench.aclose)
            parts.push_async_callback(self.upstreams.close)
