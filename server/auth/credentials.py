"""Credentials for tool calls: the executor's `CredentialProvider`, with token refresh.

A token within `REFRESH_MARGIN` seconds of expiry, or one the provider rejected with 401, is
refreshed once, under a per-account lock held across every replica on the database (`LockStore`), and
the new token is stored before the lock is released: providers that rotate refresh tokens (Atlassian,
Linear, Slack) kill the old one on use, so two concurrent refreshes would lose the account. A failed
refresh marks the account EXPIRED and the error carries a fresh Connect Link.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import anyio

from server.auth import oauth2
from server.auth.accounts import AccountService, preview
from server.auth.configs import AuthConfigService
from server.auth.connect_flow import ConnectFlow
from server.catalog.model import Toolkit
from server.catalog.toolkit_file import AuthSchemeFile
from server.errors import AuthFlowError, ConnectionRequired
from server.execute.credentials import Credential
from server.store.interfaces import LockStore
from server.store.records import AccountRow, now
from server.values import AccountStatus, Session

REFRESH_MARGIN = 60.0
REFRESH_LOCK_SECONDS = 30.0  # longer than one refresh at the provider may take (oauth2.TIMEOUT)
MAIN_SECRETS = frozenset({"access_token", "refresh_token", "token_type", "issued_at", "api_key", "token", "password"})


def needs_refresh(expires_at: float | None, issued_at: float | None) -> bool:
    """Within 60 s of expiry, or within half the token's lifetime for tokens shorter than two minutes
    (otherwise a short-lived token would be refreshed on every single call)."""
    if expires_at is None:
        return False
    margin = REFRESH_MARGIN if issued_at is None else min(REFRESH_MARGIN, (expires_at - issued_at) / 2)
    return expires_at - now() < margin


def build_credential(account: AccountRow, scheme: AuthSchemeFile, secret: dict[str, Any]) -> Credential:
    """Where each scheme puts its secret on the wire."""
    extra = {k: str(v) for k, v in secret.items() if k not in MAIN_SECRETS}
    base = scheme.base_url
    if scheme.type == "oauth2":
        # Always RFC 6750 Bearer: providers label tokens by kind, not scheme (Slack's authed_user says "user",
        # its bot token "bot"), and no other scheme (MAC, DPoP) could be sent without signing each request.
        return Credential(
            account.id,
            headers={"Authorization": f"Bearer {secret['access_token']}"},
            fields=extra,
            access_token=secret["access_token"],
            base_url=base,
        )
    if scheme.type == "bearer_token":
        return Credential(
            account.id, headers={"Authorization": f"Bearer {secret['token']}"}, fields=extra, base_url=base
        )
    if scheme.type == "basic":
        raw = f"{secret['username']}:{secret.get('password', '')}".encode()
        return Credential(
            account.id,
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
            fields=extra,
            base_url=base,
        )
    key = scheme.api_key_prefix + secret["api_key"]
    if scheme.api_key_in == "query":
        return Credential(account.id, query={scheme.api_key_name: key}, fields=extra, base_url=base)
    return Credential(account.id, headers={scheme.api_key_name: key}, fields=extra, base_url=base)


class AccountCredentials:
    def __init__(
        self, accounts: AccountService, configs: AuthConfigService, flow: ConnectFlow, locks: LockStore
    ) -> None:
        self.accounts = accounts
        self.configs = configs
        self.flow = flow
        self.store_locks = locks
        self._locks: dict[str, anyio.Lock] = {}

    async def credential_for(self, session: Session, toolkit: Toolkit, account: str | None) -> Credential:
        if not toolkit.needs_auth:
            if account is not None:
                raise ConnectionRequired(f"toolkit {toolkit.slug} needs no account; drop `account` from the call")
            return Credential(account_id=None)
        row = await self.accounts.select(session, toolkit, account)
        if row is None:
            raise await self.flow.connection_required(session, toolkit, await self._not_connected(session, toolkit))
        scheme = await self._scheme(toolkit, row)
        secret = self.accounts.secret(row)
        if scheme.type == "oauth2" and needs_refresh(row.expires_at, secret.get("issued_at")):
            row, secret = await self._refresh(session, toolkit, row, secret["access_token"])
        return build_credential(row, scheme, secret)

    async def after_unauthorized(self, session: Session, toolkit: Toolkit, credential: Credential) -> Credential | None:
        if credential.account_id is None or credential.access_token is None:
            return None
        row = await self.accounts.get(credential.account_id, session.user_id)
        scheme = await self._scheme(toolkit, row)
        row, secret = await self._refresh(session, toolkit, row, credential.access_token)
        return build_credential(row, scheme, secret)

    async def _scheme(self, toolkit: Toolkit, row: AccountRow) -> AuthSchemeFile:
        config = await self.configs.get(row.auth_config_id or "")
        return self.configs.scheme(toolkit, config.auth_scheme)

    async def _refresh(
        self, session: Session, toolkit: Toolkit, row: AccountRow, used_token: str
    ) -> tuple[AccountRow, dict[str, Any]]:
        lock = self._locks.setdefault(row.id, anyio.Lock())  # one waiter per process on the store's lock
        async with lock, self.store_locks.hold(f"token-refresh:{row.id}", REFRESH_LOCK_SECONDS):
            fresh = await self.accounts.get(row.id)
            secret = self.accounts.secret(fresh) if fresh.credential else {}
            if fresh.status == AccountStatus.ACTIVE and secret.get("access_token") != used_token:
                return fresh, secret
            if fresh.status != AccountStatus.ACTIVE:
                raise await self.flow.connection_required(
                    session, toolkit, f"{toolkit.name} account {fresh.alias or fresh.id} is {fresh.status}"
                )
            if not secret.get("refresh_token"):
                return await self._expire(
                    session, toolkit, fresh, "the access token expired and there is no refresh token"
                )
            try:
                app = await self.configs.oauth_app(await self.configs.get(fresh.auth_config_id or ""))
                tokens = await oauth2.refresh(app, secret["refresh_token"])
            except AuthFlowError as exc:
                return await self._expire(session, toolkit, fresh, exc.message)
            scopes = json.dumps(tokens.scope.replace(",", " ").split()) if tokens.scope else None
            kept = {k: v for k, v in secret.items() if k not in MAIN_SECRETS}  # after-connect fields (cloud id)
            new_secret = {**kept, **tokens.secret()}
            if not await self.accounts.store.set_status(
                fresh.id,
                AccountStatus.ACTIVE,
                None,
                "refreshed",
                "system",
                credential=self.accounts.box.seal(new_secret),
                preview=preview(tokens.access_token),
                expires_at=tokens.expires_at,
                scopes=scopes,
                only_if=(AccountStatus.ACTIVE,),
            ):
                raise await self.flow.connection_required(
                    session, toolkit, f"{toolkit.name} account {fresh.alias or fresh.id} was revoked or deleted"
                )
            return await self.accounts.get(fresh.id), new_secret

    async def _expire(self, session: Session, toolkit: Toolkit, row: AccountRow, reason: str) -> Any:
        await self.accounts.store.set_status(
            row.id,
            AccountStatus.EXPIRED,
            reason,
            "expired",
            "system",
            keep_credential=False,
            only_if=(AccountStatus.ACTIVE,),
        )
        raise await self.flow.connection_required(
            session, toolkit, f"{toolkit.name} account {row.alias or row.id} expired ({reason}); it must be reconnected"
        )

    async def _not_connected(self, session: Session, toolkit: Toolkit) -> str:
        """Why no account can serve the call; a revoked one is named, so the agent can tell the user."""
        recent = await self.accounts.store.find(user_id=session.user_id, toolkit=toolkit.slug)
        settled = [a for a in recent if a.status != AccountStatus.INITIATED]
        if settled and settled[0].status == AccountStatus.REVOKED:
            return f"{toolkit.name} account {settled[0].alias or settled[0].id} was revoked; it must be connected again"
        return f"{toolkit.name} is not connected for this user"

    async def revoke(self, row: AccountRow, actor: str) -> str | None:
        """Revoke at the provider when it has an endpoint (RFC 7009), then locally; returns a warning if the
        provider call failed (the account is revoked here regardless)."""
        warning = None
        if row.credential is not None:
            toolkit = self.configs.toolkit(row.toolkit)
            scheme = await self._scheme(toolkit, row)
            if scheme.type == "oauth2" and scheme.oauth2 and scheme.oauth2.revoke_url:
                secret = self.accounts.secret(row)
                try:
                    app = await self.configs.oauth_app(await self.configs.get(row.auth_config_id or ""))
                    token = secret.get("refresh_token") or secret["access_token"]
                    await oauth2.revoke(app, token, "refresh_token" if secret.get("refresh_token") else "access_token")
                except (AuthFlowError, ConnectionRequired) as exc:
                    warning = f"the provider did not confirm the revocation: {exc.message}"
        await self.accounts.store.set_status(
            row.id, AccountStatus.REVOKED, warning, "revoked", actor, keep_credential=False
        )
        return warning
