"""An upstream MCP server protected per the MCP authorization specification, for the OAuth upstream
tests: an authorization server built from the `mcp` SDK's own OAuth routes (metadata, dynamic client
registration, authorize with PKCE, token, refresh, revocation) over an in-memory provider that
approves at once, and the echo server (tests/upstream_echo.py) behind the SDK's bearer-token
middleware, publishing its protected-resource metadata (RFC 9728)."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    ProviderTokenVerifier,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes, create_protected_resource_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.live import ThreadedServer
from tests.upstream_echo import build_server


class MemoryProvider:
    """Every client, code and token in dictionaries; authorizing approves at once (no login page)."""

    def __init__(self, access_token_seconds: int) -> None:
        self.lifetime = access_token_seconds
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.refreshes = 0

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(16)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or [], expires_at=time.time() + 300, client_id=client.client_id,
            code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly, resource=params.resource)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        return self.codes.get(code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = "at_" + secrets.token_urlsafe(16), "rt_" + secrets.token_urlsafe(16)
        self.access[access] = AccessToken(token=access, client_id=client_id, scopes=scopes,
                                          expires_at=int(time.time()) + self.lifetime, resource=resource)
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(access_token=access, expires_in=self.lifetime, refresh_token=refresh,
                          scope=" ".join(scopes) or None)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        del self.codes[authorization_code.code]
        return self._issue(authorization_code.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        del self.refresh[refresh_token.token]
        self.refreshes += 1
        return self._issue(refresh_token.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    async def exchange_identity_assertion(self, *args: Any) -> OAuthToken:
        raise NotImplementedError


class AuthorizationServer(ThreadedServer):
    def __init__(self, access_token_seconds: int = 3600) -> None:
        super().__init__()
        self.provider = MemoryProvider(access_token_seconds)

    def start(self) -> AuthorizationServer:
        self.serve(lambda: Starlette(routes=create_auth_routes(
            self.provider, AnyHttpUrl(self.url), client_registration_options=ClientRegistrationOptions(enabled=True),
            revocation_options=RevocationOptions(enabled=True))))
        return self


class _Endpoint:
    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)


class ProtectedEchoUpstream(ThreadedServer):
    """The echo MCP server at /mcp, reachable only with a token the authorization server issued."""

    def __init__(self, auth: AuthorizationServer) -> None:
        super().__init__()
        self.auth = auth

    def start(self) -> ProtectedEchoUpstream:
        def make_app() -> Starlette:
            manager = StreamableHTTPSessionManager(app=build_server())
            resource = AnyHttpUrl(self.url + "/mcp")
            metadata = AnyHttpUrl(self.url + "/.well-known/oauth-protected-resource/mcp")
            protected = RequireAuthMiddleware(_Endpoint(manager), [], metadata)

            @contextlib.asynccontextmanager
            async def lifespan(app: Starlette) -> AsyncIterator[None]:
                async with manager.run():
                    yield

            routes = [*create_protected_resource_routes(resource, [AnyHttpUrl(self.auth.url)]),
                      Route("/mcp", protected, methods=["GET", "POST", "DELETE"])]
            backend = BearerAuthBackend(ProviderTokenVerifier(self.auth.provider))  # type: ignore[arg-type]
            return Starlette(routes=routes, lifespan=lifespan, middleware=[
                Middleware(AuthenticationMiddleware, backend=backend), Middleware(AuthContextMiddleware)])

        self.serve(make_app)
        return self

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"
