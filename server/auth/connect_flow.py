"""Connect Links: `/connect/<token>` walks a person through OAuth or a credential form once.

Tokens and OAuth `state` values are random, stored only as SHA-256 hashes (the token also encrypted,
so the same live link can be shown again), single-use, and expire. PKCE verifiers are encrypted.
Every failure leaves the account FAILED, EXPIRED or untouched, never ACTIVE.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from server.auth import oauth2
from server.auth.accounts import AccountService, preview
from server.auth.configs import AuthConfigService
from server.auth.crypto import fingerprint
from server.catalog.model import Toolkit
from server.catalog.toolkit_file import AuthSchemeFile, FieldSpec
from server.errors import AuthFlowError, ConciergeError, Conflict, ConnectionRequired, InvalidInput
from server.store.errors import AlreadyExists
from server.store.records import AccountRow, LinkRow, now
from server.values import AccountStatus, Session

CALLBACK_PATH = "/api/v1/auth/callback"


OPENED_GRACE_SECONDS = 900  # an opened OAuth link may finish at the provider this long after it was opened


def _deadline(link: LinkRow) -> float:
    """A link expires at `expires_at`; one opened just before that keeps a bounded window to finish the
    provider's sign-in, but an opened link never lives forever."""
    if link.opened_at is None:
        return link.expires_at
    return max(link.expires_at, link.opened_at + OPENED_GRACE_SECONDS)


class LinkProblem(ConciergeError):
    """A Connect Link that cannot be used (unknown, used, expired, tampered); shown as a page."""

    code = "connect_link_invalid"
    http_status = 410


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    connected_account_id: str
    redirect_url: str
    expires_at: float
    status: AccountStatus = AccountStatus.INITIATED

    def public(self) -> dict[str, Any]:
        return {
            "id": self.connected_account_id,
            "connected_account_id": self.connected_account_id,
            "redirect_url": self.redirect_url,
            "expires_at": self.expires_at,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class LinkPage:
    toolkit: Toolkit
    redirect_url: str | None = None
    fields: tuple[FieldSpec, ...] = ()
    state: str | None = None
    help: str | None = None  # "where do I get this" for the credential the form asks for
    scheme: str = ""  # the auth scheme's type: oauth2, api_key, bearer_token, basic
    scopes: tuple[str, ...] = ()  # what an OAuth sign-in asks the provider for
    expires_at: float | None = None
    callback_url: str | None = None  # the app's page the person returns to afterwards
    provider_url: str | None = None  # where an OAuth sign-in happens


def requested_scopes(app: oauth2.OAuthApp) -> tuple[str, ...]:
    """The scopes a sign-in asks for; Slack asks for the user's own in `user_scope`."""
    user_scope = app.authorize_params.get("user_scope", "")
    return tuple(dict.fromkeys([*app.scopes, *(s for s in re.split(r"[,\s]+", user_scope) if s)]))


def form_fields(scheme: AuthSchemeFile) -> tuple[FieldSpec, ...]:
    base = {
        "api_key": [FieldSpec(name="api_key", label=scheme.label or "API key")],
        "bearer_token": [FieldSpec(name="token", label=scheme.label or "Access token")],
        "basic": [
            FieldSpec(name="username", label="Username", secret=False),
            FieldSpec(name="password", label="Password"),
        ],
    }.get(scheme.type, [])
    return tuple(base + list(scheme.fields))


def instruction(toolkit: Toolkit, scheme: AuthSchemeFile, url: str, then: str = "continue") -> str:
    """The sentence an agent shows the user: sign in, or paste a token (and where to get it)."""
    if scheme.type == "oauth2":
        return f"Ask the user to open this link to connect their {toolkit.name} account, then {then}: {url}"
    fields = form_fields(scheme)
    secret = fields[0].label if fields else "credentials"
    return (
        f"Ask the user to open this link and enter their {toolkit.name} {secret}"
        + (f" ({scheme.help.rstrip('.')})" if scheme.help else "")
        + f", then {then}: {url}"
    )


def with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


class ConnectFlow:
    def __init__(self, accounts: AccountService, configs: AuthConfigService, base_url: str, ttl: int) -> None:
        self.accounts = accounts
        self.store = accounts.store
        self.box = accounts.box
        self.configs = configs
        self.base_url = base_url
        self.ttl = ttl
        # told of every account that becomes ACTIVE (an upstream MCP server lists its tools as that user)
        self.on_active: list[Callable[[AccountRow, AuthSchemeFile, dict[str, Any]], Awaitable[None]]] = []

    async def _activated(self, account_id: str, scheme: AuthSchemeFile, secret: dict[str, Any]) -> AccountRow:
        account = await self.accounts.get(account_id)
        for observer in self.on_active:
            await observer(account, scheme, secret)
        return account

    @property
    def callback_uri(self) -> str:
        return self.base_url + CALLBACK_PATH

    def _url(self, token: str) -> str:
        return f"{self.base_url}/connect/{token}"

    async def initiate(
        self,
        user_id: str,
        toolkit: Toolkit,
        *,
        session: Session | None = None,
        alias: str | None = None,
        callback_url: str | None = None,
        actor: str = "api",
    ) -> ConnectRequest:
        if not toolkit.needs_auth:
            raise InvalidInput(f"toolkit {toolkit.slug} needs no authentication; its tools run without a connection")
        chosen = (session.options.auth_configs or {}).get(toolkit.slug) if session else None
        config = await self.configs.resolve(toolkit, chosen)
        if config.auth_scheme == "oauth2":
            await self.configs.oauth_app(config)  # no app configured: say so now, not after the user clicks
        if session is not None and session.options.multi_account.enable:
            live = await self.store.find(
                user_id=user_id, toolkit=toolkit.slug, statuses=(AccountStatus.ACTIVE, AccountStatus.INITIATED)
            )
            limit = session.options.multi_account.max_accounts_per_toolkit
            if len(live) >= limit:
                raise Conflict(
                    f"user already has {len(live)} {toolkit.slug} accounts (max_accounts_per_toolkit is "
                    f"{limit}); delete or revoke one first"
                )
        if callback_url is None and session is not None:
            callback_url = session.options.manage_connections.callback_url
        return await self._create(
            user_id, toolkit.slug, config.id, alias, session.id if session else None, callback_url, actor
        )

    async def _create(
        self,
        user_id: str,
        toolkit: str,
        auth_config_id: str,
        alias: str | None,
        session_id: str | None,
        callback_url: str | None,
        actor: str,
    ) -> ConnectRequest:
        token, ts = secrets.token_urlsafe(32), now()
        account = AccountRow(
            id="ca_" + secrets.token_urlsafe(12),
            user_id=user_id,
            toolkit=toolkit,
            auth_config_id=auth_config_id,
            alias=alias,
            status=AccountStatus.INITIATED,
            status_reason=None,
            is_disabled=0,
            scopes=None,
            credential=None,
            credential_preview=None,
            expires_at=None,
            created_at=ts,
            updated_at=ts,
        )
        link = LinkRow(
            token_hash=fingerprint(token),
            token=self.box.seal(token),
            account_id=account.id,
            session_id=session_id,
            callback_url=callback_url,
            state_hash=None,
            pkce_verifier=None,
            expires_at=ts + self.ttl,
            opened_at=None,
            used_at=None,
            created_at=ts,
        )
        try:
            await self.store.insert(account, link, "initiated", actor)
        except AlreadyExists:
            raise Conflict(f"alias {alias!r} is already used by another {toolkit} account of this user") from None
        return ConnectRequest(account.id, self._url(token), link.expires_at)

    async def link_for(self, session: Session, toolkit: Toolkit, *, fresh: bool = False) -> ConnectRequest:
        """A live Connect Link for this user and toolkit: the pending one if there is one, else a new one,
        so asking twice does not pile up half-made accounts."""
        if not fresh:
            for account in await self.store.find(
                user_id=session.user_id, toolkit=toolkit.slug, statuses=(AccountStatus.INITIATED,)
            ):
                link = await self.store.live_link(account.id)
                if link is not None:
                    return ConnectRequest(account.id, self._url(self.box.open(link.token)), link.expires_at)
        return await self.initiate(session.user_id, toolkit, session=session, actor="agent")

    async def connection_required(self, session: Session, toolkit: Toolkit, reason: str) -> ConnectionRequired:
        """The structured error an agent gets for a missing connection: with a link to show the user."""
        try:
            request = await self.link_for(session, toolkit)
        except ConciergeError as exc:
            return ConnectionRequired(
                f"{reason}; and no Connect Link could be made: {exc.message}", {"toolkit": toolkit.slug}
            )
        _, scheme = await self._scheme(await self.accounts.get(request.connected_account_id))
        return ConnectionRequired(
            f"{reason}. {instruction(toolkit, scheme, request.redirect_url, 'retry')}",
            {
                "toolkit": toolkit.slug,
                "redirect_url": request.redirect_url,
                "auth_scheme": scheme.type.upper(),
                "credential_help": scheme.help,
                "connected_account_id": request.connected_account_id,
                "expires_at": request.expires_at,
            },
        )

    async def scheme_for(self, account_id: str) -> AuthSchemeFile:
        """The auth scheme a pending or connected account uses (its auth config's)."""
        _, scheme = await self._scheme(await self.accounts.get(account_id))
        return scheme

    async def _live(self, link: LinkRow | None) -> tuple[LinkRow, AccountRow]:
        if link is None:
            raise LinkProblem("This connection link is not valid. Ask for a new one.", {"reason": "unknown"})
        account = await self.store.get(link.account_id)
        if account is None:
            raise LinkProblem("This connection was deleted. Ask for a new link.", {"reason": "deleted"})
        if link.used_at is not None or account.status != AccountStatus.INITIATED:
            raise LinkProblem(
                "This connection link was already used. Each link works once; ask for a new one.",
                {"reason": "used", "status": account.status, "toolkit": account.toolkit},
            )
        if now() > _deadline(link):
            await self.store.set_status(
                account.id,
                AccountStatus.EXPIRED,
                "the Connect Link expired before it was completed",
                "expired",
                "system",
                only_if=(AccountStatus.INITIATED,),
            )
            raise LinkProblem(
                "This connection link has expired. Ask for a new one.",
                {"reason": "expired", "toolkit": account.toolkit},
            )
        return link, account

    async def _scheme(self, account: AccountRow) -> tuple[Toolkit, AuthSchemeFile]:
        toolkit = self.configs.toolkit(account.toolkit)
        config = await self.configs.get(account.auth_config_id or "")
        return toolkit, self.configs.scheme(toolkit, config.auth_scheme)

    async def _app(self, account: AccountRow) -> oauth2.OAuthApp:
        try:
            return await self.configs.oauth_app(await self.configs.get(account.auth_config_id or ""))
        except ConnectionRequired as exc:
            raise LinkProblem(exc.message, {"reason": "not_configured"}) from None

    async def preview(self, token: str) -> LinkPage:
        """What a live link will ask for, changing nothing (the page before an OAuth sign-in)."""
        link, account = await self._live(await self.store.link_by_token(fingerprint(token)))
        toolkit, scheme = await self._scheme(account)
        app = await self._app(account) if scheme.type == "oauth2" else None
        if app is not None and link.opened_at is not None:
            raise LinkProblem("This connection link was already used. Ask for a new one.", {"reason": "used"})
        return LinkPage(
            toolkit,
            fields=form_fields(scheme),
            help=scheme.help,
            scheme=scheme.type,
            scopes=requested_scopes(app) if app else (),
            expires_at=link.expires_at,
            callback_url=link.callback_url,
            provider_url=app.endpoints.authorize_url if app else None,
        )

    async def open(self, token: str) -> LinkPage:
        """Starts the link's step: a form state for a credential form, or the provider's sign-in URL."""
        link, account = await self._live(await self.store.link_by_token(fingerprint(token)))
        toolkit, scheme = await self._scheme(account)
        state = secrets.token_urlsafe(32)
        if scheme.type != "oauth2":
            await self.store.set_form_state(link.token_hash, fingerprint(state))
            return LinkPage(
                toolkit,
                fields=form_fields(scheme),
                state=state,
                help=scheme.help,
                scheme=scheme.type,
                expires_at=link.expires_at,
                callback_url=link.callback_url,
            )
        app = await self._app(account)
        verifier = oauth2.new_verifier()
        if not await self.store.open_link(link.token_hash, fingerprint(state), self.box.seal(verifier)):
            raise LinkProblem("This connection link was already used. Ask for a new one.", {"reason": "used"})
        return LinkPage(
            toolkit,
            redirect_url=oauth2.authorization_url(app, self.callback_uri, state, verifier),
            scheme=scheme.type,
            scopes=requested_scopes(app),
            expires_at=link.expires_at,
            callback_url=link.callback_url,
            provider_url=app.endpoints.authorize_url,
        )

    async def retry(self, state: str) -> ConnectRequest:
        """After a provider refused a sign-in: a live link for the same user, toolkit, auth config and
        session (the pending one if there is one), while the failed link's time lasts."""
        link = await self.store.link_by_state(fingerprint(state)) if state else None
        account = await self.store.get(link.account_id) if link is not None else None
        if link is None or account is None or account.status != AccountStatus.FAILED:
            raise LinkProblem("This sign-in cannot be restarted from here. Ask for a new link.", {"reason": "state"})
        if now() > _deadline(link):
            raise LinkProblem("This connection link has expired. Ask for a new one.", {"reason": "expired"})
        for pending in await self.store.find(
            user_id=account.user_id, toolkit=account.toolkit, statuses=(AccountStatus.INITIATED,)
        ):
            live = await self.store.live_link(pending.id)
            if live is not None and pending.auth_config_id == account.auth_config_id:
                return ConnectRequest(pending.id, self._url(self.box.open(live.token)), live.expires_at)
        return await self._create(
            account.user_id,
            account.toolkit,
            account.auth_config_id or "",
            account.alias,
            link.session_id,
            link.callback_url,
            "user",
        )

    async def submit(self, token: str, state: str, values: dict[str, str]) -> tuple[AccountRow, str | None]:
        link, account = await self._live(await self.store.link_by_token(fingerprint(token)))
        if not state or link.state_hash != fingerprint(state):
            raise LinkProblem(
                "This form is out of date or was tampered with. Reload the link and try again.", {"reason": "state"}
            )
        _, scheme = await self._scheme(account)
        secret: dict[str, str] = {}
        for spec in form_fields(scheme):
            value = (values.get(spec.name) or "").strip()
            if spec.required and not value:
                raise InvalidInput(f"{spec.label} is required", {"field": spec.name})
            if value:
                secret[spec.name] = value
        if not await self.store.use_link(link.token_hash):
            raise LinkProblem("This connection link was already used.", {"reason": "used"})
        main = next((secret[f.name] for f in form_fields(scheme) if f.secret and f.name in secret), "")
        await self.store.set_status(
            account.id,
            AccountStatus.ACTIVE,
            None,
            "activated",
            "user",
            credential=self.box.seal(secret),
            preview=preview(main),
            only_if=(AccountStatus.INITIATED,),
        )
        return await self._activated(account.id, scheme, secret), link.callback_url

    async def callback(self, params: dict[str, str]) -> tuple[AccountRow, str | None]:
        """OAuth redirect back from the provider (RFC 6749 §4.1.2): exchange the code, or record the error."""
        state = params.get("state")
        if not state:
            raise LinkProblem(
                "The provider's answer has no state; the connection cannot be matched.", {"reason": "state"}
            )
        link = await self.store.link_by_state(fingerprint(state))
        if link is None or link.opened_at is None:
            raise LinkProblem(
                "This sign-in answer does not match any pending connection (unknown or tampered "
                "state). Start again from your app.",
                {"reason": "state"},
            )
        link, account = await self._live(link)
        if not await self.store.use_link(link.token_hash):
            raise LinkProblem("This sign-in answer was already used.", {"reason": "used"})
        if "error" in params or not params.get("code"):
            reason = params.get("error", "no authorization code") + (
                f": {params['error_description']}" if params.get("error_description") else ""
            )
            await self.store.set_status(
                account.id, AccountStatus.FAILED, reason, "failed", "provider", only_if=(AccountStatus.INITIATED,)
            )
            return await self.accounts.get(account.id), link.callback_url
        try:
            app = await self.configs.oauth_app(await self.configs.get(account.auth_config_id or ""))
            tokens = await oauth2.exchange_code(
                app, self.callback_uri, params["code"], self.box.open(link.pkce_verifier or b"")
            )
            secret = tokens.secret()
            _, scheme = await self._scheme(account)
            if scheme.after_connect is not None:
                secret[scheme.after_connect.field] = await oauth2.after_connect(
                    scheme.after_connect, tokens.access_token
                )
        except (AuthFlowError, ConnectionRequired) as exc:
            await self.store.set_status(
                account.id, AccountStatus.FAILED, exc.message, "failed", "provider", only_if=(AccountStatus.INITIATED,)
            )
            return await self.accounts.get(account.id), link.callback_url
        scopes = json.dumps(tokens.scope.replace(",", " ").split()) if tokens.scope else None
        await self.store.set_status(
            account.id,
            AccountStatus.ACTIVE,
            None,
            "activated",
            "user",
            credential=self.box.seal(secret),
            preview=preview(tokens.access_token),
            expires_at=tokens.expires_at,
            scopes=scopes,
            only_if=(AccountStatus.INITIATED,),
        )
        return await self._activated(account.id, scheme, secret), link.callback_url
