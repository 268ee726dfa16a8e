"""Plumbing shared by the Google and Microsoft Graph stand-ins: a Starlette app on a loopback port, a log of
every request, queued failures (rate limits, outages) a test makes the next calls answer with, bearer tokens
with scopes, and an OAuth 2.0 authorization server with the provider's own quirks.

The authorization server is strict where the real ones are: PKCE S256 is required, codes are single use and
bound to client, redirect URI and verifier, client secrets are checked, and a refresh token is issued only
when the provider's rule says so (Google: `access_type=offline`, and again only with `prompt=consent`;
Microsoft: the `offline_access` scope). Google keeps its refresh token on refresh; Microsoft sends a new one.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import ThreadedServer

Handler = Callable[[Request, "Grant"], Awaitable[Response]]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any


class ApiError(Exception):
    """Raised by a handler: answered as `body` with `status` (already in the provider's format)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, dict(headers or {})


@dataclass
class Grant:
    """Who a token belongs to and what it may do."""

    user: str
    scopes: frozenset[str]
    expires_at: float = float("inf")


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: frozenset[str]
    offline: bool
    issued_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class OAuthRules:
    """Where a provider's OAuth endpoints live and how it decides about refresh tokens."""

    authorize_path: str
    token_path: str
    revoke_path: str | None
    wants_refresh: Callable[[Mapping[str, str], bool], bool]  # (authorize params, consented before) -> issue one?
    rotates_refresh: bool
    token_prefix: str = "at_"
    refresh_prefix: str = "rt_"


class CloudStandIn(ThreadedServer):
    """`with SomeStandIn() as api:` serves on `api.url`; `api.requests` holds what arrived."""

    oauth_rules: OAuthRules
    access_lifetime = 3599

    def __init__(self, *, user: str) -> None:
        super().__init__()
        self.user = user
        self.client_id = "client-" + secrets.token_hex(6)
        self.client_secret = "secret-" + secrets.token_hex(12)
        self.requests: list[Recorded] = []
        self.authorize_requests: list[dict[str, str]] = []
        self.authorize_paths: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.token_paths: list[str] = []
        self.revoked: list[str] = []
        self.counts: Counter[str] = Counter()
        self._queued: list[tuple[int, Any, dict[str, str]]] = []
        self._lock = threading.RLock()
        self._tokens: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._codes: dict[str, _Code] = {}
        self._consented: set[tuple[str, str]] = set()
        self._ids = itertools.count(1)
        self.deny_consent = False

    # what a provider module fills in ----------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        raise NotImplementedError

    def required_scopes(self, path: str) -> frozenset[str]:
        """Any one of these scopes lets a token call `path`."""
        raise NotImplementedError

    def unauthorized(self) -> ApiError:
        raise NotImplementedError

    def forbidden_scope(self) -> ApiError:
        raise NotImplementedError

    def not_found(self, request: Request) -> ApiError:
        raise NotImplementedError

    def seed(self) -> None:
        """Build the provider's initial world (once the address is known)."""

    # lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        def make_app() -> Starlette:
            self.seed()
            rules = self.oauth_rules
            oauth = [Route(rules.authorize_path, self._authorize, methods=["GET"]),
                     Route(rules.token_path, self._token, methods=["POST"])]
            if rules.revoke_path:
                oauth.append(Route(rules.revoke_path, self._revoke, methods=["POST"]))
            api = [Route(path, self._endpoint(handler), methods=[method]) for method, path, handler in self.routes()]
            return Starlette(routes=oauth + api, exception_handlers={HTTPException: self._http_exception})

        self.serve(make_app)
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def authorize_url(self) -> str:
        return self.url + self.oauth_rules.authorize_path

    @property
    def token_url(self) -> str:
        return self.url + self.oauth_rules.token_path

    @property
    def revoke_url(self) -> str | None:
        return self.url + self.oauth_rules.revoke_path if self.oauth_rules.revoke_path else None

    def fail_next(self, status: int, body: Any, headers: Mapping[str, str] | None = None, times: int = 1) -> None:
        """The next `times` API calls get this answer (e.g. a 429 in the provider's format)."""
        with self._lock:
            self._queued.extend([(status, body, dict(headers or {}))] * times)

    def add_token(self, token: str, scopes: set[str] | frozenset[str], user: str | None = None) -> None:
        """A token issued outside the OAuth flow (OAuth Playground, `gcloud auth print-access-token`)."""
        with self._lock:
            self._tokens[token] = Grant(user or self.user, frozenset(scopes))

    def expire_access_tokens(self) -> None:
        with self._lock:
            for grant in self._tokens.values():
                grant.expires_at = 0

    def api_calls(self, prefix: str = "/") -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids):04d}{secrets.token_hex(4)}"

    # plumbing ---------------------------------------------------------------------------------------------------

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            self.requests.append(Recorded(request.method, request.url.path, dict(request.query_params),
                                          dict(request.headers), _decode(raw)))
            with self._lock:
                queued = self._queued.pop(0) if self._queued else None
            if queued is not None:
                status, body, headers = queued
                return JSONResponse(body, status_code=status, headers=headers)
            try:
                grant = self._grant(request.headers.get("authorization", ""))
                if grant is None:
                    raise self.unauthorized()
                if not grant.scopes & self.required_scopes(request.url.path):
                    raise self.forbidden_scope()
                return await handler(request, grant)
            except ApiError as exc:
                if exc.status == 204:
                    return Response(status_code=204)
                return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

        return endpoint

    def _grant(self, authorization: str) -> Grant | None:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            grant = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return grant if grant is not None and grant.expires_at > time.time() else None

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        error = self.not_found(request)
        return JSONResponse(error.body, status_code=error.status)

    # the authorization server -------------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        self.authorize_paths.append(request.url.path)
        self.counts["authorize"] += 1
        redirect = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or not _loopback(redirect):
            return JSONResponse({"error": "invalid_request", "error_description": "unknown client or redirect_uri"},
                                status_code=400)
        state = {"state": params["state"]} if "state" in params else {}
        if self.deny_consent:
            return RedirectResponse(f"{redirect}?{urlencode({'error': 'access_denied', **state})}", status_code=302)
        if params.get("response_type") != "code" or params.get("code_challenge_method") != "S256" \
                or not params.get("code_challenge"):
            return RedirectResponse(f"{redirect}?{urlencode({'error': 'invalid_request', **state})}", status_code=302)
        scopes = frozenset(params.get("scope", "").split())
        key = (self.client_id, self.user)
        offline = self.oauth_rules.wants_refresh(params, key in self._consented)
        self._consented.add(key)
        code = "code_" + secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = _Code(self.client_id, redirect, params["code_challenge"], scopes, offline)
        query = {"code": code, **state, "scope": " ".join(sorted(scopes))}
        return RedirectResponse(f"{redirect}?{urlencode(query)}", status_code=302)

    def _client_ok(self, request: Request, form: Mapping[str, str]) -> bool:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        return client_id == self.client_id and secret is not None and secrets.compare_digest(secret,
                                                                                             self.client_secret)

    async def _token(self, request: Request) -> Response:
        self.token_paths.append(request.url.path)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _token_error("invalid_request", "token requests must be form-encoded")
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        grant_type = form.get("grant_type", "")
        self.counts[f"token_{grant_type}"] += 1
        if not self._client_ok(request, form):
            return _token_error("invalid_client", "Unauthorized", 401)
        with self._lock:
            if grant_type == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if code is None or code.redirect_uri != form.get("redirect_uri") or digest != code.challenge \
                        or time.time() - code.issued_at > 600:
                    return _token_error("invalid_grant", "Bad Request")
                return JSONResponse(self._issue(Grant(self.user, code.scopes), refresh=code.offline))
            if grant_type == "refresh_token":
                old = form.get("refresh_token", "")
                grant = self._refresh.get(old)
                if grant is None:
                    return _token_error("invalid_grant", "Token has been expired or revoked.")
                if self.oauth_rules.rotates_refresh:
                    del self._refresh[old]
                return JSONResponse(self._issue(Grant(grant.user, grant.scopes),
                                                refresh=self.oauth_rules.rotates_refresh))
        return _token_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _issue(self, grant: Grant, *, refresh: bool) -> dict[str, Any]:
        token = self.oauth_rules.token_prefix + secrets.token_urlsafe(24)
        self._tokens[token] = Grant(grant.user, grant.scopes, time.time() + self.access_lifetime)
        answer: dict[str, Any] = {"access_token": token, "expires_in": self.access_lifetime, "token_type": "Bearer",
                                  "scope": " ".join(sorted(grant.scopes))}
        if refresh:
            answer["refresh_token"] = self.oauth_rules.refresh_prefix + secrets.token_urlsafe(24)
            self._refresh[answer["refresh_token"]] = grant
        return answer

    async def _revoke(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode())) | dict(request.query_params)
        token = form.get("token", "")
        self.counts["revoke"] += 1
        with self._lock:
            found = self._tokens.pop(token, None) or self._refresh.pop(token, None)
            if found is not None:  # revoking one token of a grant ends the grant (Google's rule)
                self.revoked.append(token)
                for store in (self._tokens, self._refresh):
                    for key in [k for k, g in store.items() if g.user == found.user and g.scopes == found.scopes]:
                        del store[key]
        if found is None:
            return _token_error("invalid_token", "Token expired or revoked")
        return JSONResponse({})


def _token_error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


def _loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


async def json_body(request: Request, invalid: Callable[[str], ApiError]) -> dict[str, Any]:
    """The request's JSON object, or the provider's "invalid JSON" error."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise invalid("Invalid JSON payload received.") from None
    if not isinstance(data, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    return data


def live_server(data_dir: Any, stand_in: CloudStandIn, bases: Mapping[str, str], *, oauth: bool = True,
                **extra: Any) -> Any:
    """A started Concierge server whose toolkits (slug -> API base URL) talk to `stand_in`; with `oauth`
    the stand-in is also each toolkit's OAuth app and authorization server, else no OAuth app is configured
    (so the Connect Link offers the token form)."""
    from tests.live import LiveServer

    endpoints = {"authorize_url": stand_in.authorize_url, "token_url": stand_in.token_url}
    if stand_in.revoke_url:
        endpoints["revoke_url"] = stand_in.revoke_url
    overrides = {slug: {"base_url": base} | (endpoints if oauth else {}) for slug, base in bases.items()}
    apps = {slug: {"client_id": stand_in.client_id, "client_secret": stand_in.client_secret} for slug in bases}
    return LiveServer(data_dir, toolkit_overrides=overrides, **({"oauth_apps": apps} if oauth else {}),
                      **extra).start()


async def run_tools(client: Any, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One COMPOSIO_MULTI_EXECUTE_TOOL batch; each call's response ({data, error, successful})."""
    from tests.mcp_helpers import call

    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] if r["response"] is not None else {"successful": False, "error": r["error"]}
            for r in batch["data"]["results"]]


async def connect_oauth(client: Any, slug: str) -> dict[str, Any]:
    """COMPOSIO_MANAGE_CONNECTIONS, then what a browser does with the link; the link's entry."""
    from tests.auth_fixtures import follow_oauth_link
    from tests.mcp_helpers import call

    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": [slug]}))["data"]["results"][slug]
    assert link["status"] == "initiated" and link["auth_scheme"] == "OAUTH2", link
    assert follow_oauth_link(link["redirect_url"]).status_code == 200
    return link
