"""OAuth 2.0 client side (RFC 6749 §4.1 authorization code, §6 refresh; RFC 7636 PKCE; RFC 7009
revocation) on authlib's `AsyncOAuth2Client`. We never hand-roll the token exchange; we only adapt
provider quirks in compliance hooks (form-encoded answers, nested tokens, errors sent with HTTP 200).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx2
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.errors import OAuth2Error

from server.catalog.toolkit_file import AfterConnect, OAuth2Fields
from server.errors import AuthFlowError
from server.execute.provider_errors import dig

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """An OAuth client registration (the operator's app) and the provider's endpoints."""

    client_id: str
    client_secret: str = field(repr=False)
    endpoints: OAuth2Fields
    scopes: tuple[str, ...]
    authorize_params: dict[str, str]


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None
    token_type: str = "Bearer"

    def secret(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "issued_at": time.time(),
        }


def new_verifier() -> str:
    """RFC 7636 §4.1: 43-128 characters of unreserved URL characters."""
    return generate_token(64)


def _dig(data: dict[str, Any], path: str | None) -> dict[str, Any]:
    for part in (path or "").split("."):
        if part and isinstance(data.get(part), dict):
            data = {**data, **data[part]}
    return data


def _normalise(endpoints: OAuth2Fields):  # noqa: ANN202 - an authlib hook
    """Compliance hook: any provider answer -> a JSON token object authlib can parse, or a clear error."""

    def hook(resp: httpx2.Response) -> httpx2.Response:
        kind = resp.headers.get("content-type", "")
        try:
            body: Any = dict(parse_qsl(resp.text)) if "x-www-form-urlencoded" in kind else resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AuthFlowError(f"token endpoint answered HTTP {resp.status_code} without a token object")
        if body.get("ok") is False and "error" in body:  # Slack: errors with HTTP 200
            body = {"error": body["error"]}
        body = _dig(body, endpoints.token_response_path)
        if "error" not in body and resp.status_code >= 400:
            body = {"error": "http_error", "error_description": f"token endpoint answered HTTP {resp.status_code}"}
        if "error" not in body and not body.get("access_token"):
            body = {"error": "invalid_response", "error_description": "no access_token in the provider's answer"}
        return httpx2.Response(200, json=body, request=resp.request)

    return hook


class _JsonTokenBody(httpx2.AsyncBaseTransport):
    """Re-encodes the form body authlib builds as JSON, for token endpoints that want JSON
    (`token_request_format: json`, Notion); client authentication is already in it or in the header."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and "x-www-form-urlencoded" in request.headers.get("content-type", ""):
            body = dict(parse_qsl((await request.aread()).decode()))
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-type", "content-length")}
            request = httpx2.Request("POST", request.url, headers=headers, json=body)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _client(app: OAuthApp, redirect_uri: str | None = None) -> AsyncOAuth2Client:
    ep = app.endpoints
    extra: dict[str, Any] = {"transport": _JsonTokenBody()} if ep.token_request_format == "json" else {}
    client = AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        scope=ep.scope_separator.join(app.scopes) or None,
        redirect_uri=redirect_uri,
        token_endpoint_auth_method=ep.token_endpoint_auth_method,
        revocation_endpoint_auth_method=ep.token_endpoint_auth_method,
        code_challenge_method="S256" if ep.pkce else None,
        timeout=TIMEOUT,
        **extra,
    )
    hook = _normalise(ep)
    client.register_compliance_hook("access_token_response", hook)
    client.register_compliance_hook("refresh_token_response", hook)
    return client


def _token_set(raw: dict[str, Any], previous_refresh: str | None = None) -> TokenSet:
    expires_at = raw.get("expires_at")
    if expires_at is None and raw.get("expires_in") not in (None, ""):
        expires_at = time.time() + float(raw["expires_in"])
    return TokenSet(
        access_token=raw["access_token"],
        refresh_token=raw.get("refresh_token") or previous_refresh,
        expires_at=float(expires_at) if expires_at else None,
        scope=raw.get("scope"),
        token_type=raw.get("token_type") or "Bearer",
    )


def authorization_url(app: OAuthApp, redirect_uri: str, state: str, verifier: str) -> str:
    client = _client(app, redirect_uri)
    url, _ = client.create_authorization_url(
        app.endpoints.authorize_url,
        state=state,
        code_verifier=verifier if app.endpoints.pkce else None,
        **app.authorize_params,
    )
    return url


async def exchange_code(app: OAuthApp, redirect_uri: str, code: str, verifier: str) -> TokenSet:
    async with _client(app, redirect_uri) as client:
        try:
            raw = await client.fetch_token(
                app.endpoints.token_url,
                code=code,
                grant_type="authorization_code",
                code_verifier=verifier if app.endpoints.pkce else None,
                **app.endpoints.extra_token_params,
            )
        except (OAuthError, OAuth2Error) as exc:
            raise AuthFlowError(
                f"the provider refused the authorization code: {exc.error}"
                + (f" ({exc.description})" if exc.description else "")
            ) from None
        except httpx2.HTTPError as exc:
            raise AuthFlowError(f"could not reach the provider's token endpoint: {type(exc).__name__}") from None
    return _token_set(dict(raw))


async def refresh(app: OAuthApp, refresh_token: str) -> TokenSet:
    async with _client(app) as client:
        try:
            raw = await client.refresh_token(
                app.endpoints.refresh_url or app.endpoints.token_url, refresh_token=refresh_token
            )
        except (OAuthError, OAuth2Error) as exc:
            raise AuthFlowError(f"token refresh refused: {exc.error}", {"oauth_error": exc.error}) from None
        except httpx2.HTTPError as exc:
            raise AuthFlowError(f"could not reach the provider's token endpoint: {type(exc).__name__}") from None
    return _token_set(dict(raw), previous_refresh=refresh_token)


async def revoke(app: OAuthApp, token: str, hint: str) -> None:
    if not app.endpoints.revoke_url:
        return
    async with _client(app) as client:
        try:
            response = await client.revoke_token(app.endpoints.revoke_url, token=token, token_type_hint=hint)
        except httpx2.HTTPError as exc:
            raise AuthFlowError(f"could not reach the provider's revocation endpoint: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise AuthFlowError(f"the provider refused the revocation (HTTP {response.status_code})")


async def after_connect(step: AfterConnect, access_token: str) -> str:
    """The value an after-connect lookup names (Atlassian: `0.id` of accessible-resources = the cloud id)."""
    try:
        async with httpx2.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(
                step.url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
            )
    except httpx2.HTTPError as exc:
        raise AuthFlowError(f"could not reach {step.url} to look up {step.field}: {type(exc).__name__}") from None
    if response.status_code >= 400:
        raise AuthFlowError(f"looking up {step.field} at {step.url} failed with HTTP {response.status_code}")
    try:
        value = dig(response.json(), step.path)
    except ValueError:
        value = None
    if value is None or isinstance(value, dict | list) or value == "":
        raise AuthFlowError(
            f"the answer from {step.url} has no {step.path} for {step.field} (does the account "
            "have access to any site?)"
        )
    return str(value)


__all__ = [
    "OAuthApp",
    "TokenSet",
    "after_connect",
    "authorization_url",
    "exchange_code",
    "new_verifier",
    "refresh",
    "revoke",
]
