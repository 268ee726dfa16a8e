"""The console's pages and actions. Reads go through the services and the store's keyset queries;
nothing here holds state of its own."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.console import paging
from server.console.guard import MAX_FORM_BYTES, Console, action, console_of, page, problem_page
from server.console.login import LOGIN_PURPOSE, client_address, key_matches
from server.console.render import render
from server.errors import NotFound, PayloadTooLarge
from server.runtime import Runtime
from server.store.records import SessionFilter
from server.values import AccountStatus
from server.web import CsrfRefused, web_of

EXECUTIONS_PAGE = 25
TOOLS_PAGE = 100
FILES_SHOWN = 200
SEARCH_RESULTS = 25
CLIENTS_SHOWN = 50


def _named_toolkits(config: dict[str, Any]) -> list[str]:
    toolkits = config.get("toolkits") or {}
    enabled = toolkits.get("enable") if isinstance(toolkits, dict) else None
    return sorted(set(enabled or []) | set(config.get("tools") or {}))


def _link(path: str, **query: str | None) -> str:
    params = {k: v for k, v in query.items() if v}
    return path + (f"?{urlencode(params)}" if params else "")


def live_counts(runtime: Runtime) -> dict[str, int | None]:
    upstream = runtime.upstreams.pool.counts_of()
    return {
        "workbench_processes": runtime.workbench.running if runtime.workbench is not None else None,
        "upstream_connections": upstream["connections"],
        "upstream_processes": upstream["processes"],
    }


@page
async def overview(request: Request, console: Console) -> Response:
    catalog = console.runtime.catalog
    return render(
        request,
        "overview.html",
        {
            "title": "Overview",
            "live": live_counts(console.runtime),
            "toolkits": len(catalog.toolkits),
            "tools": len(catalog.tools),
            "workbench_isolation": console.runtime.workbench.isolation if console.runtime.workbench else None,
        },
        console.login,
    )


@page
async def live(request: Request, console: Console) -> Response:
    """The overview's counts as JSON, for its small polling script."""
    return JSONResponse(live_counts(console.runtime), headers={"Cache-Control": "no-store"})


@page
async def sessions(request: Request, console: Console) -> Response:
    q = request.query_params
    where = SessionFilter(
        user_id=paging.text(q.get("user_id"), "user id"),
        toolkit=paging.text(q.get("toolkit"), "toolkit"),
        created_from=paging.day(q.get("created_from"), "created from"),
        created_to=paging.day(q.get("created_to"), "created to", end=True),
    )
    rows = await console.runtime.store.sessions.page(where, paging.page_key(q.get("after")), paging.PAGE_SIZE + 1)
    more = len(rows) > paging.PAGE_SIZE
    rows = rows[: paging.PAGE_SIZE]
    filters = {k: q.get(k) for k in ("user_id", "toolkit", "created_from", "created_to")}
    return render(
        request,
        "sessions.html",
        {
            "title": "Sessions",
            "filters": {k: v or "" for k, v in filters.items()},
            "toolkit_slugs": sorted(console.runtime.catalog.toolkits),
            "rows": [
                {
                    "id": r.id,
                    "user_id": r.user_id,
                    "user_link": _link("/admin/sessions", user_id=r.user_id),
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                    "version": r.config_version,
                    "toolkits": _named_toolkits(r.config),
                }
                for r in rows
            ],
            "next": _link("/admin/sessions", **filters, after=paging.cursor(rows[-1].created_at, rows[-1].id))
            if more
            else None,
            "first": _link("/admin/sessions", **filters) if q.get("after") else None,
        },
        console.login,
    )


@page
async def session_detail(request: Request, console: Console) -> Response:
    runtime = console.runtime
    session = await runtime.sessions.get(request.path_params["session_id"])
    q = request.query_params
    after = paging.page_key(q.get("after"))
    executions = await runtime.store.executions.page_by_session(session.id, after, EXECUTIONS_PAGE + 1)
    more = len(executions) > EXECUTIONS_PAGE
    executions = executions[:EXECUTIONS_PAGE]
    tools = sorted(session.allowed)
    tools_from = paging.offset(q.get("tools_offset"), max(len(tools), 0))
    files: list[dict[str, Any]] | None = None
    files_total = 0
    if runtime.workbench is not None:
        scan = await runtime.workbench.list_files(session.id)
        files_total = len(scan.files)
        files = [{"path": p, "size": size} for p, (size, _) in sorted(scan.files.items())[:FILES_SHOWN]]
    base = f"/admin/sessions/{session.id}"
    history = await runtime.store.sessions.history(session.id)
    clients = await runtime.sessions.clients.of_session(session.id)
    return render(
        request,
        "session.html",
        {
            "title": f"Session {session.id}",
            "session": session,
            "config": json.dumps(session.config(), indent=2, sort_keys=True),
            "history": [{**h, "config": json.dumps(h["config"], indent=2, sort_keys=True)} for h in reversed(history)],
            "tools": tools[tools_from : tools_from + TOOLS_PAGE],
            "tools_total": len(tools),
            "tools_from": tools_from,
            "tools_next": f"{base}?tools_offset={tools_from + TOOLS_PAGE}#tools"
            if tools_from + TOOLS_PAGE < len(tools)
            else None,
            "tools_prev": f"{base}?tools_offset={max(tools_from - TOOLS_PAGE, 0)}#tools" if tools_from else None,
            "executions": executions,
            "executions_next": f"{base}?after={paging.cursor(executions[-1].started_at, executions[-1].id)}#executions"
            if more
            else None,
            "executions_first": f"{base}#executions" if after else None,
            "files": files,
            "files_total": files_total,
            "clients": clients[-CLIENTS_SHOWN:],
            "user_accounts": _link("/admin/accounts", user_id=session.user_id),
        },
        console.login,
    )


@page
async def accounts(request: Request, console: Console) -> Response:
    q = request.query_params
    user_id = paging.text(q.get("user_id"), "user id")
    toolkit = paging.text(q.get("toolkit"), "toolkit")
    await console.runtime.auth.accounts.store.expire_stale()
    rows = await console.runtime.store.accounts.page(
        user_id, toolkit, paging.page_key(q.get("after")), paging.PAGE_SIZE + 1
    )
    more = len(rows) > paging.PAGE_SIZE
    rows = rows[: paging.PAGE_SIZE]
    filters = {"user_id": user_id, "toolkit": toolkit}
    return render(
        request,
        "accounts.html",
        {
            "title": "Connected accounts",
            "filters": {k: v or "" for k, v in filters.items()},
            "toolkit_slugs": sorted(console.runtime.catalog.toolkits),
            "rows": [
                {
                    "id": r.account.id,
                    "user_id": r.account.user_id,
                    "toolkit": r.account.toolkit,
                    "alias": r.account.alias,
                    "status": "DISABLED" if r.account.is_disabled else r.account.status.value,
                    "reason": r.account.status_reason,
                    "created_at": r.account.created_at,
                    "last_refreshed_at": r.last_refreshed_at,
                    "expires_at": r.account.expires_at,
                    "revocable": r.account.status != AccountStatus.REVOKED,
                }
                for r in rows
            ],
            "revoked": paging.text(q.get("revoked"), "revoked"),
            "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "next": _link(
                "/admin/accounts", **filters, after=paging.cursor(rows[-1].account.created_at, rows[-1].account.id)
            )
            if more
            else None,
            "first": _link("/admin/accounts", **filters) if q.get("after") else None,
        },
        console.login,
    )


@action
async def revoke(request: Request, console: Console, fields: dict[str, str]) -> Response:
    """Revokes through the account service (at the provider when it can), so every session of the user
    stops using the account with its next call."""
    auth = console.runtime.auth
    row = await auth.accounts.get(request.path_params["account_id"])
    warning = await auth.credentials.revoke(row, "console")
    await console.runtime.store.audit.record(
        "console.revoke", "console", row.id, f"user {row.user_id}, {row.toolkit}" + (f"; {warning}" if warning else "")
    )
    back = fields.get("back") or ""
    if not back.startswith("/admin/accounts") or "//" in back:
        back = "/admin/accounts"
    back = back.split("#")[0]
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{urlencode({'revoked': row.id})}", status_code=303)


@page
async def auth_configs(request: Request, console: Console) -> Response:
    configs = [c.public() for c in await console.runtime.auth.configs.list()]
    return render(request, "auth_configs.html", {"title": "Auth configs", "configs": configs}, console.login)


@page
async def tools(request: Request, console: Console) -> Response:
    catalog = console.runtime.catalog
    q = request.query_params
    query = paging.text(q.get("q"), "search")
    toolkit = paging.text(q.get("toolkit"), "toolkit")
    if toolkit is not None and toolkit not in catalog.toolkits:
        raise NotFound(f"toolkit {toolkit!r} not found; pick one from the list")
    results = None
    if query:
        pool = set(catalog.toolkits[toolkit].tools) if toolkit else None
        hits = await anyio.to_thread.run_sync(lambda: catalog.index.search(query, allowed=pool, limit=SEARCH_RESULTS))
        results = [{"tool": catalog.tools[h.slug], "score": h.score, "reason": h.reason} for h in hits]
    toolkits = sorted(catalog.toolkits.values(), key=lambda t: t.slug)
    start = paging.offset(q.get("offset"), len(toolkits))
    shown = toolkits[start : start + paging.PAGE_SIZE]
    return render(
        request,
        "tools.html",
        {
            "title": "Toolkits and tools",
            "query": query or "",
            "toolkit": toolkit or "",
            "results": results,
            "toolkits": [
                {
                    "slug": t.slug,
                    "name": t.name,
                    "tools": len(t.tools),
                    "auth": ", ".join(s.type for s in t.auth_schemes) or "none",
                    "search": _link("/admin/tools", toolkit=t.slug),
                }
                for t in shown
            ],
            "toolkits_total": len(toolkits),
            "toolkit_slugs": [t.slug for t in toolkits],
            "next": _link("/admin/tools", q=query, toolkit=toolkit, offset=str(start + paging.PAGE_SIZE))
            if start + paging.PAGE_SIZE < len(toolkits)
            else None,
            "prev": _link("/admin/tools", q=query, toolkit=toolkit, offset=str(max(start - paging.PAGE_SIZE, 0)))
            if start
            else None,
        },
        console.login,
    )


@page
async def audit(request: Request, console: Console) -> Response:
    after = paging.audit_key(request.query_params.get("after"))
    events = await console.runtime.store.audit.page(after, paging.PAGE_SIZE + 1)
    more = len(events) > paging.PAGE_SIZE
    events = events[: paging.PAGE_SIZE]
    last = events[-1] if events else None
    return render(
        request,
        "audit.html",
        {
            "title": "Audit events",
            "events": events,
            "next": _link("/admin/audit", after=paging.cursor(last.at, last.id, last.source))
            if more and last
            else None,
            "first": "/admin/audit" if after else None,
        },
        console.login,
    )


def _safe_next(value: str | None) -> str:
    """Only a console path of this server: never an open redirect."""
    if value and value.startswith("/admin") and "//" not in value and "\\" not in value:
        return value
    return "/admin"


async def login_form(request: Request) -> Response:
    _, auth = console_of(request)
    if await auth.current(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, None, 200)


def _login_page(request: Request, problem: str | None, status: int, next_path: str | None = None) -> Response:
    """`next_path`: where to go after logging in (from the form when it is shown again after a failure)."""
    return render(
        request,
        "login.html",
        {"title": "Log in", "problem": problem, "next": _safe_next(next_path or request.query_params.get("next"))},
        None,
        status,
    )


async def login_submit(request: Request) -> Response:
    runtime, auth = console_of(request)
    address = client_address(request)
    wait = auth.blocked_for(address)
    if wait:
        return _login_page(request, f"Too many failed logins from this address; try again in {wait:.0f} s.", 429)
    try:
        fields = await web_of(request).form(request, csrf_purpose=LOGIN_PURPOSE, max_bytes=MAX_FORM_BYTES)
    except (CsrfRefused, PayloadTooLarge) as exc:
        return problem_page(request, "Request refused", f"{exc.message} Nothing was changed.", None, exc.http_status)
    if not key_matches(fields.get("admin_key", ""), request.app.state.api.admin_key_hash):
        auth.failed(address)
        await runtime.store.audit.record("console.login_failed", "console", None, f"from {address}")
        return _login_page(request, "That is not the admin key.", 401, fields.get("next"))
    await runtime.store.audit.record("console.login", "console", None, f"from {address}")
    response = RedirectResponse(_safe_next(fields.get("next")), status_code=303)
    await auth.open(response, request)
    return response


@action
async def logout(request: Request, console: Console, fields: dict[str, str]) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    await console.auth.close(response, request, console.login)
    await console.runtime.store.audit.record("console.logout", "console", None, f"from {client_address(request)}")
    return response
