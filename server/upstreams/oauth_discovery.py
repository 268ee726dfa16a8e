"""Finding an upstream MCP server's authorization server, per the MCP authorization specification:
protected-resource metadata (RFC 9728), authorization-server metadata (RFC 8414, then OpenID
Connect discovery), and dynamic client registration (RFC 7591) when the operator brought no client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from server.errors import UpstreamError
from server.upstreams.http_pool import no_connection

_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]+)"')


@dataclass(frozen=True, slots=True)
class AuthServer:
    resource: str  # the canonical URL of the MCP server, sent as RFC 8707 `resource`
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    revocation_endpoint: str | None
    registration_endpoint: str | None
    scopes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "registration_endpoint": self.registration_endpoint,
            "scopes": list(self.scopes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthServer:
        return cls(
            data["resource"],
            data["issuer"],
            data["authorization_endpoint"],
            data["token_endpoint"],
            data.get("revocation_endpoint"),
            data.get("registration_endpoint"),
            tuple(data.get("scopes") or ()),
        )


def _well_known(url: str, name: str) -> list[str]:
    """RFC 8414 §3.1 / RFC 9728 §3.1: the well-known segment goes between host and path."""
    parts = urlsplit(url)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    return [f"{origin}/.well-known/{name}{path}"] + ([f"{origin}/.well-known/{name}"] if path else [])


async def _json(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def discover(http: httpx.AsyncClient, upstream: str, url: str) -> AuthServer:
    """The authorization server that protects `url` and its endpoints."""
    candidates = _well_known(url, "oauth-protected-resource")
    try:  # MCP authorization §4.2: a 401 names the metadata document in WWW-Authenticate
        probe = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        found = _RESOURCE_METADATA.search(probe.headers.get("www-authenticate", ""))
        if found:
            candidates.insert(0, found.group(1))
    except httpx.HTTPError as exc:
        reason = no_connection(url) if isinstance(exc, httpx.ConnectError) else f"{type(exc).__name__}: {exc}"
        raise UpstreamError(
            f"upstream MCP server {upstream!r} cannot be reached: {reason}", {"upstream": upstream}
        ) from None
    resource_meta = None
    for candidate in candidates:
        resource_meta = await _json(http, candidate)
        if resource_meta and resource_meta.get("authorization_servers"):
            break
    if not resource_meta or not resource_meta.get("authorization_servers"):
        raise UpstreamError(
            f"upstream MCP server {upstream!r} publishes no protected-resource metadata "
            '(RFC 9728), so its authorization server is unknown; use auth.type = "header" '
            "with a token instead",
            {"upstream": upstream},
        )
    issuer = str(resource_meta["authorization_servers"][0])
    server_meta = None
    for candidate in _well_known(issuer, "oauth-authorization-server") + [
        issuer.rstrip("/") + "/.well-known/openid-configuration"
    ]:
        server_meta = await _json(http, candidate)
        if server_meta and server_meta.get("authorization_endpoint") and server_meta.get("token_endpoint"):
            break
    if not server_meta or not server_meta.get("token_endpoint"):
        raise UpstreamError(
            f"upstream MCP server {upstream!r}: its authorization server {issuer} publishes no metadata (RFC 8414)",
            {"upstream": upstream},
        )
    scopes = resource_meta.get("scopes_supported") or server_meta.get("scopes_supported") or []
    return AuthServer(
        str(resource_meta.get("resource") or url),
        issuer,
        server_meta["authorization_endpoint"],
        server_meta["token_endpoint"],
        server_meta.get("revocation_endpoint"),
        server_meta.get("registration_endpoint"),
        tuple(str(s) for s in scopes),
    )


async def register(
    http: httpx.AsyncClient, upstream: str, server: AuthServer, redirect_uri: str, client_name: str
) -> tuple[str, str]:
    """RFC 7591: a confidential client for Concierge's callback; returns (client_id, client_secret)."""
    if not server.registration_endpoint:
        raise UpstreamError(
            f"upstream MCP server {upstream!r}: its authorization server offers no dynamic client "
            f"registration; register a client there and set [oauth_apps.{upstream}] client_id and "
            "client_secret",
            {"upstream": upstream},
        )
    body = {
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    if server.scopes:
        body["scope"] = " ".join(server.scopes)
    try:
        response = await http.post(server.registration_endpoint, json=body)
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"upstream MCP server {upstream!r}: client registration failed: {exc}", {"upstream": upstream}
        ) from None
    data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code not in (200, 201) or not data.get("client_id"):
        raise UpstreamError(
            f"upstream MCP server {upstream!r}: client registration refused (HTTP "
            f"{response.status_code}): {data.get('error_description') or data.get('error') or ''}",
            {"upstream": upstream},
        )
    return str(data["client_id"]), str(data.get("client_secret") or "")
