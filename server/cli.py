"""The `concierge` command. Server-side commands (serve, stdio) load config; session commands talk
to a running server's REST API, so its cache and the database never disagree."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

from server.config import Settings, load_settings
from server.errors import ConciergeError


def _settings(args: argparse.Namespace) -> Settings:
    flags = {k: getattr(args, k, None) for k in ("host", "port", "data_dir", "log_level")}
    return load_settings(Path(args.config) if getattr(args, "config", None) else None, flags)


def _print(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else human)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import build_app
    from server.observability import logs
    from server.runtime import Runtime

    settings = _settings(args)
    logs.configure(settings.log_level, settings.log_format)

    async def serve() -> None:
        # Started before the port is bound, so a wrong key or a bad toolkit stops with one clear line.
        runtime = await Runtime.start(settings)
        try:
            app = build_app(settings, announce=lambda line: print(line, flush=True), runtime=runtime)
            await uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                                log_level=settings.log_level, access_log=False, lifespan="on",
                                                log_config=None,  # our handler (text or JSON, scrubbed) serves all
                                                timeout_graceful_shutdown=settings.shutdown_grace_seconds)).serve()
        finally:
            await runtime.aclose()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve())
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as uvicorn itself would choose."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def cmd_stdio(args: argparse.Namespace) -> int:
    from server.app import meta_tools_for
    from server.mcp_app import serve_stdio
    from server.meta_tools.registry import ToolSurface
    from server.runtime import Runtime

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr)

    async def main() -> None:
        runtime = await Runtime.start(settings)
        try:
            session_id = args.session
            if session_id is None:
                if not args.user_id:
                    raise ConciergeError("stdio needs --session ID, or --user-id (and optionally --toolkits)")
                body: dict[str, Any] = {"user_id": args.user_id}
                if args.toolkits:
                    body["toolkits"] = args.toolkits.split(",")
                session = await runtime.sessions.create(body)
                session_id = session.id
                print(f"concierge: created session {session_id} for {args.user_id}", file=sys.stderr)
            await serve_stdio(runtime, ToolSurface(meta_tools_for(runtime), runtime.meta_services()), session_id)
        finally:
            await runtime.aclose()

    anyio.run(main)
    return 0


class Api:
    """Minimal REST caller for the CLI: base URL and key from flags or CONCIERGE_BASE_URL / CONCIERGE_API_KEY."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.base = (args.url or os.environ.get("CONCIERGE_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
        key = args.api_key or os.environ.get("CONCIERGE_API_KEY")
        if not key:
            raise ConciergeError("set CONCIERGE_API_KEY (or --api-key) to the admin key printed by `concierge serve`")
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None,
                 params: dict[str, Any] | None = None) -> Any:
        try:
            response = httpx.request(method, f"{self.base}/api/v1{path}", json=body, params=params,
                                     headers=self.headers, timeout=30)
        except httpx.ConnectError:
            raise ConciergeError(f"no Concierge server at {self.base}; start one with `concierge serve`") from None
        if response.status_code == 204:
            return None
        data = response.json()
        if response.status_code >= 400:
            raise ConciergeError(f"{data['error']['code']}: {data['error']['message']}")
        return data


def _session_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(args.options) if args.options else {}
    if getattr(args, "user_id", None):
        body["user_id"] = args.user_id
    if args.toolkits:
        body["toolkits"] = [t.strip() for t in args.toolkits.split(",") if t.strip()]
    if args.tags:
        body["tags"] = [t.strip() for t in args.tags.split(",") if t.strip()]
    return body


def _session_line(s: dict[str, Any]) -> str:
    return (f"{s['id']}  user={s['user_id']}  version={s['config_version']}  tools={s['allowed_tool_count']}\n"
            f"  MCP URL: {s['mcp']['url']}")


def cmd_sessions(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.action == "create":
        s = api("POST", "/sessions", _session_body(args))
        _print(args, s, _session_line(s))
    elif args.action == "show":
        s = api("GET", f"/sessions/{args.id}")
        _print(args, s, _session_line(s) + "\n  config: " + json.dumps(s["config"]))
    elif args.action == "update":
        body = _session_body(args)
        if args.expected_version is not None:
            body["expected_config_version"] = args.expected_version
        s = api("PATCH", f"/sessions/{args.id}", body)
        _print(args, s, _session_line(s))
    elif args.action == "delete":
        api("DELETE", f"/sessions/{args.id}")
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
        print(f"wrote {result.folder / 'toolkit.yaml'}: {result.tools} tools"
              + (f"; left out {len(result.skipped)} operations:" if result.skipped else ""))
        for line in result.skipped:
            print("  " + line)
        return 0
    catalog = load_catalog(_settings(args))
    if args.action in ("check-spec", "docs"):
        from server.catalog import spec_check, toolkit_docs

        toolkits = [tk for tk in catalog.toolkits.values() if not args.slugs or tk.slug in args.slugs]
        reports = spec_check.check_catalog(toolkits, spec_check.specs_dir(Path(args.specs) if args.specs else None))
        if args.action == "docs":
            print(toolkit_docs.render(toolkits, reports), end="")
            return 0
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
            for tk in catalog.toolkits.values()]
        _print(args, rows, "\n".join(f"{r['slug']:<12} {r['tools']:>3} tools  {r['name']}  (auth: "
                                     f"{', '.join(r['auth'])})" for r in rows))
        return 0
    toolkit = catalog.toolkits.get(args.slug)
    if toolkit is None:
        raise ConciergeError(f"toolkit {args.slug!r} not found")
    rows = [{"slug": t.slug, "name": t.name, "description": t.description} for t in toolkit.tools.values()]
    _print(args, {"slug": toolkit.slug, "description": toolkit.description, "tools": rows},
           f"{toolkit.name} ({toolkit.slug}): {toolkit.description}\n" +
           "\n".join(f"  {r['slug']:<34} {r['name']}" for r in rows))
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from server.runtime import load_catalog

    catalog = load_catalog(_settings(args))
    pool = set(catalog.toolkits[args.toolkit].tools) if args.toolkit else None
    hits = catalog.index.search(args.query, allowed=pool, limit=args.limit)
    rows: list[dict[str, Any]] = [
        {"slug": h.slug, "score": round(h.score, 3), "description": catalog.tools[h.slug].description} for h in hits]
    _print(args, rows, "\n".join(f"{i}. {r['slug']}  ({r['score']})\n   {r['description'][:110]}"
                                 for i, r in enumerate(rows, 1)) or "no matching tool")
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.action == "list":
        params = {"user_id": args.user_id} | ({"toolkit": args.toolkit} if args.toolkit else {})
        items = api("GET", "/connected_accounts", params=params)["items"]
        _print(args, items, "\n".join(f"{a['id']}  {a['toolkit']['slug']:<10} {a['status']:<9} alias={a['alias']}  "
                                      f"{a['credential_preview'] or ''}" for a in items) or "no connected accounts")
        return 0
    path = f"/connected_accounts/{args.id}"
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
        _print(args, items, "\n".join(f"{c['id']}  {c['toolkit']:<10} {c['type']:<7} {c['status']:<8} {c['name']}"
                                      for c in items) or "no auth configs")
        return 0
    if args.action == "create":
        body: dict[str, Any] = {"toolkit": args.toolkit}
        if args.client_id:
            secret = args.client_secret or os.environ.get("CONCIERGE_CLIENT_SECRET")
            if not secret:
                raise ConciergeError("--client-id needs --client-secret (or CONCIERGE_CLIENT_SECRET)")
            body["credentials"] = {"client_id": args.client_id, "client_secret": secret}
        if args.scopes:
            body["scopes"] = args.scopes.split(",")
        data = api("POST", "/auth_configs", body)
    elif args.action == "delete":
        api("DELETE", f"/auth_configs/{args.id}")
        data = {"deleted": args.id}
    else:
        data = api("GET", f"/auth_configs/{args.id}")
    _print(args, data, json.dumps(data, indent=2))
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    body = {"user_id": args.user_id, "toolkit": args.toolkit} | ({"alias": args.alias} if args.alias else {})
    data = Api(args)("POST", "/connected_accounts/link", body)
    _print(args, data, f"Open this link to connect {args.toolkit} for {args.user_id} (valid until "
                       f"{time.strftime('%H:%M:%S', time.localtime(data['expires_at']))}):\n{data['redirect_url']}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "generate":
        from cryptography.fernet import Fernet

        print(Fernet.generate_key().decode())
        return 0
    from server.auth.crypto import SecretBox
    from server.auth.rotation import rotate_all
    from server.store import open_store, sqlite_url

    settings = _settings(args)

    async def rotate() -> int:
        store = await open_store(sqlite_url(settings.db_path))
        try:
            box = SecretBox.from_settings(settings.encryption_key.get_secret_value() if settings.encryption_key
                                          else None, settings.data_dir)
            return await rotate_all(store, box)
        finally:
            await store.aclose()

    count = anyio.run(rotate)
    print(f"re-encrypted {count} secrets under the first configured key")
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
            body["env"] = dict(item.split("=", 1) for item in args.env)
        if args.auth_header:
            body["auth"] = {"type": "header", "header": args.auth_header, "prefix": args.auth_prefix}
        if args.auth_env:
            body["auth"] = {"type": "header", "env": args.auth_env, "prefix": ""}
        u = api("POST", "/upstreams", body)
        _print(args, u, _upstream_line(u) + "\n  " + ", ".join(u["tools"]))
    elif args.action == "remove":
        api("DELETE", f"/upstreams/{args.name}")
        _print(args, {"removed": args.name}, f"removed {args.name}")
    elif args.action == "refresh":
        data = api("POST", f"/upstreams/{args.name}/refresh")
        _print(args, data, f"{args.name}: {data['tool_count']} tools")
    elif args.action == "show":
        u = api("GET", f"/upstreams/{args.name}")
        _print(args, u, _upstream_line(u) + "\n  " + ", ".join(u["tools"]))
    else:
        items = api("GET", "/upstreams")["items"]
        _print(args, items, "\n".join(_upstream_line(u) for u in items) or "no upstreams")
    return 0


def cmd_eval_search(args: argparse.Namespace) -> int:
    from server.catalog.evaluation import eval_search_main

    return eval_search_main(Path(args.data) if args.data else None, args.split, args.json, semantic=args.semantic)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="concierge", description="Self-hosted MCP server with per-user sessions.")
    sub = p.add_subparsers(dest="command", required=True)

    def config_flags(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="TOML config file (default ./concierge.toml if present)")
        sp.add_argument("--data-dir", dest="data_dir", help="where SQLite and workbench files live")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    def api_flags(sp: argparse.ArgumentParser, url_flag: str = "--url") -> None:
        sp.add_argument(url_flag, dest="url", help="server base URL (default $CONCIERGE_BASE_URL or http://127.0.0.1:8000)")
        sp.add_argument("--api-key", dest="api_key", help="admin key (default $CONCIERGE_API_KEY)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    serve = sub.add_parser("serve", help="run the HTTP server")
    config_flags(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", dest="log_level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    stdio = sub.add_parser("stdio", help="serve one session's meta tools over stdio (Claude Desktop `command`)")
    config_flags(stdio)
    stdio.add_argument("--session")
    stdio.add_argument("--user-id", dest="user_id")
    stdio.add_argument("--toolkits")
    stdio.set_defaults(func=cmd_stdio)

    sessions = sub.add_parser("sessions", help="create, show, update, delete, list sessions (via REST)")
    ssub = sessions.add_subparsers(dest="action", required=True)
    for action in ("create", "show", "update", "delete", "list"):
        sp = ssub.add_parser(action)
        api_flags(sp)
        if action in ("show", "update", "delete"):
            sp.add_argument("id")
        if action in ("create", "list"):
            sp.add_argument("--user-id", dest="user_id", required=True)
        if action in ("create", "update"):
            sp.add_argument("--toolkits", help="comma-separated toolkit slugs to enable")
            sp.add_argument("--tags", help="comma-separated tags to require")
            sp.add_argument("--options", help="more options as a JSON object (tools, auth_configs, workbench, ...)")
        if action == "update":
            sp.add_argument("--expected-version", dest="expected_version", type=int)
    sessions.set_defaults(func=cmd_sessions)

    toolkits = sub.add_parser("toolkits", help="list or show toolkits")
    tsub = toolkits.add_subparsers(dest="action", required=True)
    config_flags(tsub.add_parser("list"))
    config_flags(tsub.add_parser("schema", help="print the JSON Schema of toolkit.yaml (docs/toolkit.schema.json)"))
    show = tsub.add_parser("show")
    config_flags(show)
    show.add_argument("slug")
    imp = tsub.add_parser("import-openapi", help="write a toolkit folder from an OpenAPI 3.x, Swagger 2.0 or Google "
                                                 "discovery document")
    imp.add_argument("spec", help="the description file (.json or .yaml)")
    imp.add_argument("--slug", required=True, help="toolkit slug, e.g. twilio (tools become TWILIO_<ACTION>)")
    imp.add_argument("--include", action="append", metavar="TAG|PATH",
                     help="only operations with this tag, or under this path prefix (starting with /); repeatable")
    imp.add_argument("--out", default="toolkits", help="folder to write <slug>/toolkit.yaml into (default: toolkits)")
    for name, text in (("check-spec", "check HTTP tools against their providers' API descriptions"),
                       ("docs", "print docs/toolkits.md: every toolkit and tool, with hints, auth and spec coverage")):
        sp = tsub.add_parser(name, help=text)
        config_flags(sp)
        sp.add_argument("slugs", nargs="*", help="only these toolkits")
        sp.add_argument("--specs", help="the api-specs folder (default: ../shared/data/api-specs)")
    toolkits.set_defaults(func=cmd_toolkits)

    tools = sub.add_parser("tools", help="search tools")
    tosub = tools.add_subparsers(dest="action", required=True)
    search = tosub.add_parser("search")
    config_flags(search)
    search.add_argument("query")
    search.add_argument("--toolkit")
    search.add_argument("--limit", type=int, default=5)
    tools.set_defaults(func=cmd_tools)

    accounts = sub.add_parser("accounts", help="connected accounts (via REST)")
    asub = accounts.add_subparsers(dest="action", required=True)
    sp = asub.add_parser("list")
    api_flags(sp)
    sp.add_argument("--user-id", dest="user_id", required=True)
    sp.add_argument("--toolkit")
    for action in ("show", "delete", "disable", "enable", "revoke"):
        sp = asub.add_parser(action)
        api_flags(sp)
        sp.add_argument("id")
    accounts.set_defaults(func=cmd_accounts)

    configs = sub.add_parser("auth-configs", help="auth configs: which OAuth app / scheme a toolkit uses (via REST)")
    csub = configs.add_subparsers(dest="action", required=True)
    sp = csub.add_parser("list")
    api_flags(sp)
    sp.add_argument("--toolkit")
    sp = csub.add_parser("create")
    api_flags(sp)
    sp.add_argument("--toolkit", required=True)
    sp.add_argument("--client-id", dest="client_id")
    sp.add_argument("--client-secret", dest="client_secret", help="or CONCIERGE_CLIENT_SECRET (keeps it out of ps)")
    sp.add_argument("--scopes", help="comma-separated")
    for action in ("show", "delete"):
        sp = csub.add_parser(action)
        api_flags(sp)
        sp.add_argument("id")
    configs.set_defaults(func=cmd_auth_configs)

    connect = sub.add_parser("connect", help="print a Connect Link for a user and toolkit")
    api_flags(connect)
    connect.add_argument("toolkit")
    connect.add_argument("--user-id", dest="user_id", required=True)
    connect.add_argument("--alias")
    connect.set_defaults(func=cmd_connect)

    keys = sub.add_parser("keys", help="encryption keys: generate one, or re-encrypt all secrets (rotation)")
    ksub = keys.add_subparsers(dest="action", required=True)
    config_flags(ksub.add_parser("generate"))
    config_flags(ksub.add_parser("rotate"))
    keys.set_defaults(func=cmd_keys)

    ups = sub.add_parser("upstreams", help="other MCP servers whose tools become toolkits (via REST)")
    usub = ups.add_subparsers(dest="action", required=True)
    sp = usub.add_parser("add", help="register an MCP server: --url (Streamable HTTP) or --command (stdio)")
    api_flags(sp, url_flag="--server")  # --url names the upstream here
    sp.add_argument("name", help="toolkit slug for its tools (lower case); tools become NAME_TOOL")
    where = sp.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", dest="upstream_url", help="Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp")
    where.add_argument("--command", dest="command_line", help='stdio command line, e.g. "npx -y @scope/server"')
    sp.add_argument("--env", action="append", metavar="KEY=VALUE", help="environment for a stdio upstream")
    sp.add_argument("--auth-header", help="per-user credential in this HTTP header (asked on the Connect Link)")
    sp.add_argument("--auth-prefix", default="Bearer ", help="text before the credential (default 'Bearer ')")
    sp.add_argument("--auth-env", help="stdio: per-user credential in this environment variable (one process "
                                       "per user)")
    api_flags(usub.add_parser("list", help="list upstreams, their transport and tool count"))
    for action, text in (("show", "one upstream and its tools"), ("refresh", "fetch an upstream's tools again"),
                         ("remove", "remove an upstream registered at run time")):
        sp = usub.add_parser(action, help=text)
        api_flags(sp)
        sp.add_argument("name", help="the upstream's name")
    ups.set_defaults(func=cmd_upstreams)

    ev = sub.add_parser("eval-search", help="measure search quality on a retrieval set")
    ev.add_argument("--data", help="folder with corpus.jsonl, queries.jsonl, qrels.tsv (default: built-in catalog)")
    ev.add_argument("--split")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--semantic", dest="semantic", action="store_true", default=None,
                    help="require the semantic extra (default: use it when installed)")
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


if __name__ == "__main__":
    sys.exit(main())
