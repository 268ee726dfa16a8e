"""Browser-facing endpoints (no admin key; the unguessable token or OAuth state is the capability):
`GET/POST /connect/{token}` and the OAuth callback `GET /api/v1/auth/callback`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.api.pages import form_page, message_page
from server.auth.connect_flow import LinkProblem, with_query
from server.errors import InvalidInput
from server.runtime import Runtime
from server.store.records import AccountRow
from server.values import AccountStatus
from server.web import web_of

MAX_FORM_BYTES = 64 * 1024


def _runtime(request: Request) -> Runtime:
    return request.app.state.api.runtime


def _finish(account: AccountRow, callback_url: str | None) -> Response:
    ok = account.status == AccountStatus.ACTIVE
    if callback_url:
        return RedirectResponse(
            with_query(callback_url, {"status": "success" if ok else "failed", "connected_account_id": account.id}),
            status_code=303,
        )
    if ok:
        return message_page(
            "Connected",
            f"Your {account.toolkit} account is connected. You can close this page and go back to your assistant.",
            tone="ok",
        )
    return message_page(
        "Connection failed",
        f"The connection was not completed: {account.status_reason or 'unknown'}."
        " Ask your assistant for a new link to try again.",
        status=400,
        tone="bad",
    )


def _problem(request: Request, exc: LinkProblem) -> Response:
    status = {"unknown": 404, "state": 400}.get(exc.details.get("reason", ""), 410)
    return web_of(request).message(request, "Link not usable", exc.message, status=status, tone="bad")


async def open_link(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        target = await _runtime(request).auth.flow.open(token)
    except LinkProblem as exc:
        return _problem(request, exc)
    if target.redirect_url:
        return RedirectResponse(target.redirect_url, status_code=302)
    assert target.state is not None
    return form_page(target.toolkit.name, f"/connect/{token}", target.state, target.fields, help=target.help)


async def submit_form(request: Request) -> Response:
    token = request.path_params["token"]
    flow = _runtime(request).auth.flow
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return message_page("Too large", "The form is larger than allowed.", status=413, tone="bad")
    form = await request.form(max_files=0, max_fields=50)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        account, callback_url = await flow.submit(token, values.pop("state", ""), values)
    except LinkProblem as exc:
        return _problem(request, exc)
    except InvalidInput as exc:
        target = await flow.open(token)
        assert target.state is not None
        return form_page(
            target.toolkit.name, f"/connect/{token}", target.state, target.fields, exc.message, 400, help=target.help
        )
    return _finish(account, callback_url)


async def oauth_callback(request: Request) -> Response:
    try:
        account, callback_url = await _runtime(request).auth.flow.callback(dict(request.query_params))
    except LinkProblem as exc:
        return _problem(request, exc)
    return _finish(account, callback_url)


async def link_page(request: Request) -> Response:
    """`/connect/{token}`: GET shows the link's page, POST submits its form."""
    return await (submit_form(request) if request.method == "POST" else open_link(request))
