"""Browser-facing endpoints (no admin key; the unguessable token or OAuth state is the capability):
`GET/POST /connect/{token}`, the OAuth callback `GET /api/v1/auth/callback` and `POST /connect/retry`.

Every page says who is asking (the operator's product name) and for which app; every form carries a
CSRF token; a submitted secret is never written back into a page.
"""

from __future__ import annotations

import math
import re
import zlib
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.connect_flow import LinkPage, LinkProblem, with_query
from server.auth.crypto import fingerprint
from server.catalog.model import Toolkit
from server.errors import InvalidInput, PayloadTooLarge
from server.runtime import Runtime
from server.store.records import AccountRow, now
from server.values import AccountStatus
from server.web import CsrfRefused, web_of
from server.web.scopes import in_plain_words

RETRY_PATH = "/connect/retry"
CREDENTIAL_WORDS = {"api_key": "API key", "bearer_token": "access token", "basic": "sign-in details"}
# RFC 6749 §4.1.2.1 error codes, as a person would say them
PROVIDER_ERRORS = {
    "access_denied": "The request was declined at {app}, so nothing was connected.",
    "invalid_scope": "{app} did not accept the permissions that were asked for. Let the operator of this "
    "assistant know; the app's settings may need changing.",
    "server_error": "{app} had a problem on its side. Try again in a moment.",
    "temporarily_unavailable": "{app} is busy or down for maintenance right now. Try again in a moment.",
    "unauthorized_client": "{app} does not allow this app to connect this way. Let the operator of this "
    "assistant know.",
    "invalid_request": "{app} rejected the sign-in request. Let the operator of this assistant know.",
    "unsupported_response_type": "{app} rejected the sign-in request. Let the operator of this assistant know.",
}


# what a link that cannot be used shows: (title, what to do next)
LINK_PROBLEMS = {
    "expired": ("This link has expired", "Connect Links work for a short time. Ask your assistant for a new one."),
    "revoked": ("This connection was revoked", "Ask your assistant for a new link if you want to connect again."),
    "connected": ("This link was already used", "Your account is already connected; there is nothing more to do."),
    "used": ("This link was already used", "Each link works once. Ask your assistant for a new one."),
    "state": ("This page is out of date", "Nothing was changed. Open the link from your assistant again."),
    "not_configured": ("This app is not set up yet", "Let the operator of this assistant know."),
    "unknown": ("This link is not valid", "Check that you copied the whole link, or ask your assistant for a new one."),
}


def _runtime(request: Request) -> Runtime:
    return request.app.state.api.runtime


def _app(toolkit: Toolkit) -> dict[str, Any]:
    """Name, initial and a stable colour (one of the stylesheet's `.logo.h0`-`.h7`) for the app's logo."""
    initial = next((c for c in toolkit.name if c.isalnum()), "?").upper()
    return {"name": toolkit.name, "initial": initial, "hue": zlib.crc32(toolkit.slug.encode()) % 8}


def _purpose(token: str) -> str:
    return "connect:" + fingerprint(token)


def _minutes_left(expires_at: float | None) -> int | None:
    return max(1, math.ceil((expires_at - now()) / 60)) if expires_at else None


def _help_parts(help: str | None) -> list[dict[str, str | None]]:
    """The "where do I get this" line with its https:// addresses as links."""
    if not help:
        return []
    parts: list[dict[str, str | None]] = []
    for piece in re.split(r"(https://[^\s<>\"']*[^\s<>\"'.,;:)])", help):
        if piece:
            parts.append({"text": piece, "url": piece if piece.startswith("https://") else None})
    return parts


def _form(
    request: Request,
    token: str,
    target: LinkPage,
    *,
    error: InvalidInput | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    scheme_words = CREDENTIAL_WORDS.get(target.scheme, "credentials")
    credential = target.fields[0].label if len(target.fields) == 1 else scheme_words
    context = {
        "app": _app(target.toolkit),
        "action": f"/connect/{token}",
        "state": target.state,
        "fields": target.fields,
        "credential": credential,
        "help": _help_parts(target.help),
        "error": error.message if error else None,
        "error_field": error.details.get("field") if error else None,
        "values": {f.name: (values or {}).get(f.name, "") for f in target.fields if not f.secret},
        "minutes_left": _minutes_left(target.expires_at),
    }
    return web_of(request).render(
        request,
        "connect/form.html",
        context,
        status=400 if error else 200,
        csrf_purpose=_purpose(token),
        form_targets=[target.callback_url] if target.callback_url else [],
    )


def _authorize(request: Request, token: str, target: LinkPage) -> Response:
    host = urlsplit(target.provider_url or "").hostname
    context = {
        "app": _app(target.toolkit),
        "action": f"/connect/{token}",
        "permissions": in_plain_words(target.toolkit.slug, target.toolkit.name, target.scopes),
        "provider_host": host,
        "minutes_left": _minutes_left(target.expires_at),
    }
    return web_of(request).render(
        request,
        "connect/authorize.html",
        context,
        csrf_purpose=_purpose(token),
        form_targets=[target.provider_url] if target.provider_url else [],
    )


def _failure_words(app: str, reason: str | None) -> dict[str, str | None]:
    """What happened in plain words, the provider's own message and its error code if it gave them."""
    code, _, said = (reason or "").partition(":")
    code = code.strip()
    if code in PROVIDER_ERRORS:
        return {"summary": PROVIDER_ERRORS[code].format(app=app), "detail": said.strip() or None, "code": code}
    known = code if re.fullmatch(r"[a-z_]+", code) and said else None
    return {"summary": f"{app} did not complete the connection.", "detail": reason or None, "code": known}


def _finish(request: Request, account: AccountRow, callback_url: str | None, state: str | None = None) -> Response:
    ok = account.status == AccountStatus.ACTIVE
    if callback_url:
        return RedirectResponse(
            with_query(callback_url, {"status": "success" if ok else "failed", "connected_account_id": account.id}),
            status_code=303,
        )
    web = web_of(request)
    toolkit = _runtime(request).catalog.toolkits.get(account.toolkit)
    name = toolkit.name if toolkit else account.toolkit
    app = _app(toolkit) if toolkit else {"name": name, "initial": name[:1].upper(), "hue": 0}
    if ok:
        return web.render(request, "connect/done.html", {"app": app})
    context = {
        "app": app,
        **_failure_words(name, account.status_reason),
        "retry_state": state,
        "retry_action": RETRY_PATH,
    }
    return web.render(request, "connect/failed.html", context, status=400, csrf_purpose="retry")


def _problem(request: Request, exc: LinkProblem) -> Response:
    reason = exc.details.get("reason", "")
    status = exc.details.get("status")
    if reason == "expired" or status == AccountStatus.EXPIRED:
        kind = "expired"
    elif reason == "deleted" or status == AccountStatus.REVOKED:
        kind = "revoked"
    elif status == AccountStatus.ACTIVE:
        kind = "connected"
    else:
        kind = reason if reason in LINK_PROBLEMS else "unknown"
    title, next_step = LINK_PROBLEMS[kind]
    http_status = {"unknown": 404, "state": 400}.get(reason, 410)
    toolkit = _runtime(request).catalog.toolkits.get(str(exc.details.get("toolkit", "")))
    context = {
        "title": title,
        "text": exc.message if kind in ("state", "not_configured") else None,  # else the title says it
        "next_step": next_step,
        "tone": "bad",
        "app": _app(toolkit) if toolkit else None,
    }
    return web_of(request).render(request, "connect/problem.html", context, status=http_status)


async def open_link(request: Request) -> Response:
    token = request.path_params["token"]
    flow = _runtime(request).auth.flow
    try:
        preview = await flow.preview(token)
        if preview.scheme == "oauth2":
            return _authorize(request, token, preview)
        return _form(request, token, await flow.open(token))
    except LinkProblem as exc:
        return _problem(request, exc)


async def submit_form(request: Request) -> Response:
    """The page's one form: "Continue to <app>" (OAuth) or the credential form."""
    token = request.path_params["token"]
    web = web_of(request)
    flow = _runtime(request).auth.flow
    try:
        values = await web.form(request, csrf_purpose=_purpose(token))
    except CsrfRefused as exc:
        return web.refused(request, exc)
    except PayloadTooLarge as exc:
        return web.error(request, exc, "Too large")
    try:
        if (await flow.preview(token)).scheme == "oauth2":
            started = await flow.open(token)
            assert started.redirect_url is not None
            return RedirectResponse(started.redirect_url, status_code=303)
        account, callback_url = await flow.submit(token, values.pop("state", ""), values)
    except LinkProblem as exc:
        return _problem(request, exc)
    except InvalidInput as exc:
        try:
            return _form(request, token, await flow.open(token), error=exc, values=values)
        except LinkProblem as problem:
            return _problem(request, problem)
    return _finish(request, account, callback_url)


async def oauth_callback(request: Request) -> Response:
    params = dict(request.query_params)
    try:
        account, callback_url = await _runtime(request).auth.flow.callback(params)
    except LinkProblem as exc:
        return _problem(request, exc)
    return _finish(request, account, callback_url, params.get("state"))


async def retry(request: Request) -> Response:
    """ "Try again" on a provider's refusal: a new Connect Link for the same connection, opened at once."""
    web = web_of(request)
    try:
        values = await web.form(request, csrf_purpose="retry")
        fresh = await _runtime(request).auth.flow.retry(values.get("state", ""))
    except CsrfRefused as exc:
        return web.refused(request, exc)
    except PayloadTooLarge as exc:
        return web.error(request, exc, "Too large")
    except LinkProblem as exc:
        return _problem(request, exc)
    return RedirectResponse(fresh.redirect_url, status_code=303)


async def link_page(request: Request) -> Response:
    """`/connect/{token}`: GET shows the link's page, POST submits its form."""
    return await (submit_form(request) if request.method == "POST" else open_link(request))
