"""A real OAuth 2.0 authorization server on 127.0.0.1 for tests, built on authlib's Flask server side.

Concierge's OAuth client must be tested against something that says no: this server checks PKCE (S256,
required from every client), client secrets, redirect URIs, single-use codes and rotated refresh tokens,
and counts what it was asked so tests can prove "exactly one refresh". It consents automatically for a
fixed user (no HTML) unless a test calls `deny_next()`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response
from flask import request as flask_request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

TEST_USER = "octocat"
CODE_LIFETIME = 600
TokenAuthMethod = Literal["client_secret_post", "client_secret_basic"]
BOTH_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
COUNT_NAMES = {"authorization_code": "token_authorization_code", "refresh_token": "token_refresh"}


@dataclass
class _Client(ClientMixin):
    """The one confidential client; any loopback redirect URI is allowed since test ports are dynamic."""

    client_id: str
    client_secret: str
    auth_method: TokenAuthMethod

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and not parts.fragment

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class _Token(TokenMixin):
    access_token: str
    refresh_token: str | None
    scope: str
    user: str
    client_id: str
    issued_at: float
    expires_in: int
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: _Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> str:
        return self.user


class _Store:
    """Clients, codes and tokens in memory; one re-entrant lock makes every read-check-write atomic."""

    def __init__(self, client: _Client, rotate_refresh_tokens: bool) -> None:
        self.client = client
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.lock = threading.RLock()
        self.codes: dict[str, _Code] = {}
        self.tokens: list[_Token] = []
        self.issued: list[str] = []
        self.counts: Counter[str] = Counter(dict.fromkeys(["authorize", *COUNT_NAMES.values(), "revoke"], 0))
        self.deny_next = False

    def find(self, value: str, kind: str | None = None) -> _Token | None:
        with self.lock:
            for token in self.tokens:
                if kind != "refresh_token" and token.access_token == value:
                    return token
                if kind != "access_token" and token.refresh_token == value:
                    return token
        return None


class _Server(AuthorizationServer):
    """authlib's Flask server carrying our store, so grants and endpoints reach it via `self.server`."""

    def __init__(self, app: Flask, store: _Store) -> None:
        self.store = store
        super().__init__(app, query_client=self._query_client_by_id, save_token=self._save_token_record)

    def _query_client_by_id(self, client_id: str) -> _Client | None:
        return self.store.client if client_id == self.store.client.client_id else None

    def _save_token_record(self, token: dict[str, Any], request: Any) -> None:
        record = _Token(access_token=token["access_token"], refresh_token=token.get("refresh_token"),
                        scope=token.get("scope", ""), user=request.user, client_id=request.client.client_id,
                        issued_at=time.time(), expires_in=int(token["expires_in"]))
        with self.store.lock:
            self.store.tokens.append(record)
            self.store.issued.extend(t for t in (record.access_token, record.refresh_token) if t)


class _RequiredS256(CodeChallenge):
    """PKCE for every client, confidential ones included, and only S256 (authlib's default asks only public
    clients and also accepts `plain`)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = BOTH_AUTH_METHODS
    server: _Server

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        record = _Code(code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
                       scope=request.scope or "", user=request.user, code_challenge=data.get("code_challenge"),
                       code_challenge_method=data.get("code_challenge_method"), issued_at=time.time())
        with self.server.store.lock:
            self.server.store.codes[code] = record

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        record = self.server.store.codes.get(code)
        if record and record.client_id == client.client_id and time.time() < record.issued_at + CODE_LIFETIME:
            return record
        return None

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        with self.server.store.lock:
            self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: _Code) -> str:
        return authorization_code.user


class _RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = BOTH_AUTH_METHODS
    server: _Server

    def __init__(self, request: Any, server: _Server) -> None:
        super().__init__(request, server)
        self.INCLUDE_NEW_REFRESH_TOKEN = server.store.rotate_refresh_tokens

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        token = self.server.store.find(refresh_token, "refresh_token")
        return token if token and not token.refresh_revoked else None

    def authenticate_user(self, refresh_token: _Token) -> str:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        if self.INCLUDE_NEW_REFRESH_TOKEN:
            refresh_token.refresh_revoked = True


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = BOTH_AUTH_METHODS
    server: _Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return self.server.store.find(token_string, token_type_hint)

    def revoke_token(self, token: _Token, request: Any) -> None:
        token.access_revoked = True
        if request.form.get("token_type_hint") != "access_token":
            token.refresh_revoked = True


class _QuietHandler(WSGIRequestHandler):
    """No access log: one line per request drowns pytest's captured output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class OAuthServer:
    """Starts/stops the authorization server in a thread; `with OAuthServer() as oauth:` works too."""

    def __init__(self, *, access_token_lifetime: int = 3600, rotate_refresh_tokens: bool = True,
                 require_pkce: bool = True, token_auth_method: TokenAuthMethod = "client_secret_post") -> None:
        self.client_id = "client-" + secrets.token_hex(8)
        self.client_secret = "secret-" + secrets.token_urlsafe(24)
        self._store = _Store(_Client(self.client_id, self.client_secret, token_auth_method), rotate_refresh_tokens)
        self._app = self._build_app(access_token_lifetime, require_pkce)
        self._http: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def _build_app(self, access_token_lifetime: int, require_pkce: bool) -> Flask:
        app = Flask(__name__)
        app.config.update(
            OAUTH2_REFRESH_TOKEN_GENERATOR=True,
            OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": access_token_lifetime,
                                     "refresh_token": access_token_lifetime},
        )
        server = _Server(app, self._store)
        server.register_grant(_CodeGrant, [_RequiredS256() if require_pkce else CodeChallenge(required=False)])
        server.register_grant(_RefreshGrant)
        server.register_endpoint(_Revocation)
        store = self._store

        @app.get("/authorize")
        def authorize() -> Response:
            with store.lock:
                store.counts["authorize"] += 1
            try:
                grant = server.get_consent_grant(end_user=TEST_USER)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            with store.lock:
                deny, store.deny_next = store.deny_next, False
            return server.create_authorization_response(grant=grant, grant_user=None if deny else TEST_USER)

        @app.post("/token")
        def token() -> Response:
            # One token request at a time: rotation must let exactly one of two racing refreshes win.
            with store.lock:
                store.counts[COUNT_NAMES.get(flask_request.form.get("grant_type", ""), "token_other")] += 1
                return server.create_token_response()

        @app.post("/revoke")
        def revoke() -> Response:
            with store.lock:
                store.counts["revoke"] += 1
                return server.create_endpoint_response(_Revocation.ENDPOINT_NAME)

        return app

    @property
    def authorize_url(self) -> str:
        return self.base_url + "/authorize"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.base_url + "/revoke"

    @property
    def counts(self) -> dict[str, int]:
        """Requests received (valid or not): authorize, token_authorization_code, token_refresh, revoke."""
        with self._store.lock:
            return dict(self._store.counts)

    @property
    def issued(self) -> list[str]:
        """Every access and refresh token string handed out, oldest first."""
        with self._store.lock:
            return list(self._store.issued)

    def start(self) -> OAuthServer:
        self._http = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None and self._thread is not None:
            self._http.shutdown()
            self._thread.join(timeout=10)
            self._http.server_close()
            self._http = None

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def revoke_all_refresh_tokens(self) -> None:
        """Make the next refresh fail with invalid_grant, as when a user revokes the app at the provider."""
        with self._store.lock:
            for token in self._store.tokens:
                token.refresh_revoked = True

    def expire_all_access_tokens(self) -> None:
        """End every access token's life now, while the client still believes it valid: its next API call
        gets a 401, which must trigger one refresh."""
        with self._store.lock:
            for token in self._store.tokens:
                token.expires_in = 0

    def deny_next(self) -> None:
        """The next authorization redirects back with error=access_denied, as when a user clicks Cancel."""
        with self._store.lock:
            self._store.deny_next = True

    def verify(self, access_token: str) -> dict[str, Any] | None:
        """What a resource server learns from a bearer token: its user and scope, or None if unknown,
        revoked or expired."""
        token = self._store.find(access_token, "access_token")
        if token is None or token.is_revoked() or token.is_expired():
            return None
        return {"user": token.user, "scope": token.scope, "client_id": token.client_id,
                "expires_at": token.issued_at + token.expires_in}
