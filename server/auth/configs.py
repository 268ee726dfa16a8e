"""Auth configs (`ac_…`): which scheme and which OAuth app a toolkit's connections use.

A toolkit's *default* config uses the operator's app from `[oauth_apps.<toolkit>]` in the config
(the secret stays in the config, not the database); *custom* configs carry their own app, stored
encrypted. A session's `auth_configs={"github": "ac_…"}` picks one; otherwise the default is used.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from server.auth.crypto import SecretBox
from server.auth.oauth2 import OAuthApp
from server.auth.options import AuthConfigCreate, AuthConfigUpdate
from server.catalog.catalog import Catalog, near_matches
from server.catalog.model import Toolkit
from server.catalog.toolkit_file import AuthSchemeFile
from server.config import Settings
from server.errors import Conflict, ConnectionRequired, InvalidInput, NotFound
from server.store.interfaces import AuthConfigStore
from server.store.records import AuthConfigRow, now


@dataclass(frozen=True, slots=True)
class AuthConfig:
    id: str
    toolkit: str
    name: str
    auth_scheme: str
    type: str
    status: str
    scopes: list[str] | None
    authorize_params: dict[str, str]
    restrict_to_tools: list[str] | None
    has_app_credentials: bool
    created_at: float
    updated_at: float

    app_source: str | None = None  # "oauth_apps_config" | "auth_config" | None (no OAuth app: a token scheme)

    def public(self) -> dict[str, Any]:
        # Concierge ships no OAuth apps of its own: every app is the operator's, so nothing is "managed".
        return {
            "id": self.id,
            "toolkit": self.toolkit,
            "name": self.name,
            "auth_scheme": self.auth_scheme.upper(),
            "type": self.type,
            "status": self.status,
            "is_managed": False,
            "is_default": self.type == "default",
            "app_source": self.app_source,
            "is_disabled": self.status == "DISABLED",
            "scopes": self.scopes,
            "authorize_params": self.authorize_params,
            "restrict_to_following_tools": self.restrict_to_tools,
            "has_app_credentials": self.has_app_credentials,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


TOKEN_SCHEMES = ("bearer_token", "api_key", "basic")


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _fill(url: str, params: dict[str, str], toolkit: str) -> str:
    """`https://login.microsoftonline.com/{tenant}/...` with the operator's (or the toolkit's default) value."""
    try:
        return url.format_map({k: quote(v, safe="") for k, v in params.items()})
    except KeyError as exc:
        raise ConnectionRequired(
            f"the OAuth URL {url} needs {exc.args[0]!r}: set it in [oauth_apps.{toolkit}]", {"toolkit": toolkit}
        ) from None


class AuthConfigService:
    def __init__(self, store: AuthConfigStore, box: SecretBox, catalog: Catalog, settings: Settings) -> None:
        self.store = store
        self.box = box
        self.catalog = catalog
        self.settings = settings

    def _view(self, row: AuthConfigRow) -> AuthConfig:
        source = None
        if row.credentials is not None:
            source = "auth_config"
        elif row.auth_scheme == "oauth2" and row.toolkit in self.settings.oauth_apps:
            source = "oauth_apps_config"
        return AuthConfig(
            row.id,
            row.toolkit,
            row.name,
            row.auth_scheme,
            row.type,
            row.status,
            _loads(row.scopes),
            _loads(row.authorize_params) or {},
            _loads(row.restrict_to_tools),
            source is not None,
            row.created_at,
            row.updated_at,
            source,
        )

    def toolkit(self, slug: str) -> Toolkit:
        toolkit = self.catalog.toolkits.get(slug)
        if toolkit is None:
            raise NotFound(f"toolkit {slug!r} not found", {"suggestions": near_matches(slug, self.catalog.toolkits)})
        return toolkit

    def scheme(self, toolkit: Toolkit, name: str) -> AuthSchemeFile:
        for scheme in toolkit.auth_schemes:
            if scheme.type == name.lower():
                return scheme
        raise InvalidInput(
            f"toolkit {toolkit.slug} does not support auth scheme {name!r}; it supports "
            f"{', '.join(s.type for s in toolkit.auth_schemes)}"
        )

    def default_scheme(self, toolkit: Toolkit) -> AuthSchemeFile:
        """The toolkit's first scheme; but when that is OAuth and the operator configured no OAuth app, its
        token scheme (PAT, bot token, API key), so people can connect without an app being registered."""
        first = next((s for s in toolkit.auth_schemes if s.type != "none"), toolkit.auth_schemes[0])
        if first.type == "oauth2" and toolkit.slug not in self.settings.oauth_apps:
            token = next((s for s in toolkit.auth_schemes if s.type in TOKEN_SCHEMES), None)
            if token is not None:
                return token
        return first

    async def create(self, body: AuthConfigCreate, kind: str = "custom") -> AuthConfig:
        toolkit = self.toolkit(body.toolkit)
        scheme = self.scheme(toolkit, body.auth_scheme or toolkit.auth_schemes[0].type)
        if scheme.type == "none":
            raise InvalidInput(f"toolkit {toolkit.slug} needs no authentication; it has no auth configs")
        if body.restrict_to_tools:
            unknown = [t for t in body.restrict_to_tools if t.upper() not in toolkit.tools]
            if unknown:
                raise InvalidInput(f"restrict_to_tools: unknown tools of {toolkit.slug}: {unknown}")
        ts = now()
        row = AuthConfigRow(
            id="ac_" + secrets.token_urlsafe(12),
            toolkit=toolkit.slug,
            name=body.name or f"{toolkit.name} ({kind})",
            auth_scheme=scheme.type,
            type=kind,
            status="ENABLED",
            credentials=self.box.seal(
                {
                    "client_id": body.credentials.client_id,
                    "client_secret": body.credentials.client_secret.get_secret_value(),
                }
            )
            if body.credentials
            else None,
            scopes=json.dumps(body.scopes) if body.scopes is not None else None,
            authorize_params=json.dumps(body.authorize_params) if body.authorize_params else None,
            restrict_to_tools=json.dumps([t.upper() for t in body.restrict_to_tools])
            if body.restrict_to_tools
            else None,
            created_at=ts,
            updated_at=ts,
        )
        await self.store.insert(row)
        return self._view(row)

    async def get(self, config_id: str) -> AuthConfig:
        row = await self.store.get(config_id)
        if row is None:
            raise NotFound(f"auth config {config_id} not found")
        return self._view(row)

    async def list(self, toolkit: str | None = None) -> list[AuthConfig]:
        return [self._view(r) for r in await self.store.find(toolkit)]

    async def update(self, config_id: str, body: AuthConfigUpdate) -> AuthConfig:
        row = await self.store.get(config_id)
        if row is None:
            raise NotFound(f"auth config {config_id} not found")
        changes: dict[str, Any] = {}
        fields = body.model_fields_set
        if "name" in fields and body.name:
            changes["name"] = body.name
        if "credentials" in fields:
            changes["credentials"] = (
                self.box.seal(
                    {
                        "client_id": body.credentials.client_id,
                        "client_secret": body.credentials.client_secret.get_secret_value(),
                    }
                )
                if body.credentials
                else None
            )
        for name in ("scopes", "authorize_params", "restrict_to_tools"):
            if name in fields:
                value = getattr(body, name)
                changes[name] = json.dumps(value) if value is not None else None
        if "status" in fields and body.status:
            changes["status"] = body.status
        return self._view(await self.store.update(replace(row, **changes)))

    async def delete(self, config_id: str) -> None:
        await self.get(config_id)
        count = await self.store.in_use(config_id)
        if count:
            raise Conflict(
                f"auth config {config_id} is used by {count} connected account(s) that are active or were "
                "started and not finished (shown INITIATED or EXPIRED: an unused Connect Link); delete "
                "them first, or disable the config",
                {"accounts": count},
            )
        await self.store.delete(config_id)

    async def resolve(self, toolkit: Toolkit, chosen: str | None) -> AuthConfig:
        """The config a new connection of this toolkit uses: the session's choice, else the default."""
        if chosen:
            config = await self.get(chosen)
            if config.toolkit != toolkit.slug:
                raise InvalidInput(f"auth config {chosen} belongs to toolkit {config.toolkit}, not {toolkit.slug}")
        else:
            scheme = self.default_scheme(toolkit)
            existing = [
                c for c in await self.list(toolkit.slug) if c.type == "default" and c.auth_scheme == scheme.type
            ]
            config = (
                existing[0]
                if existing
                else await self.create(
                    AuthConfigCreate(
                        toolkit=toolkit.slug,
                        auth_scheme=scheme.type,
                        name=f"{toolkit.name} (default{'' if scheme.type == 'oauth2' else ', ' + scheme.type})",
                    ),
                    kind="default",
                )
            )
        if config.status != "ENABLED":
            raise ConnectionRequired(
                f"auth config {config.id} for {toolkit.slug} is disabled; the operator must "
                "enable it or choose another",
                {"auth_config_id": config.id},
            )
        return config

    async def oauth_app(self, config: AuthConfig) -> OAuthApp:
        toolkit = self.toolkit(config.toolkit)
        scheme = self.scheme(toolkit, config.auth_scheme)
        assert scheme.oauth2 is not None
        row = await self.store.get(config.id)
        configured_params: dict[str, str] = {}
        if row is not None and row.credentials is not None:
            app = self.box.open(row.credentials)
            client_id, client_secret = app["client_id"], app["client_secret"]
        elif config.toolkit in self.settings.oauth_apps:
            configured = self.settings.oauth_apps[config.toolkit]
            client_id, client_secret = configured.client_id, configured.client_secret.get_secret_value()
            configured_params = configured.url_params
        else:
            raise ConnectionRequired(
                f"no OAuth app is configured for {toolkit.slug}: the operator must set [oauth_apps.{toolkit.slug}] "
                "client_id/client_secret in the config, or create an auth config with credentials "
                "(POST /api/v1/auth_configs)",
                {"toolkit": toolkit.slug, "auth_config_id": config.id},
            )
        params = {**scheme.oauth2.url_params, **configured_params}
        urls = ("authorize_url", "token_url", "revoke_url", "refresh_url")
        endpoints = scheme.oauth2.model_copy(
            update={name: _fill(url, params, toolkit.slug) for name in urls if (url := getattr(scheme.oauth2, name))}
        )
        return OAuthApp(
            client_id,
            client_secret,
            endpoints,
            tuple(config.scopes if config.scopes is not None else endpoints.default_scopes),
            {**endpoints.authorize_params, **config.authorize_params},
        )
