"""The `concierge` command. Server-side commands (serve, stdio) load config; session commands talk
to a running server's REST API, so its cache and the database never disagree."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import json
import logging
import math
import os
import shlex
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import httpx

from server.config import DEFAULT_CONFIG_FILE, Settings, load_settings
from server.errors import AddressInUse, ConciergeError, ConfigError, InvalidInput, NotFound, ServerUnreachable
from server.mcp_client_config import CLIENTS

LISTEN_BACKLOG = 2048  # as uvicorn


def _settings(args: argparse.Namespace) -> Settings:
    flags = {k: getattr(args, k, None) for k in ("host", "port", "data_dir", "log_level")}
    return load_settings(Path(args.config) if getattr(args, "config", None) else None, flags)


def _print(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else human)


def listen_socket(settings: Settings) -> socket.socket:
    """Bound and listening before anything is announced: a taken port is one line and a non-zero exit."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(f"host {settings.host!r} cannot be resolved ({exc.strerror}); check --host") from None
    sock = socket.socket(family, kind, proto)  # IPPROTO_TCP: asyncio then turns Nagle off on accepted sockets
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUse(
                f"port {settings.port} on {settings.host} is already in use (another Concierge or "
                f"another program); pick another with `concierge serve --port {settings.port + 1}` "
                "or `port` in concierge.toml"
            ) from None
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    return sock


def server_file(data_dir: Path) -> Path:
    """Where a running `concierge serve` leaves its URL, so CLI commands run next to it find it."""
    return data_dir / "server.json"


def run_server(
    settings: Settings,
    sock: socket.socket,
    *,
    reset_admin_key: bool = False,
    announce: Callable[[str], None] = lambda line: print(line, flush=True),
) -> None:
    """What `concierge serve` runs once its socket is bound (the overhead bench runs exactly this)."""
    import uvicorn

    from server.app import build_app
    from server.runtime import Runtime

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # `StopSignals` holds them, for the runtime's start and close too

    async def serve() -> None:
        with StopSignals() as stop:
            # Started before the app, so a wrong key or a bad toolkit stops with one clear line.
            runtime = await Runtime.start(settings)
            # What start-up built (catalog, search index, imported modules) lives as long as the server: frozen,
            # the cyclic garbage collector stops walking it again at every collection during requests.
            gc.collect()
            gc.freeze()
            try:
                app = build_app(settings, announce=announce, runtime=runtime, reset_admin_key=reset_admin_key)
                config = uvicorn.Config(
                    app,
                    log_level=settings.log_level,
                    access_log=False,
                    lifespan="on",
                    log_config=None,  # our handler (text or JSON, scrubbed) serves all
                    timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
                )
                server = Server(config)
                stop.attach(lambda sig: server.handle_exit(sig, None))
                await server.serve(sockets=[sock])
            finally:
                await runtime.aclose()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve())


class StopSignals:
    """SIGINT and SIGTERM stop the server for as long as `serve` (or `stdio`) runs, its start and its close
    included.

    uvicorn raises the signal that stopped it again once it has stopped, to exit as that signal would:
    that would cancel the runtime's close (SIGINT: the store's threads stay open and the process waits on
    them for ever) or skip it (SIGTERM: upstream process groups left running, the store not closed).
    Here a signal only asks uvicorn to stop (a second SIGINT: at once, as uvicorn does), and the close
    always runs to its end."""

    def __init__(self) -> None:
        self.on_stop: Callable[[int], object] | None = None
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def attach(self, on_stop: Callable[[int], object]) -> None:
        """What stops the server (given the signal); attached after a signal, it is called at once."""
        self.on_stop = on_stop
        for sig in self.received:
            on_stop(sig)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.received.append(sig)
        if self.on_stop is not None:
            self.on_stop(sig)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    """From a signal handler: a signal that arrives once the loop has closed has nothing left to stop."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as uvicorn itself would choose."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def configure_logging(settings: Settings) -> None:
    from server.observability import logs

    logs.configure(settings.log_level, settings.log_format)
    if settings.log_level != "debug":  # the SDK says "Terminating session: None" at INFO on every stateless request
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings)
    sock = listen_socket(settings)
    with sock:
        if settings.port == 0:  # `--port 0`: announce the port the system picked
            settings = settings.model_copy(update={"port": sock.getsockname()[1]})
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        marker = server_file(settings.data_dir)
        marker.write_text(json.dumps({"url": settings.base_url, "pid": os.getpid()}))
        try:
            run_server(settings, sock, reset_admin_key=args.reset_admin_key)
        finally:
            marker.unlink(missing_ok=True)
    return 0


def cmd_stdio(args: argparse.Namespace) -> int:
    from server.app import meta_tools_for
    from server.mcp_app import serve_stdio
    from server.meta_tools.registry import ToolSurface
    from server.runtime import Runtime

    settings = _settings(args)
    configure_logging(settings)  # stderr: stdout is the MCP channel
    if args.session is None and not args.user_id:
        raise ConfigError("stdio needs --session ID, or --user-id (with optional --toolkits and --reuse)")
    if sys.stdin is None or sys.stdout is None:  # started with fd 0 or 1 closed: the next file opened would take it
        raise ConfigError("stdio mode speaks MCP over stdin and stdout, and one of them is closed")

    async def main() -> None:
        with StopSignals() as stop:  # as for `serve`: a signal ends the serving, and the close runs to its end
            runtime = await Runtime.start(settings)
            try:
                session_id = args.session or await _stdio_session(runtime, args.user_id, args.toolkits, args.reuse)
                surface = ToolSurface(meta_tools_for(runtime), runtime.meta_services())
                with anyio.CancelScope() as serving:
                    loop = asyncio.get_running_loop()
                    stop.attach(lambda sig: _call_soon(loop, serving.cancel))
                    await serve_stdio(runtime, surface, session_id)
            finally:
                await runtime.aclose()

    anyio.run(main)
    return 0


async def _stdio_session(runtime: Any, user_id: str, toolkits: str | None, reuse: bool) -> str:
    """A new session, or with `reuse` the one this (user, toolkit set) got at an earlier launch, so a
    desktop app restart keeps its workbench and history."""

    slugs = sorted({t.strip() for t in (toolkits or "").split(",") if t.strip()})
    key = f"stdio_session:{user_id}:{','.join(slugs)}"
    if reuse:
        known = await runtime.meta.get(key)
        if known:
            try:
                await runtime.sessions.get(known)
            except NotFound:
                pass  # deleted since: make a new one below
            else:
                print(f"concierge: reusing session {known} for {user_id}", file=sys.stderr)
                return str(known)
    body: dict[str, Any] = {"user_id": user_id} | ({"toolkits": slugs} if slugs else {})
    session = await runtime.sessions.create(body)
    if reuse:
        await runtime.meta.set(key, session.id)
    print(f"concierge: created session {session.id} for {user_id}", file=sys.stderr)
    return str(session.id)


def server_url(args: argparse.Namespace, settings: Settings | None = None) -> tuple[str, str]:
    """The server a REST command talks to, and where that URL came from (named in the "no server" message)."""
    if args.url:
        return args.url.rstrip("/"), "--server"
    if os.environ.get("CONCIERGE_BASE_URL"):
        return os.environ["CONCIERGE_BASE_URL"].rstrip("/"), "CONCIERGE_BASE_URL"
    settings = settings or load_settings()
    running = server_file(settings.data_dir)
    try:
        marker = json.loads(running.read_text())
        os.kill(int(marker["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return settings.base_url, "the local config (concierge.toml / CONCIERGE_* variables; default port 8000)"
    return str(marker["url"]).rstrip("/"), f"{running}, left by a running `concierge serve`"


class Api:
    """Minimal REST caller for the CLI: the server from `server_url`, the key from --api-key or CONCIERGE_API_KEY."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.base, self.source = server_url(args)
        key = args.api_key or os.environ.get("CONCIERGE_API_KEY")
        if not key:
            raise ConfigError(
                "set CONCIERGE_API_KEY (or --api-key) to the admin key printed by `concierge serve` "
                "(lost it? `concierge keys reset-admin`)"
            )
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        try:
            response = httpx.request(
                method, f"{self.base}/api/v1{path}", json=body, params=params, headers=self.headers, timeout=30
            )
        except httpx.ConnectError:
            raise ServerUnreachable(
                f"no Concierge server at {self.base} (from {self.source}); start one with "
                "`concierge serve`, or point the CLI at yours with --server URL or "
                "CONCIERGE_BASE_URL"
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise ConfigError(
                f"{self.base!r} (from {self.source}) is not a server URL; give it as http://host:port"
            ) from None
        if response.status_code == 204:
            return None
        try:
            data = response.json()
            problem = f"{data['error']['code']}: {data['error']['message']}" if response.status_code >= 400 else None
        except (ValueError, KeyError, TypeError):
            raise ServerUnreachable(
                f"{self.base} (from {self.source}) answered HTTP {response.status_code} without Concierge's JSON; "
                "is it a Concierge server?"
            ) from None
        if problem is not None:
            raise ConciergeError(problem)
        return data


def _segment(value: str) -> str:
    """An id as one path segment: `../x` names a session that does not exist, not another endpoint."""
    return urllib.parse.quote(value, safe="")


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _json_object(text: str, flag: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{flag} must be a JSON object ({{...}})")
    return value


def _session_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = _json_object(args.options, "--options") if args.options else {}
    if getattr(args, "user_id", None):
        body["user_id"] = args.user_id
    if args.toolkits:
        body["toolkits"] = [t.strip() for t in args.toolkits.split(",") if t.strip()]
    if args.tags:
        tags = [t.strip() for t in args.tags.split(",") if t.strip()]
        body["tags"] = {
            "enable": [t for t in tags if not t.startswith("-")],
            "disable": [t[1:] for t in tags if t.startswith("-")],
        }
    return body


def _session_line(s: dict[str, Any]) -> str:
    return (
        f"{s['id']}  user={s['user_id']}  version={s['config_version']}  tools={s['allowed_tool_count']}\n"
        f"  MCP URL: {s['mcp']['url']}"
    )


def cmd_sessions(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.action == "create":
        s = api("POST", "/sessions", _session_body(args))
        _print(args, s, _session_line(s))
    elif args.action == "show":
        s = api("GET", f"/sessions/{_segment(args.id)}")
        _print(args, s, _session_line(s) + "\n  config: " + json.dumps(s["config"]))
    elif args.action == "update":
        body = _session_body(args)
        if args.expected_version is not None:
            body["expected_config_version"] = args.expected_version
        s = api("PATCH", f"/sessions/{_segment(args.id)}", body)
        _print(args, s, _session_line(s))
    elif args.action == "delete":
        api("DELETE", f"/sessions/{_segment(args.id)}")
        _print(args, {"deleted": args.id}, f"deleted {args.id}")
    else:
        items = api("GET", "/sessions", params={"user_id": args.user_id})["items"]
        _print(args, items, "\n".join(_session_line(s) for s in items) or "no sessions")
    return 0


def cmd_toolkits(args: argparse.Namespace) -> int:
    from server.runtime import load_catalog

    if args.action == "import-openapi":
        from server.catalog.openapi_import import import_spec

        result = import_spec(Path(args.spec), args.slug, args.include or [], Path(args.out))
        print(
            f"wrote {result.folder / 'toolkit.yaml'}: {result.tools} tools"
            + (f"; left out {len(result.skipped)} operations:" if result.skipped else "")
        )
        for line in result.skipped:
            print("  " + line)
        return 0
    catalog = load_catalog(_settings(args))
    if args.action in ("check-spec", "docs"):
        from server.catalog import spec_check, toolkit_docs

        for slug in args.slugs or []:
            catalog.known_toolkit(slug)
        toolkits = [tk for tk in catalog.toolkits.values() if not args.slugs or tk.slug in args.slugs]
        reports = spec_check.check_catalog(toolkits, spec_check.specs_dir(Path(args.specs) if args.specs else None))
        if args.action == "docs":
            print(toolkit_docs.render(toolkits, reports), end="")
            return 0
        for slug in sorted(set(args.slugs or []) - {r.toolkit for r in reports}):
            print(f"{slug}: nothing to check (no HTTP tools with a provider description)")
        for report in reports:
            print(report.line())
            for line in report.mismatches:
                print("  mismatch: " + line)
        return 1 if any(r.mismatches for r in reports) else 0
    if args.action == "schema":
        from server.catalog.toolkit_file import ToolkitFile

        print(json.dumps(ToolkitFile.model_json_schema(), indent=2))
        return 0
    if args.action == "list":
        rows: list[dict[str, Any]] = [
            {"slug": tk.slug, "name": tk.name, "tools": len(tk.tools), "auth": [s.type for s in tk.auth_schemes]}
            for tk in catalog.toolkits.values()
        ]
        _print(
            args,
            rows,
            "\n".join(
                f"{r['slug']:<12} {r['tools']:>3} tools  {r['name']}  (auth: {', '.join(r['auth'])})" for r in rows
            ),
        )
        return 0
    toolkit = catalog.known_toolkit(args.slug)
    rows = [{"slug": t.slug, "name": t.name, "description": t.description} for t in toolkit.tools.values()]
    _print(
        args,
        {"slug": toolkit.slug, "description": toolkit.description, "tools": rows},
        f"{toolkit.name} ({toolkit.slug}): {toolkit.description}\n"
        + "\n".join(f"  {r['slug']:<34} {r['name']}" for r in rows),
    )
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from server.runtime import load_catalog

    catalog = load_catalog(_settings(args))
    pool = set(catalog.known_toolkit(args.toolkit).tools) if args.toolkit else None
    hits = catalog.index.search(args.query, allowed=pool, limit=args.limit)
    rows: list[dict[str, Any]] = [
        {"slug": h.slug, "score": round(h.score, 3), "description": catalog.tools[h.slug].description} for h in hits
    ]
    _print(
        args,
        rows,
        "\n".join(f"{i}. {r['slug']}  ({r['score']})\n   {r['description'][:110]}" for i, r in enumerate(rows, 1))
        or "no matching tool",
    )
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.action == "list":
        params = {"user_id": args.user_id} | ({"toolkit": args.toolkit} if args.toolkit else {})
        items = api("GET", "/connected_accounts", params=params)["items"]
        _print(
            args,
            items,
            "\n".join(
                f"{a['id']}  {a['toolkit']['slug']:<10} {a['status']:<9} alias={a['alias']}  "
                f"{a['credential_preview'] or ''}"
                for a in items
            )
            or "no connected accounts",
        )
        return 0
    path = f"/connected_accounts/{_segment(args.id)}"
    if args.action == "show":
        data = api("GET", path)
        data["events"] = api("GET", path + "/events")["items"]
    elif args.action == "delete":
        api("DELETE", path)
        data = {"deleted": args.id}
    else:
        data = api("POST", f"{path}/{args.action}")
    _print(args, data, json.dumps(data, indent=2))
    return 0


def cmd_auth_configs(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.action == "list":
        items = api("GET", "/auth_configs", params={"toolkit": args.toolkit} if args.toolkit else None)["items"]
        _print(
            args,
            items,
            "\n".join(f"{c['id']}  {c['toolkit']:<10} {c['type']:<7} {c['status']:<8} {c['name']}" for c in items)
            or "no auth configs",
        )
        return 0
    if args.action == "create":
        body: dict[str, Any] = {"toolkit": args.toolkit}
        if args.client_id:
            secret = args.client_secret or os.environ.get("CONCIERGE_CLIENT_SECRET")
            if not secret:
                raise ConciergeError("--client-id needs --client-secret (or CONCIERGE_CLIENT_SECRET)")
            body["credentials"] = {"client_id": args.client_id, "client_secret": secret}
        if args.scopes:
            body["scopes"] = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
        data = api("POST", "/auth_configs", body)
    elif args.action == "delete":
        api("DELETE", f"/auth_configs/{_segment(args.id)}")
        data = {"deleted": args.id}
    else:
        data = api("GET", f"/auth_configs/{_segment(args.id)}")
    _print(args, data, json.dumps(data, indent=2))
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    body = {"user_id": args.user_id, "toolkit": args.toolkit} | ({"alias": args.alias} if args.alias else {})
    data = Api(args)("POST", "/connected_accounts/link", body)
    _print(
        args,
        data,
        f"Open this link to connect {args.toolkit} for {args.user_id} (valid until "
        f"{time.strftime('%H:%M:%S', time.localtime(data['expires_at']))}):\n{data['redirect_url']}",
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "generate":
        from cryptography.fernet import Fernet

        print(Fernet.generate_key().decode())
        return 0
    from server.auth.crypto import SecretBox
    from server.auth.rotation import rotate_all
    from server.store import open_store

    settings = _settings(args)
    if args.action == "reset-admin":
        return _reset_admin(settings)

    _existing_database(settings)

    async def rotate() -> int:
        store = await open_store(settings.store_url)
        try:
            box = SecretBox.from_settings(
                settings.encryption_key.get_secret_value() if settings.encryption_key else None, settings.data_dir
            )
            return await rotate_all(store, box)
        finally:
            await store.aclose()

    count = anyio.run(rotate)
    print(f"re-encrypted {count} secrets under the first configured key")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from server.store.copy import copy_database, describe

    print(f"copying {describe(args.source)} -> {describe(args.target)}")
    anyio.run(lambda: copy_database(args.source, args.target, force=args.force))
    return 0


def _existing_database(settings: Settings) -> None:
    """Key commands work on an installation's data: opening a database that is not there would make one."""
    if settings.database_url is None and not settings.db_path.is_file():
        raise ConfigError(
            f"no Concierge database at {settings.db_path}; run this where `concierge serve` runs, "
            "or give its --data-dir / --config"
        )


def _reset_admin(settings: Settings) -> int:
    from server.api.admin_key import META_KEY, new_admin_key
    from server.auth.crypto import fingerprint
    from server.store import open_store

    _existing_database(settings)

    async def reset() -> str:
        store = await open_store(settings.store_url)
        try:
            key = new_admin_key()
            await store.meta.set(META_KEY, fingerprint(key))
            return key
        finally:
            await store.aclose()

    key = anyio.run(reset)
    print(f"Admin API key (shown once, store it now): {key}")
    print("The old key no longer works once the server restarts; restart a running `concierge serve` to use this one.")
    return 0


def _upstream_line(u: dict[str, Any]) -> str:
    where = u["url"] or " ".join([u["command"] or "", *u["args"]])
    problem = f"  last error: {u['last_error']}" if u["last_error"] else ""
    return f"{u['name']:<16} {u['transport']:<15} tools={u['tool_count']:<4} auth={u['auth']:<6} {where}{problem}"


def cmd_upstreams(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.action == "add":
        body: dict[str, Any] = {"name": args.name}
        if args.upstream_url:
            body["url"] = args.upstream_url
        if args.command_line:
            command, *rest = shlex.split(args.command_line)
            body |= {"command": command, "args": rest}
        if args.env:
            if any("=" not in item for item in args.env):
                raise InvalidInput("--env takes NAME=VALUE")
            body["env"] = dict(item.split("=", 1) for item in args.env)
        if args.auth_header:
            body["auth"] = {"type": "header", "header": args.auth_header, "prefix": args.auth_prefix}
        if args.auth_env:
            body["auth"] = {"type": "header", "env": args.auth_env, "prefix": ""}
        u = api("POST", "/upstreams", body)
        _print(args, u, _upstream_line(u) + "\n  " + ", ".join(u["tools"]))
    elif args.action == "remove":
        api("DELETE", f"/upstreams/{_segment(args.name)}")
        _print(args, {"removed": args.name}, f"removed {args.name}")
    elif args.action == "refresh":
        data = api("POST", f"/upstreams/{_segment(args.name)}/refresh")
        _print(args, data, f"{args.name}: {data['tool_count']} tools")
    elif args.action == "show":
        u = api("GET", f"/upstreams/{_segment(args.name)}")
        _print(args, u, _upstream_line(u) + "\n  " + ", ".join(u["tools"]))
    else:
        items = api("GET", "/upstreams")["items"]
        _print(args, items, "\n".join(_upstream_line(u) for u in items) or "no upstreams")
    return 0


def cmd_eval_search(args: argparse.Namespace) -> int:
    from server.catalog.evaluation import eval_search_main

    return eval_search_main(Path(args.data) if args.data else None, args.split, args.json, semantic=args.semantic)


def cmd_mcp_config(args: argparse.Namespace) -> int:
    from server import mcp_client_config as mc

    settings = _settings(args)
    base_url = server_url(args, settings)[0]
    config = (
        args.config
        or os.environ.get("CONCIERGE_CONFIG")
        or (DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None)
    )
    target = mc.Target(
        base_url=base_url,
        data_dir=settings.data_dir,
        config_file=Path(config) if config else None,
        session_id=args.session,
        user_id=args.user_id,
        toolkits=args.toolkits,
    )
    if not args.install:
        print(json.dumps(mc.document(args.client, target, args.name), indent=2))
        hint = mc.usage(args.client, target, args.name)
        if hint:
            print(hint, file=sys.stderr)
        return 0
    config_file = Path(args.config_file) if args.config_file else mc.default_config_file(args.client)
    if config_file is None:
        raise ConfigError(f"{args.client} has no standard config file: give --config-file PATH")
    backup = mc.install(args.client, target, args.name, config_file.expanduser())
    print(
        f"added {args.name!r} to {config_file}"
        + (f" (previous file kept as {backup})" if backup else "")
        + f"; restart {args.client} to load it"
    )
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("concierge")
    except PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="concierge", description="Self-hosted MCP server with per-user sessions.")
    p.add_argument("--version", action="version", version=f"concierge {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_flags(sp: argparse.ArgumentParser, json_output: bool = False) -> None:
        sp.add_argument(
            "--config", help="TOML config file (default $CONCIERGE_CONFIG, else ./concierge.toml if present)"
        )
        sp.add_argument(
            "--data-dir", dest="data_dir", help="where SQLite and workbench files live (default ./.concierge)"
        )
        if json_output:
            sp.add_argument("--json", action="store_true", help="machine-readable output")

    def url_flag(sp: argparse.ArgumentParser, flags: tuple[str, ...] = ("--url", "--server")) -> None:
        """`--server` everywhere (so one spelling works for every command), `--url` too where it is free."""
        sp.add_argument(
            *flags,
            dest="url",
            help="server base URL (default $CONCIERGE_BASE_URL, else the server running "
            "from this folder's data dir, else the local config: "
            "http://127.0.0.1:8000)",
        )

    def api_flags(sp: argparse.ArgumentParser, url_flags: tuple[str, ...] = ("--url", "--server")) -> None:
        url_flag(sp, url_flags)
        sp.add_argument("--api-key", dest="api_key", help="admin key (default $CONCIERGE_API_KEY)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    def actions(parent: argparse.ArgumentParser, entries: dict[str, str]) -> dict[str, argparse.ArgumentParser]:
        asub = parent.add_subparsers(dest="action", required=True, metavar="ACTION")
        return {name: asub.add_parser(name, help=text, description=text) for name, text in entries.items()}

    serve = sub.add_parser("serve", help="run the HTTP server (REST API and MCP endpoints)")
    config_flags(serve)
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, help="TCP port (default 8000; 0 picks a free one)")
    serve.add_argument(
        "--log-level",
        dest="log_level",
        choices=["debug", "info", "warning", "error"],
        help="default info: start-up lines, warnings and errors, nothing per request",
    )
    serve.add_argument(
        "--reset-admin-key",
        dest="reset_admin_key",
        action="store_true",
        help="replace the stored admin key: with api_key / $CONCIERGE_API_KEY if set, else a new one, printed once",
    )
    serve.set_defaults(func=cmd_serve)

    stdio = sub.add_parser("stdio", help="serve one session's meta tools over stdio (Claude Desktop `command`)")
    config_flags(stdio)
    stdio.add_argument("--session", help="session id to serve (sess_...)")
    stdio.add_argument("--user-id", dest="user_id", help="without --session: create a session for this user")
    stdio.add_argument("--toolkits", help="with --user-id: comma-separated toolkit slugs the new session enables")
    stdio.add_argument(
        "--reuse",
        action="store_true",
        help="with --user-id: reuse the session made for this user and toolkit set at an earlier "
        "launch (keeps its workbench)",
    )
    stdio.set_defaults(func=cmd_stdio)

    mcp_config = sub.add_parser("mcp-config", help="print (or --install) the MCP config entry for a desktop client")
    config_flags(mcp_config)
    url_flag(mcp_config)
    mcp_config.add_argument("client", choices=CLIENTS, help="which client's format")
    mcp_config.add_argument("--session", help="session id (sess_...); required by the HTTP clients")
    mcp_config.add_argument(
        "--user-id",
        dest="user_id",
        help="stdio clients without --session: one session for this user, reused at every launch",
    )
    mcp_config.add_argument("--toolkits", help="with --user-id: comma-separated toolkit slugs")
    mcp_config.add_argument(
        "--name", default="concierge", help="server name in the client's config (default concierge)"
    )
    mcp_config.add_argument(
        "--install",
        action="store_true",
        help="merge the entry into the client's config file, keeping a backup of the old one",
    )
    mcp_config.add_argument(
        "--config-file",
        dest="config_file",
        help="the client's config file (default: that client's standard location on this OS)",
    )
    mcp_config.set_defaults(func=cmd_mcp_config)

    sessions = sub.add_parser("sessions", help="create, show, update, delete, list sessions (via REST)")
    sp = actions(
        sessions,
        {
            "create": "create a session and print its MCP URL",
            "show": "show a session and its config",
            "update": "change a session in place (same id, config_version + 1)",
            "delete": "delete a session (its MCP URL stops working)",
            "list": "list a user's sessions",
        },
    )
    for action, spp in sp.items():
        api_flags(spp)
        if action in ("show", "update", "delete"):
            spp.add_argument("id", help="session id (sess_...)")
        if action in ("create", "list"):
            spp.add_argument("--user-id", dest="user_id", required=True, help="your end user's id")
        if action in ("create", "update"):
            spp.add_argument("--toolkits", help="comma-separated toolkit slugs to enable (the others are off)")
            spp.add_argument(
                "--tags",
                help="comma-separated tool tags: keep only tools with at least one of them "
                "(tags.enable), and drop tools with a tag written -tag (tags.disable), "
                "e.g. readOnlyHint or -destructiveHint",
            )
            spp.add_argument(
                "--options", help="more options as a JSON object (tools, tags, auth_configs, workbench, ...)"
            )
        if action == "update":
            spp.add_argument(
                "--expected-version",
                dest="expected_version",
                type=int,
                help="refuse (409) if the session's config_version is no longer this one",
            )
    sessions.set_defaults(func=cmd_sessions)

    toolkits = sub.add_parser("toolkits", help="list or show toolkits (reads toolkit folders, no server needed)")
    tp = actions(
        toolkits,
        {
            "list": "list the toolkits this configuration loads",
            "schema": "print the JSON Schema of toolkit.yaml (docs/toolkit.schema.json)",
            "show": "show one toolkit and its tools",
            "import-openapi": "write a toolkit folder from an OpenAPI 3.x, Swagger 2.0 or Google discovery document",
            "check-spec": "check HTTP tools against their providers' API descriptions",
            "docs": "print docs/toolkits.md: every toolkit and tool, with hints, auth and spec coverage",
        },
    )
    for name, spp in tp.items():
        if name != "import-openapi":
            config_flags(spp, json_output=name in ("list", "show"))
    tp["show"].add_argument("slug", help="toolkit slug, e.g. github")
    imp = tp["import-openapi"]
    imp.add_argument("spec", help="the description file (.json or .yaml)")
    imp.add_argument("--slug", required=True, help="toolkit slug, e.g. twilio (tools become TWILIO_<ACTION>)")
    imp.add_argument(
        "--include",
        action="append",
        metavar="TAG|PATH",
        help="only operations with this tag, or under this path prefix (starting with /); repeatable",
    )
    imp.add_argument("--out", default="toolkits", help="folder to write <slug>/toolkit.yaml into (default: toolkits)")
    for name in ("check-spec", "docs"):
        tp[name].add_argument("slugs", nargs="*", help="only these toolkits")
        tp[name].add_argument("--specs", help="the api-specs folder (default: ../shared/data/api-specs)")
    toolkits.set_defaults(func=cmd_toolkits)

    tools = sub.add_parser("tools", help="search tools (no server needed)")
    search = actions(tools, {"search": "rank tools for a use case, as COMPOSIO_SEARCH_TOOLS does"})["search"]
    config_flags(search, json_output=True)
    search.add_argument("query", help="what you want done, in plain words")
    search.add_argument("--toolkit", help="only this toolkit's tools")
    search.add_argument("--limit", type=_positive, default=5, help="how many tools to show (default 5)")
    tools.set_defaults(func=cmd_tools)

    accounts = sub.add_parser("accounts", help="connected accounts (via REST)")
    ap = actions(
        accounts,
        {
            "list": "list a user's connected accounts",
            "show": "show an account and its events",
            "delete": "delete an account and its credentials",
            "disable": "stop using an account without deleting it",
            "enable": "use a disabled account again",
            "revoke": "revoke the account's token at the provider, then mark it REVOKED",
        },
    )
    for action, spp in ap.items():
        api_flags(spp)
        if action == "list":
            spp.add_argument("--user-id", dest="user_id", required=True, help="your end user's id")
            spp.add_argument("--toolkit", help="only this toolkit's accounts")
        else:
            spp.add_argument("id", help="connected account id (ca_...)")
    accounts.set_defaults(func=cmd_accounts)

    configs = sub.add_parser("auth-configs", help="auth configs: which OAuth app / scheme a toolkit uses (via REST)")
    cp = actions(
        configs,
        {
            "list": "list auth configs",
            "create": "create an auth config for a toolkit",
            "show": "show an auth config",
            "delete": "delete an auth config",
        },
    )
    for action, spp in cp.items():
        api_flags(spp)
        if action in ("show", "delete"):
            spp.add_argument("id", help="auth config id (ac_...)")
    cp["list"].add_argument("--toolkit", help="only this toolkit's auth configs")
    cp["create"].add_argument("--toolkit", required=True, help="toolkit slug, e.g. github")
    cp["create"].add_argument("--client-id", dest="client_id", help="your OAuth app's client id")
    cp["create"].add_argument(
        "--client-secret", dest="client_secret", help="or CONCIERGE_CLIENT_SECRET (keeps it out of ps)"
    )
    cp["create"].add_argument("--scopes", help="comma-separated OAuth scopes (default: the toolkit's)")
    configs.set_defaults(func=cmd_auth_configs)

    connect = sub.add_parser("connect", help="print a Connect Link for a user and toolkit")
    api_flags(connect)
    connect.add_argument("toolkit", help="toolkit slug, e.g. github")
    connect.add_argument("--user-id", dest="user_id", required=True, help="your end user's id")
    connect.add_argument("--alias", help="name for this account (work, personal) when a user has several")
    connect.set_defaults(func=cmd_connect)

    keys = sub.add_parser("keys", help="admin key recovery; encryption keys: generate one, re-encrypt all secrets")
    kp = actions(
        keys,
        {
            "generate": "print a new Fernet encryption key (for encryption_key)",
            "rotate": "re-encrypt every secret under the first configured encryption key",
            "reset-admin": "store and print a new admin API key (needs the data folder; restart "
            "a running server to use it)",
        },
    )
    for spp in kp.values():
        config_flags(spp)
    keys.set_defaults(func=cmd_keys)

    db = sub.add_parser("db", help="the server's database: copy it between SQLite and PostgreSQL")
    dp = actions(
        db,
        {
            "copy": "copy every table from one database URL to another (stop the server first, or accept the "
            "source's state at the moment the copy starts)",
        },
    )
    dp["copy"].add_argument(
        "--from", dest="source", required=True, metavar="URL", help="sqlite:////path/concierge.db or postgresql://…"
    )
    dp["copy"].add_argument("--to", dest="target", required=True, metavar="URL", help="where the rows go")
    dp["copy"].add_argument("--force", action="store_true", help="replace rows the target already holds")
    db.set_defaults(func=cmd_db)

    ups = sub.add_parser("upstreams", help="other MCP servers whose tools become toolkits (via REST)")
    up = actions(
        ups,
        {
            "add": "register an MCP server: --url (Streamable HTTP) or --command (stdio)",
            "list": "list upstreams, their transport and tool count",
            "show": "one upstream and its tools",
            "refresh": "fetch an upstream's tools again",
            "remove": "remove an upstream registered at run time",
        },
    )
    api_flags(up["add"], url_flags=("--server",))  # --url names the upstream here
    up["add"].add_argument("name", help="toolkit slug for its tools (lower case); tools become NAME_TOOL")
    where = up["add"].add_mutually_exclusive_group(required=True)
    where.add_argument("--url", dest="upstream_url", help="Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp")
    where.add_argument("--command", dest="command_line", help='stdio command line, e.g. "npx -y @scope/server"')
    up["add"].add_argument("--env", action="append", metavar="KEY=VALUE", help="environment for a stdio upstream")
    up["add"].add_argument("--auth-header", help="per-user credential in this HTTP header (asked on the Connect Link)")
    up["add"].add_argument("--auth-prefix", default="Bearer ", help="text before the credential (default 'Bearer ')")
    up["add"].add_argument(
        "--auth-env", help="stdio: per-user credential in this environment variable (one process per user)"
    )
    api_flags(up["list"])
    for action in ("show", "refresh", "remove"):
        api_flags(up[action])
        up[action].add_argument("name", help="the upstream's name")
    ups.set_defaults(func=cmd_upstreams)

    ev = sub.add_parser("eval-search", help="measure search quality on a retrieval set")
    ev.add_argument("--data", help="folder with corpus.jsonl, queries.jsonl, qrels.tsv (default: built-in catalog)")
    ev.add_argument("--split", help="only the queries of this split (e.g. test)")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.add_argument(
        "--semantic",
        dest="semantic",
        action="store_true",
        default=None,
        help="require the semantic extra (default: use it when installed)",
    )
    ev.add_argument("--no-semantic", dest="semantic", action="store_false", help="lexical ranking only")
    ev.set_defaults(func=cmd_eval_search)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConciergeError as exc:
        print(f"concierge: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `concierge ... | head`: the reader has gone; Python would print a traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
