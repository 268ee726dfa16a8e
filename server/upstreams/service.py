"""Upstream MCP servers as toolkits: definitions (config file + registered at run time), their tool
lists (stored, refreshed on `tools/list_changed` and on an interval) and calls on behalf of a user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from server.auth.credentials import build_credential
from server.auth.crypto import SecretBox
from server.catalog.catalog import Catalog
from server.catalog.model import Tool, Toolkit
from server.catalog.toolkit_file import TOOLKIT_SLUG, AuthSchemeFile, OAuth2Fields
from server.config import OAuthApp, UpstreamConfig, UpstreamPoolConfig
from server.errors import ConfigError, Conflict, Forbidden, InvalidInput, NotFound, UpstreamError
from server.execute.credentials import Credential
from server.store.interfaces import UpstreamStore
from server.store.records import AccountRow
from server.upstreams import oauth_discovery
from server.upstreams.connections import ConnectionPool, Target
from server.upstreams.conversion import result_data, secret_of, toolkit_from
from server.upstreams.oauth_discovery import AuthServer


def _oauth2_fields(server: AuthServer) -> OAuth2Fields:
    """The toolkit's oauth2 scheme: PKCE, and the RFC 8707 `resource` on authorization and token requests
    (the MCP authorization specification requires both)."""
    return OAuth2Fields(
        authorize_url=server.authorization_endpoint,
        token_url=server.token_endpoint,
        revoke_url=server.revocation_endpoint,
        default_scopes=list(server.scopes),
        pkce=True,
        authorize_params={"resource": server.resource},
        extra_token_params={"resource": server.resource},
    )


SECRET_FIELDS = ("headers", "env")  # may carry tokens: sealed at rest like every credential
log = logging.getLogger("concierge.upstreams")
RETRY_FIRST_SECONDS = 5.0  # an upstream that has never listed its tools is asked again this soon


@dataclass(slots=True)
class Upstream:
    name: str
    config: UpstreamConfig
    source: str  # "config" or "api"
    tools: list[dict[str, Any]] | None = None
    refreshed_at: float | None = None
    last_error: str | None = None
    auth_server: AuthServer | None = None  # auth.type = "oauth": where users sign in
    retry_seconds: float | None = None  # never listed and the last try failed: the next one after this


@dataclass(frozen=True, slots=True)
class OAuthContext:
    """What OAuth upstreams need from the rest of the server: the operator's OAuth apps (an upstream's
    registered client is added there, so the Connect Link flow finds it like any toolkit's app), the
    sealing box for that client's secret and for registered upstreams' headers and env, the callback URL to
    register, and an HTTP client."""

    apps: dict[str, OAuthApp]
    box: SecretBox
    callback_uri: str
    http: httpx.AsyncClient


class UpstreamService:
    def __init__(
        self,
        configured: dict[str, UpstreamConfig],
        pool_settings: UpstreamPoolConfig,
        store: UpstreamStore,
        catalog: Catalog,
        data_dir: Path,
        on_catalog_change: Callable[[], None],
        oauth: OAuthContext,
        max_answer_bytes: int,
    ) -> None:
        self.settings = pool_settings
        self.store = store
        self.catalog = catalog
        self.on_catalog_change = on_catalog_change
        self.oauth = oauth
        self.upstreams: dict[str, Upstream] = {n: Upstream(n, c, "config") for n, c in configured.items()}
        self.pool = ConnectionPool(pool_settings, data_dir / "upstreams", self._list_changed, max_answer_bytes)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refreshing: dict[str, asyncio.Task[int]] = {}
        self._retrying: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Stored tool lists go into the catalog at once (an unreachable upstream keeps its tools); each
        upstream is then asked again in the background, and start waits briefly for ones never listed."""
        for name in self.upstreams:
            if not re.fullmatch(TOOLKIT_SLUG, name) or name in self.catalog.toolkits:
                raise ConfigError(
                    f"config: upstreams.{name}: the name must be a free toolkit slug (lower-case "
                    "letters, digits, '_'), not one of the catalog's toolkits"
                )
        for row in await self.store.list_all():
            if row.definition is not None and row.name not in self.upstreams:
                definition = await self._definition(row.name, row.definition, row.secrets)
                self.upstreams[row.name] = Upstream(row.name, UpstreamConfig.model_validate(definition), "api")
            upstream = self.upstreams.get(row.name)
            if upstream is None:
                continue
            if row.oauth is not None and upstream.config.auth.type == "oauth":
                self._use_auth_server(upstream, AuthServer.from_dict(row.oauth), row.oauth_client)
            if row.tools is not None:
                upstream.tools, upstream.refreshed_at = row.tools, row.tools_refreshed_at
                self._publish(upstream)
        self.pool.start()
        never_listed = [self._refresh_soon(u.name) for u in self.upstreams.values() if u.tools is None]
        for u in self.upstreams.values():
            if u.tools is not None:
                self._refresh_soon(u.name)
        if never_listed:
            await asyncio.wait(never_listed, timeout=self.settings.connect_timeout_seconds)
        self._spawn(self._refresh_forever())

    async def _definition(self, name: str, stored: dict[str, Any], secrets: bytes | None) -> dict[str, Any]:
        """A registered upstream's definition with its headers and env opened; ones stored in the clear (by a
        version before they were sealed) are sealed now."""
        if secrets is not None:
            return stored | self.oauth.box.open(secrets)
        public, secret = _split_secrets(stored)
        if secret:
            await self.store.reseal(name, public, self.oauth.box.seal(secret))
        return stored

    def _check_name(self, name: str) -> None:
        if not re.fullmatch(TOOLKIT_SLUG, name):
            raise InvalidInput(
                f"upstream name {name!r} must be lower-case letters, digits and '_' (2-64 "
                "characters, starting with a letter); it becomes the toolkit slug",
                {"upstream": name},
            )
        if name in self.upstreams:
            raise Conflict(f"upstream {name!r} already exists", {"upstream": name})
        if name in self.catalog.toolkits:
            raise Conflict(f"{name!r} is already a toolkit of the catalog; pick another name", {"upstream": name})

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _publish(self, upstream: Upstream) -> None:
        oauth2 = _oauth2_fields(upstream.auth_server) if upstream.auth_server else None
        if upstream.config.auth.type == "oauth" and oauth2 is None:
            return  # its sign-in is not known yet: no toolkit a user could not connect
        self.catalog.put_toolkit(toolkit_from(upstream.name, upstream.config, upstream.tools or [], oauth2))
        self.on_catalog_change()

    def _use_auth_server(self, upstream: Upstream, server: AuthServer, client: bytes | None) -> None:
        upstream.auth_server = server
        if client is not None and upstream.name not in self.oauth.apps:
            registered = self.oauth.box.open(client)
            self.oauth.apps[upstream.name] = OAuthApp(
                client_id=registered["client_id"], client_secret=SecretStr(registered["client_secret"])
            )

    async def _sign_in_known(self, upstream: Upstream) -> None:
        """MCP authorization: find the upstream's authorization server, and register a client there unless
        the operator brought one (`[oauth_apps.<name>]`). Stored, so a restart asks nothing again."""
        if upstream.auth_server is not None or upstream.config.auth.type != "oauth":
            return
        assert upstream.config.url is not None
        server = await oauth_discovery.discover(self.oauth.http, upstream.name, upstream.config.url)
        sealed = None
        if upstream.name not in self.oauth.apps:
            client_id, secret = await oauth_discovery.register(
                self.oauth.http, upstream.name, server, self.oauth.callback_uri, "Concierge"
            )
            sealed = self.oauth.box.seal({"client_id": client_id, "client_secret": secret})
        await self.store.save_oauth(upstream.name, server.to_dict(), sealed)
        self._use_auth_server(upstream, server, sealed)
        self._publish(upstream)

    async def account_active(self, account: AccountRow, scheme: AuthSchemeFile, secret: dict[str, Any]) -> None:
        """A user connected an upstream that lists its tools only to signed-in users: list them as that user."""
        upstream = self.upstreams.get(account.toolkit)
        if upstream is None or upstream.config.auth.type == "none" or upstream.tools:
            return
        target = self.target_of(upstream, build_credential(account, scheme, secret))
        self._spawn(self._refresh_logged(upstream.name, target))

    def _list_changed(self, name: str) -> None:
        log.info("upstream %s: tool list changed; fetching it again", name)
        self._refresh_soon(name)

    def _refresh_soon(self, name: str) -> asyncio.Task[int]:
        task = self._refreshing.get(name)
        if task is None or task.done():
            task = self._refreshing[name] = self._spawn(self._refresh_logged(name))
        return task

    async def _refresh_logged(self, name: str, target: Target | None = None) -> int:
        try:
            return await self.refresh(name, target)
        except UpstreamError as exc:
            upstream = self.upstreams.get(name)
            # one that takes users' credentials may list its tools only to them: it is listed as the first
            # user who connects (`account_active`)
            if upstream and upstream.tools is None and target is None and upstream.config.auth.type == "none":
                self._retry_soon(upstream, exc.message)
            else:
                log.warning("upstream %s: %s (a stored tool list stays in the catalog)", name, exc.message)
            return -1

    def _retry_soon(self, upstream: Upstream, reason: str) -> None:
        """An upstream that has never listed its tools has no toolkit yet: it is asked again after 5 s,
        then twice as long each time up to `refresh_seconds`, rather than only at the next refresh."""
        pending = self._retrying.get(upstream.name)
        if pending is not None and not pending.done():
            return
        after = 2 * upstream.retry_seconds if upstream.retry_seconds else RETRY_FIRST_SECONDS
        upstream.retry_seconds = min(self.settings.refresh_seconds, after)
        log.warning(
            "upstream %s: %s; no tools from it yet, trying again in %g s", upstream.name, reason, upstream.retry_seconds
        )
        self._retrying[upstream.name] = self._spawn(self._refresh_after(upstream.name, upstream.retry_seconds))

    async def _refresh_after(self, name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._retrying.pop(name, None)  # a failure now schedules the next try
        upstream = self.upstreams.get(name)
        if upstream is not None and upstream.tools is None:
            await self._refresh_soon(name)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            for name in list(self.upstreams):
                self._refresh_soon(name)

    async def refresh(self, name: str, target: Target | None = None) -> int:
        """Ask the upstream for its tools (as `target`; default: with no user's credential), store and
        publish them."""
        upstream = self.get(name)
        try:
            await self._sign_in_known(upstream)
            async with self.pool.lease(target or Target(name, upstream.config)) as conn:
                tools = await asyncio.wait_for(conn.list_tools(), timeout=upstream.config.timeout_seconds)
        except UpstreamError as exc:
            upstream.last_error = exc.message
            raise
        except Exception as exc:
            upstream.last_error = f"listing tools failed: {type(exc).__name__}: {exc}"
            raise UpstreamError(f"upstream MCP server {name!r}: {upstream.last_error}", {"upstream": name}) from None
        if name not in self.upstreams:  # removed while we were asking
            return 0
        await self.store.save_tools(name, tools)
        upstream.tools, upstream.last_error, upstream.retry_seconds = tools, None, None
        upstream.refreshed_at = time.time()
        self._publish(upstream)
        return len(tools)

    def get(self, name: str) -> Upstream:
        upstream = self.upstreams.get(name)
        if upstream is None:
            raise NotFound(f"upstream {name!r} not found", {"upstream": name, "known": sorted(self.upstreams)})
        return upstream

    async def add(self, name: str, config: UpstreamConfig, *, from_api: bool) -> Upstream:
        """Register, list its tools (it must answer), store. Nothing is kept if listing fails."""
        if from_api and config.command is not None and not self.settings.allow_commands_from_api:
            raise Forbidden(
                "registering a stdio upstream at run time starts a program as the server's user; "
                "declare it under [upstreams.<name>] in the config file, or set "
                "upstream_pool.allow_commands_from_api = true",
                {"upstream": name},
            )
        self._check_name(name)
        public, secret = _split_secrets(config.model_dump(mode="json", exclude_defaults=True))
        if not await self.store.add(name, public, self.oauth.box.seal(secret) if secret else None):
            raise Conflict(f"upstream {name!r} already exists", {"upstream": name})
        upstream = self.upstreams[name] = Upstream(name, config, "api")
        try:
            await self.refresh(name)
        except BaseException:
            await self.remove(name)
            raise
        return upstream

    async def remove(self, name: str) -> None:
        upstream = self.get(name)
        if upstream.source == "config":
            raise Conflict(f"upstream {name!r} is declared in the config file; remove it there", {"upstream": name})
        del self.upstreams[name]
        await self.store.remove(name)
        await self.pool.close_upstream(name)
        if name in self.catalog.toolkits:
            self.catalog.remove_toolkit(name)
            self.on_catalog_change()

    def target(self, toolkit: Toolkit, credential: Credential) -> Target:
        return self.target_of(self.get(toolkit.slug), credential)

    def target_of(self, upstream: Upstream, credential: Credential) -> Target:
        if upstream.config.auth.type == "none":
            return Target(upstream.name, upstream.config)
        secret = secret_of(upstream.config, credential)
        if secret is None:
            raise UpstreamError(f"upstream {upstream.name!r}: the connected account has no credential")
        return Target(upstream.name, upstream.config, credential.account_id, secret)

    async def call(self, toolkit: Toolkit, tool: Tool, arguments: dict[str, Any], credential: Credential) -> Any:
        assert tool.upstream_name is not None
        target = self.target(toolkit, credential)
        result = await self.pool.call(target, tool.upstream_name, arguments, as_task=tool.upstream_task)
        return result_data(target.upstream, tool.upstream_name, result)

    def describe(self, upstream: Upstream) -> dict[str, Any]:
        config = upstream.config
        return {
            "name": upstream.name,
            "source": upstream.source,
            "transport": "stdio" if config.command else "streamable_http",
            "url": config.url,
            "command": config.command,
            "args": config.args,
            "auth": config.auth.type,
            "tool_count": len(upstream.tools or []),
            "tools": sorted(self.catalog.toolkits[upstream.name].tools)
            if upstream.name in self.catalog.toolkits
            else [],
            "last_error": upstream.last_error,
        }

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.pool.close()


def _split_secrets(definition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what is stored in the clear, the fixed headers and environment, which are stored sealed)."""
    secret = {key: definition[key] for key in SECRET_FIELDS if definition.get(key)}
    return {k: v for k, v in definition.items() if k not in SECRET_FIELDS}, secret
