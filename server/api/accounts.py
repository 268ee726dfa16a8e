"""REST handlers for connected accounts, auth configs, and a session's connections.

Admin endpoints (`/connected_accounts`, `/auth_configs`) act for the operator; session-scoped ones
(`/sessions/{id}/…`) only ever see the session's own user's accounts.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.api.body import json_object
from server.api.endpoint import ApiState
from server.api.schemas import (
    AccountEventOut,
    AccountEventsOut,
    AccountListOut,
    AccountOut,
    AuthConfigListOut,
    AuthConfigOut,
    ConnectionRequestOut,
    RevokeOut,
    SessionToolkitListOut,
    SessionToolkitOut,
)
from server.api.validation import semantic_as_422
from server.auth.options import AuthConfigCreate, AuthConfigUpdate, AuthorizeRequest, LinkRequest, parse_body
from server.errors import Conflict, InvalidInput
from server.meta_tools.manage_connections import session_toolkits
from server.store.records import AccountRow


def account_out(state: ApiState, account: AccountRow) -> AccountOut:
    return AccountOut(**state.runtime.auth.accounts.view(account))


async def _body(request: Request, state: ApiState) -> dict:
    return await json_object(request, state.runtime.settings)


async def list_accounts(request: Request, state: ApiState) -> AccountListOut:
    user_id = request.query_params.get("user_id")
    if not user_id:
        raise InvalidInput("user_id query parameter is required: GET /api/v1/connected_accounts?user_id=...")
    rows = await state.runtime.auth.accounts.list(user_id, request.query_params.get("toolkit"))
    return AccountListOut(items=[account_out(state, r) for r in rows])


async def get_account(request: Request, state: ApiState) -> AccountOut:
    return account_out(state, await state.runtime.auth.accounts.get(request.path_params["account_id"]))


async def delete_account(request: Request, state: ApiState) -> Response:
    accounts = state.runtime.auth.accounts
    await accounts.delete(await accounts.get(request.path_params["account_id"]), "api")
    return Response(status_code=204)


async def _set_disabled(request: Request, state: ApiState, disabled: bool) -> AccountOut:
    accounts = state.runtime.auth.accounts
    row = await accounts.get(request.path_params["account_id"])
    return account_out(state, await accounts.set_disabled(row, disabled, "api"))


async def disable_account(request: Request, state: ApiState) -> AccountOut:
    return await _set_disabled(request, state, True)


async def enable_account(request: Request, state: ApiState) -> AccountOut:
    return await _set_disabled(request, state, False)


async def revoke_account(request: Request, state: ApiState) -> RevokeOut:
    auth = state.runtime.auth
    row = await auth.accounts.get(request.path_params["account_id"])
    warning = await auth.credentials.revoke(row, "api")
    return RevokeOut(account=account_out(state, await auth.accounts.get(row.id)), warning=warning)


async def account_events(request: Request, state: ApiState) -> AccountEventsOut:
    accounts = state.runtime.auth.accounts
    row = await accounts.get(request.path_params["account_id"])
    return AccountEventsOut(items=[AccountEventOut(**e) for e in await accounts.store.events(row.id)])


async def list_auth_configs(request: Request, state: ApiState) -> AuthConfigListOut:
    configs = await state.runtime.auth.configs.list(request.query_params.get("toolkit"))
    return AuthConfigListOut(items=[AuthConfigOut(**c.public()) for c in configs])


async def create_auth_config(request: Request, state: ApiState) -> AuthConfigOut:
    body = parse_body(AuthConfigCreate, await _body(request, state))
    async with semantic_as_422():
        config = await state.runtime.auth.configs.create(body)
    return AuthConfigOut(**config.public())


async def get_auth_config(request: Request, state: ApiState) -> AuthConfigOut:
    return AuthConfigOut(**(await state.runtime.auth.configs.get(request.path_params["config_id"])).public())


async def update_auth_config(request: Request, state: ApiState) -> AuthConfigOut:
    body = parse_body(AuthConfigUpdate, await _body(request, state))
    async with semantic_as_422():
        config = await state.runtime.auth.configs.update(request.path_params["config_id"], body)
    return AuthConfigOut(**config.public())


async def delete_auth_config(request: Request, state: ApiState) -> Response:
    await state.runtime.auth.configs.delete(request.path_params["config_id"])
    return Response(status_code=204)


async def authorize(request: Request, state: ApiState) -> ConnectionRequestOut:
    """`session.authorize(toolkit)`: a Connect Link for the session's user."""
    runtime = state.runtime
    session = await runtime.sessions.get(request.path_params["session_id"])
    body = parse_body(AuthorizeRequest, await _body(request, state))
    toolkit = runtime.auth.configs.toolkit(body.toolkit)
    if toolkit.slug not in session_toolkits(session, runtime.catalog):
        raise Conflict(
            f"toolkit {toolkit.slug} is not enabled in this session; enable it with PATCH "
            f"/api/v1/sessions/{session.id} first"
        )
    async with semantic_as_422():
        connect = await runtime.auth.flow.initiate(
            session.user_id, toolkit, session=session, alias=body.alias, callback_url=body.callback_url, actor="api"
        )
    return ConnectionRequestOut(**connect.public())


async def create_link(request: Request, state: ApiState) -> ConnectionRequestOut:
    runtime = state.runtime
    body = parse_body(LinkRequest, await _body(request, state))
    toolkit = runtime.auth.configs.toolkit(body.toolkit)
    async with semantic_as_422():
        runtime.sessions.check_user(body.user_id)  # an account for 'default' would be every session's of it
        connect = await runtime.auth.flow.initiate(
            body.user_id, toolkit, alias=body.alias, callback_url=body.callback_url, actor="operator"
        )
    return ConnectionRequestOut(**connect.public())


async def session_toolkits_view(request: Request, state: ApiState) -> SessionToolkitListOut:
    runtime = state.runtime
    session = await runtime.sessions.get(request.path_params["session_id"])
    search = (request.query_params.get("search") or "").lower()
    wanted = request.query_params.get("is_connected")
    if wanted not in (None, "true", "false"):
        raise InvalidInput("is_connected must be true or false")
    items = []
    for slug in sorted(session_toolkits(session, runtime.catalog)):
        toolkit = runtime.catalog.toolkits[slug]
        if search and search not in f"{slug} {toolkit.name} {' '.join(toolkit.aliases)}".lower():
            continue
        connection = None
        if toolkit.needs_auth:
            account, message = await runtime.auth.connection_state(session, toolkit)
            connection = {
                "is_active": account is not None,
                "message": message,
                "connected_account": {"id": account.id, "status": account.status} if account else None,
                "auth_config": {"id": account.auth_config_id} if account else None,
            }
        connected = connection is None or connection["is_active"]
        if wanted in ("true", "false") and connected != (wanted == "true"):
            continue
        items.append(
            SessionToolkitOut(slug=slug, name=toolkit.name, is_no_auth=not toolkit.needs_auth, connection=connection)
        )
    return SessionToolkitListOut(items=items)


async def session_accounts(request: Request, state: ApiState) -> AccountListOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    rows = await state.runtime.auth.accounts.list(session.user_id, request.query_params.get("toolkit"))
    return AccountListOut(items=[account_out(state, r) for r in rows])


async def session_revoke(request: Request, state: ApiState) -> RevokeOut:
    auth = state.runtime.auth
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    row = await auth.accounts.get(request.path_params["account_id"], session.user_id)
    warning = await auth.credentials.revoke(row, f"session:{session.id}")
    return RevokeOut(account=account_out(state, await auth.accounts.get(row.id)), warning=warning)
