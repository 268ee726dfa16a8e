"""Connecting without an OAuth app (the toolkit's token form instead), truthful auth configs, and the
OAuth additions of toolkit format v2: after_connect lookups (Atlassian's cloud id), `{tenant}`-style URL
parameters from `[oauth_apps.<slug>]`, JSON token requests and extra token parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.auth import oauth2
from server.catalog.toolkit_file import OAuth2Fields
from server.errors import AuthFlowError
from tests.auth_fixtures import follow_oauth_link, start_oauth, submit_key_form
from tests.github_standin import GitHubStandIn, fixed_tokens
from tests.live import LiveServer, ThreadedServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer

pytestmark = pytest.mark.anyio
HELP = "Create one at https://example.test/settings/tokens (scope: read)."


class SiteApi(ThreadedServer):
    """An Atlassian-shaped API: accessible-resources names the cloud id, the API lives under it; tokens
    are checked against the OAuth server, personal tokens against a fixed value."""

    def __init__(self, oauth: OAuthServer) -> None:
        super().__init__()
        self.oauth = oauth

    def _who(self, request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token == "pat-123":
            return "pat-user"
        info = self.oauth.verify(token)
        return info["user"] if info else None

    async def resources(self, request: Request) -> JSONResponse:
        if self._who(request) is None:
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        return JSONResponse([{"id": "cloud-7f3a", "url": "https://acme.atlassian.net", "name": "acme"}])

    async def myself(self, request: Request) -> JSONResponse:
        who = self._who(request)
        if who is None:
            return JSONResponse({"errorMessages": ["You are not authenticated."]}, status_code=401)
        return JSONResponse({"user": who, "cloud": request.path_params.get("cloud", "site")})

    def start(self) -> SiteApi:
        self.serve(lambda: Starlette(routes=[
            Route("/oauth/token/accessible-resources", self.resources),
            Route("/ex/jira/{cloud}/rest/api/3/myself", self.myself), Route("/site/rest/api/3/myself", self.myself)]))
        return self


def write_kit(root: Path, oauth: OAuthServer, api: str) -> Path:
    (root / "atlas").mkdir(parents=True)
    (root / "atlas" / "toolkit.yaml").write_text(f"""
slug: atlas
name: Atlas
description: An Atlassian-shaped test provider (cloud id after connect, or a personal token).
auth_schemes:
  - type: oauth2
    oauth2:
      authorize_url: "{oauth.authorize_url}?tenant_hint={{tenant}}"
      token_url: "{oauth.token_url}?tenant={{tenant}}"
      default_scopes: [read]
      url_params: {{tenant: common}}
      authorize_params: {{audience: api.atlassian.com, prompt: consent}}
    after_connect:
      url: {api}/oauth/token/accessible-resources
      field: cloud_id
      path: 0.id
    base_url: "{api}/ex/jira/{{cloud_id}}/rest/api/3"
  - type: bearer_token
    label: Personal access token
    help: "{HELP}"
    base_url: {api}/site/rest/api/3
tools:
  - slug: ATLAS_MYSELF
    name: Who am I
    description: The connected Atlas user and the site the call went to.
    tags: [readOnlyHint]
    input_schema: {{type: object, properties: {{}}}}
    http: {{method: GET, path: /myself}}
""")
    return root


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    oauth = OAuthServer().start()
    api = SiteApi(oauth).start()
    kits = write_kit(tmp_path / "kits", oauth, api.url)
    yield {"oauth": oauth, "api": api, "kits": kits, "tmp": tmp_path}
    api.stop()
    oauth.stop()


async def test_without_an_oauth_app_the_token_form_is_offered_and_the_tool_runs(world: dict[str, Any]) -> None:
    server = LiveServer(world["tmp"] / "data", toolkit_paths=[world["kits"]], builtin_toolkits=False).start()
    try:
        session = server.create_session(toolkits=["atlas"])
        async with Client(session["mcp"]["url"]) as client:
            early = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                               {"tools": [{"tool_slug": "ATLAS_MYSELF", "arguments": {}}]})
            needed = early["data"]["results"][0]["response"]
            assert needed["error_details"]["code"] == "connection_required"
            assert "enter their Atlas Personal access token (Create one at https://example.test/settings/tokens " \
                   "(scope: read)), then retry: http" in needed["error"]
            assert needed["error_details"]["details"]["credential_help"] == HELP
            managed = await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["atlas"]})
            entry = managed["data"]["results"]["atlas"]
            assert entry["status"] == "initiated" and entry["auth_scheme"] == "BEARER_TOKEN"
            assert entry["redirect_url"] == needed["error_details"]["details"]["redirect_url"]  # the same pending link
            assert entry["credential_help"] == HELP and HELP.rstrip(".") in entry["instruction"]
            assert "Personal access token" in entry["instruction"] and entry["redirect_url"] in entry["instruction"]
            page = httpx.get(entry["redirect_url"], timeout=30)
            assert page.status_code == 200 and "Personal access token" in page.text
            assert "Where do I get this?" in page.text
            assert '<a href="https://example.test/settings/tokens"' in page.text
            done = submit_key_form(entry["redirect_url"], token="pat-123")
            assert done.status_code == 200 and "connected" in done.text.lower()
            ran = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "ATLAS_MYSELF", "arguments": {}}]})
        result = ran["data"]["results"][0]["response"]
        assert result["successful"] and result["data"] == {"user": "pat-user", "cloud": "site"}
        configs = server.api("GET", "/auth_configs", params={"toolkit": "atlas"}).json()["items"]
        assert [(c["auth_scheme"], c["is_managed"], c["is_default"], c["app_source"], c["has_app_credentials"])
                for c in configs] == [("BEARER_TOKEN", False, True, None, False)]
    finally:
        server.stop()


async def test_with_an_oauth_app_connect_fills_the_tenant_and_looks_up_the_cloud_id(world: dict[str, Any]) -> None:
    oauth = world["oauth"]
    server = LiveServer(world["tmp"] / "data", toolkit_paths=[world["kits"]], builtin_toolkits=False, oauth_apps={
        "atlas": {"client_id": oauth.client_id, "client_secret": oauth.client_secret, "tenant": "contoso"}}).start()
    try:
        session = server.create_session(toolkits=["atlas"])
        async with Client(session["mcp"]["url"]) as client:
            entry = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["atlas"]}))["data"]["results"][
                "atlas"]
            assert entry["auth_scheme"] == "OAUTH2" and entry["credential_help"] is None
            first = start_oauth(entry["redirect_url"])
            location = first.headers["location"]
            assert "tenant_hint=contoso" in location and "audience=api.atlassian.com" in location
            assert "code_challenge_method=S256" in location
            page = follow_oauth_link(location)  # on through the provider and back to the callback
            assert page.status_code == 200 and "connected" in page.text.lower(), page.text
            ran = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "ATLAS_MYSELF", "arguments": {}}]})
        result = ran["data"]["results"][0]["response"]
        assert result["successful"] and result["data"] == {"user": "octocat", "cloud": "cloud-7f3a"}
        configs = server.api("GET", "/auth_configs", params={"toolkit": "atlas"}).json()["items"]
        assert [(c["auth_scheme"], c["is_managed"], c["app_source"]) for c in configs] == [
            ("OAUTH2", False, "oauth_apps_config")]
    finally:
        server.stop()


async def test_a_failed_after_connect_lookup_leaves_the_account_failed(world: dict[str, Any]) -> None:
    oauth = world["oauth"]
    text = (world["kits"] / "atlas" / "toolkit.yaml").read_text()
    (world["kits"] / "atlas" / "toolkit.yaml").write_text(text.replace("path: 0.id", "path: 3.id"))
    server = LiveServer(world["tmp"] / "data", toolkit_paths=[world["kits"]], builtin_toolkits=False, oauth_apps={
        "atlas": {"client_id": oauth.client_id, "client_secret": oauth.client_secret}}).start()
    try:
        session = server.create_session(toolkits=["atlas"])
        async with Client(session["mcp"]["url"]) as client:
            entry = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["atlas"]}))["data"]["results"][
                "atlas"]
        page = follow_oauth_link(entry["redirect_url"])
        assert page.status_code == 400 and "has no 3.id for cloud_id" in page.text
        account = server.api("GET", f"/connected_accounts/{entry['connected_account_id']}").json()
        assert account["status"] == "FAILED"
    finally:
        server.stop()


class JsonTokenEndpoint(ThreadedServer):
    """A token endpoint that, like Notion's, accepts only a JSON body with HTTP Basic client auth."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    async def token(self, request: Request) -> JSONResponse:
        if request.headers.get("content-type") != "application/json":
            return JSONResponse({"error": "invalid_request", "error_description": "body must be JSON"}, 400)
        body = await request.json()
        self.seen.append({"body": body, "authorization": request.headers.get("authorization", "")})
        return JSONResponse({"access_token": "secret_tok", "token_type": "bearer", "workspace_id": "w1"})

    def start(self) -> JsonTokenEndpoint:
        self.serve(lambda: Starlette(routes=[Route("/v1/oauth/token", self.token, methods=["POST"])]))
        return self


async def test_token_request_format_json_and_extra_token_params_reach_the_token_endpoint() -> None:
    endpoint = JsonTokenEndpoint().start()
    try:
        fields = OAuth2Fields(authorize_url=endpoint.url + "/v1/oauth/authorize",
                              token_url=endpoint.url + "/v1/oauth/token", token_request_format="json",
                              token_endpoint_auth_method="client_secret_basic", pkce=False,
                              extra_token_params={"owner": "user"})
        app = oauth2.OAuthApp("cid", "csecret", fields, (), {})
        tokens = await oauth2.exchange_code(app, "http://127.0.0.1/cb", "code-1", "v" * 43)
        assert tokens.access_token == "secret_tok"
        seen = endpoint.seen[-1]
        assert seen["body"] == {"grant_type": "authorization_code", "code": "code-1",
                                "redirect_uri": "http://127.0.0.1/cb", "owner": "user"}
        assert seen["authorization"].startswith("Basic ")
        form = fields.model_copy(update={"token_request_format": "form"})
        with pytest.raises(AuthFlowError, match="invalid_request"):
            await oauth2.exchange_code(oauth2.OAuthApp("cid", "csecret", form, (), {}), "http://127.0.0.1/cb",
                                       "code-2", "v" * 43)
    finally:
        endpoint.stop()


def test_url_placeholders_need_a_default() -> None:
    with pytest.raises(ValueError, match=re.escape("placeholder {tenant} needs a default in oauth2.url_params")):
        OAuth2Fields(authorize_url="https://login.example/{tenant}/authorize", token_url="https://t.example/token")


async def test_github_connects_with_a_personal_access_token_when_no_oauth_app_is_configured(tmp_path: Path) -> None:
    standin = GitHubStandIn(fixed_tokens({"github_pat_11ABC": "octocat"})).start()
    server = LiveServer(tmp_path / "data", toolkit_overrides={"github": {"base_url": standin.base_url}}).start()
    try:
        session = server.create_session(user_id="pat_user", toolkits=["github"])
        async with Client(session["mcp"]["url"]) as client:
            entry = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["github"]}))["data"]["results"][
                "github"]
            assert entry["status"] == "initiated" and entry["auth_scheme"] == "BEARER_TOKEN", entry
            assert "no OAuth app" not in str(entry)
            done = submit_key_form(entry["redirect_url"], token="github_pat_11ABC")
            assert done.status_code == 200 and "connected" in done.text.lower()
            ran = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                             {"tools": [{"tool_slug": "GITHUB_GET_AUTHENTICATED_USER", "arguments": {}}]})
        result = ran["data"]["results"][0]["response"]
        assert result["successful"] and result["data"]["login"] == "octocat"
        assert standin.requests[-1].headers["authorization"] == "Bearer github_pat_11ABC"
    finally:
        server.stop()
        standin.stop()
