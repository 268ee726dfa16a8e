"""The test authorization server must refuse what a real one refuses, or OAuth tests prove nothing."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.oauth_server import TEST_USER, OAuthServer

REDIRECT_URI = "http://127.0.0.1:9/api/v1/auth/callback"


class Flow:
    """The client app's side: a browser that stops at each 302, and token requests over one connection."""

    def __init__(self, oauth: OAuthServer, http: httpx.Client) -> None:
        self.oauth = oauth
        self.http = http

    def authorize(self, verifier: str | None, **overrides: str) -> dict[str, str]:
        """GET /authorize and return the query of the redirect back to the client."""
        params = {"response_type": "code", "client_id": self.oauth.client_id, "redirect_uri": REDIRECT_URI,
                  "scope": "repo read:user", "state": "st-" + secrets.token_hex(4)}
        if verifier is not None:
            params |= {"code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
        params |= overrides
        response = self.http.get(self.oauth.authorize_url, params=params)
        assert response.status_code == 302, response.text
        location = httpx.URL(response.headers["location"])
        assert str(location).startswith(params["redirect_uri"] + "?")
        query = dict(location.params)
        assert query.get("state") == params["state"]
        return query

    def token(self, **form: str) -> httpx.Response:
        form = {"client_id": self.oauth.client_id, "client_secret": self.oauth.client_secret} | form
        return self.http.post(self.oauth.token_url, data=form, headers={"Accept": "application/json"})

    def exchange(self, code: str, verifier: str | None, **extra: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI} | extra
        if verifier is not None:
            form["code_verifier"] = verifier
        return self.token(**form)

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)

    def connect(self) -> dict[str, Any]:
        verifier = secrets.token_urlsafe(48)
        response = self.exchange(self.authorize(verifier)["code"], verifier)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def make_flow(http: httpx.Client) -> Iterator[Callable[..., Flow]]:
    servers: list[OAuthServer] = []

    def make(**options: Any) -> Flow:
        servers.append(OAuthServer(**options).start())
        return Flow(servers[-1], http)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def flow(make_flow: Callable[..., Flow]) -> Flow:
    return make_flow()


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def test_code_and_pkce_exchange_gives_real_tokens(flow: Flow) -> None:
    oauth = flow.oauth
    token = flow.connect()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["scope"] == "repo read:user"
    assert len(token["access_token"]) >= 40 and len(token["refresh_token"]) >= 40
    assert oauth.issued == [token["access_token"], token["refresh_token"]]
    assert oauth.verify(token["access_token"]) == {
        "user": TEST_USER, "scope": "repo read:user", "client_id": oauth.client_id,
        "expires_at": pytest.approx(time.time() + 3600, abs=5)}
    assert oauth.verify("not-a-token") is None
    assert oauth.verify(token["refresh_token"]) is None
    assert oauth.counts == {"authorize": 1, "token_authorization_code": 1, "token_refresh": 0, "revoke": 0}


def test_code_is_single_use_and_bound_to_redirect_uri(flow: Flow) -> None:
    verifier = secrets.token_urlsafe(48)
    code = flow.authorize(verifier)["code"]
    assert_error(flow.exchange(code, verifier, redirect_uri="http://127.0.0.1:9/other"), 400, "invalid_grant")
    assert flow.exchange(code, verifier).status_code == 200
    assert_error(flow.exchange(code, verifier), 400, "invalid_grant")
    assert_error(flow.exchange("made-up-code", verifier), 400, "invalid_grant")


def test_refresh_rotates_and_old_refresh_token_is_rejected(flow: Flow) -> None:
    first = flow.connect()
    response = flow.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] not in (None, first["refresh_token"])
    assert flow.oauth.verify(second["access_token"])["user"] == TEST_USER
    assert_error(flow.refresh(first["refresh_token"]), 400, "invalid_grant")
    assert flow.refresh(second["refresh_token"]).status_code == 200
    assert flow.oauth.counts["token_refresh"] == 3


def test_racing_refreshes_with_one_token_have_exactly_one_winner(flow: Flow) -> None:
    refresh_token = flow.connect()["refresh_token"]
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: flow.refresh(refresh_token).status_code, range(8)))
    assert statuses == [200] + [400] * 7
    assert flow.oauth.counts["token_refresh"] == 8


def test_without_rotation_the_refresh_token_stays_valid(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(rotate_refresh_tokens=False)
    refresh_token = flow.connect()["refresh_token"]
    for _ in range(2):
        response = flow.refresh(refresh_token)
        assert response.status_code == 200 and "refresh_token" not in response.json()


def test_wrong_code_verifier_is_rejected(flow: Flow) -> None:
    code = flow.authorize(secrets.token_urlsafe(48))["code"]
    assert_error(flow.exchange(code, secrets.token_urlsafe(48)), 400, "invalid_grant")


def test_pkce_is_required_from_a_confidential_client(flow: Flow) -> None:
    assert flow.authorize(None)["error"] == "invalid_request"
    plain = flow.authorize(None, code_challenge="x" * 43, code_challenge_method="plain")
    assert plain["error"] == "invalid_request"
    code = flow.authorize(secrets.token_urlsafe(48))["code"]
    assert_error(flow.exchange(code, None), 400, "invalid_request")
    assert flow.oauth.issued == []


def test_pkce_optional_when_not_required_but_still_checked_when_sent(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(require_pkce=False)
    assert flow.exchange(flow.authorize(None)["code"], None).status_code == 200
    code = flow.authorize(secrets.token_urlsafe(48))["code"]
    assert_error(flow.exchange(code, None), 400, "invalid_request")


def test_client_authentication(flow: Flow) -> None:
    verifier = secrets.token_urlsafe(48)
    code = flow.authorize(verifier)["code"]
    assert_error(flow.exchange(code, verifier, client_secret="wrong"), 401, "invalid_client")
    assert_error(flow.exchange(code, verifier, client_id="someone-else"), 400, "invalid_client")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    basic = flow.http.post(flow.oauth.token_url, auth=(flow.oauth.client_id, flow.oauth.client_secret), data=form)
    assert_error(basic, 401, "invalid_client")  # this server takes client_secret_post only
    assert flow.exchange(code, verifier).status_code == 200


def test_client_secret_basic_when_configured(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(token_auth_method="client_secret_basic")
    verifier = secrets.token_urlsafe(48)
    code = flow.authorize(verifier)["code"]
    assert_error(flow.exchange(code, verifier), 401, "invalid_client")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    response = flow.http.post(flow.oauth.token_url, auth=(flow.oauth.client_id, flow.oauth.client_secret), data=form)
    assert response.status_code == 200, response.text


def test_unregistered_redirect_uri_is_not_redirected_to(flow: Flow) -> None:
    params = {"response_type": "code", "client_id": flow.oauth.client_id, "redirect_uri": "https://evil.example/cb",
              "code_challenge": create_s256_code_challenge("v" * 43), "code_challenge_method": "S256"}
    response = flow.http.get(flow.oauth.authorize_url, params=params)
    assert response.status_code == 400 and "location" not in response.headers


def test_access_token_expires(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(access_token_lifetime=1)
    token = flow.connect()
    assert token["expires_in"] == 1 and flow.oauth.verify(token["access_token"]) is not None
    time.sleep(1.1)
    assert flow.oauth.verify(token["access_token"]) is None
    fresh = flow.refresh(token["refresh_token"]).json()
    assert flow.oauth.verify(fresh["access_token"]) is not None


def test_expire_all_access_tokens_spares_refresh_tokens(flow: Flow) -> None:
    token = flow.connect()
    flow.oauth.expire_all_access_tokens()
    assert flow.oauth.verify(token["access_token"]) is None
    fresh = flow.refresh(token["refresh_token"]).json()
    assert flow.oauth.verify(fresh["access_token"]) is not None


def test_revocation_endpoint(flow: Flow) -> None:
    oauth = flow.oauth
    token = flow.connect()
    client = {"client_id": oauth.client_id, "client_secret": oauth.client_secret}
    wrong = flow.http.post(oauth.revoke_url, data=client | {"token": token["access_token"], "client_secret": "x"})
    assert_error(wrong, 401, "invalid_client")
    hint = {"token": token["access_token"], "token_type_hint": "access_token"}
    assert flow.http.post(oauth.revoke_url, data=client | hint).status_code == 200
    assert oauth.verify(token["access_token"]) is None
    assert flow.refresh(token["refresh_token"]).status_code == 200  # revoking an access token spares the grant
    other = flow.connect()
    assert flow.http.post(oauth.revoke_url, data=client | {"token": other["refresh_token"]}).status_code == 200
    assert_error(flow.refresh(other["refresh_token"]), 400, "invalid_grant")
    assert oauth.verify(other["access_token"]) is None
    assert oauth.counts["revoke"] == 3


def test_revoke_all_refresh_tokens(flow: Flow) -> None:
    token = flow.connect()
    flow.oauth.revoke_all_refresh_tokens()
    assert_error(flow.refresh(token["refresh_token"]), 400, "invalid_grant")


def test_deny_next_sends_access_denied_once(flow: Flow) -> None:
    flow.oauth.deny_next()
    denied = flow.authorize(secrets.token_urlsafe(48), state="keep-me")
    assert denied["error"] == "access_denied" and "code" not in denied
    assert "code" in flow.authorize(secrets.token_urlsafe(48))
    assert flow.oauth.counts["authorize"] == 2
