"""toolkits/discord end to end: a real Concierge server, a real MCP client, and a stand-in that speaks
Discord's HTTP API v10 (Bot tokens, snowflakes, {message, code} errors, before/after pages, 429 retry_after)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from tests.auth_fixtures import follow_oauth_link, hidden_fields, start_oauth
from tests.live import LiveServer
from tests.mcp_helpers import call
from tests.oauth_server import OAuthServer
from tests.standins.discord import GENERAL, GUILD, VOICE, DiscordStandIn

pytestmark = pytest.mark.anyio
TOKEN = "MTA5MzQ0MDAwMDAwMDAwMDAwOQ.GstandIn.bot-token-for-tests"


@pytest.fixture
def discord() -> Iterator[DiscordStandIn]:
    with DiscordStandIn(TOKEN, user_tokens={"user-oauth-token": "80351110224678912"}) as standin:
        yield standin


@pytest.fixture
def server(tmp_path: Path, discord: DiscordStandIn) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", toolkit_overrides={"discord": {"base_url": discord.base_url}}).start()
    try:
        yield live
    finally:
        live.stop()


async def connected(client: Client) -> None:
    """Connect Discord the way a person does: open the Connect Link, paste the bot token, submit."""
    link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS", {"toolkits": ["discord"]}))["data"]["results"]["discord"]
    assert link["status"] == "initiated" and link["auth_scheme"] == "API_KEY"
    done = submit_token_form(link["redirect_url"])
    assert done.status_code == 200 and "connected" in done.text.lower()


def submit_token_form(url: str) -> httpx.Response:
    with httpx.Client(timeout=30) as browser:
        page = browser.get(url)
        assert "Bot token" in page.text and "discord.com/developers/applications" in page.text
        return browser.post(url, data={**hidden_fields(page.text), "api_key": TOKEN})


async def execute(client: Client, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    batch = await call(client, "COMPOSIO_MULTI_EXECUTE_TOOL",
                       {"tools": [{"tool_slug": slug, "arguments": args} for slug, args in calls]})
    return [r["response"] for r in batch["data"]["results"]]


def test_toolkit_loads_with_a_bot_token_first() -> None:
    toolkit = load_toolkit_folder(BUILTIN_TOOLKITS / "discord")
    assert len(toolkit.tools) >= 8 and toolkit.base_url == "https://discord.com/api/v10"
    bot, oauth = toolkit.auth_schemes
    assert (bot.type, bot.api_key_name, bot.api_key_prefix, bot.label) == ("api_key", "Authorization", "Bot ",
                                                                          "Bot token")
    assert oauth.oauth2 is not None and oauth.oauth2.token_url == "https://discord.com/api/oauth2/token"
    for tool in toolkit.tools.values():
        hints = {"readOnlyHint", "createHint", "updateHint", "destructiveHint"} & set(tool.tags)
        assert len(hints) == 1 and tool.http is not None, tool.slug
        assert ("readOnlyHint" in hints) == (tool.http.method == "GET"), tool.slug


def test_standin_answers_like_discord(discord: DiscordStandIn) -> None:
    api = discord.base_url
    assert httpx.get(f"{api}/users/@me").json() == {"message": "401: Unauthorized", "code": 0}
    bot = {"Authorization": f"Bot {TOKEN}"}
    assert httpx.get(f"{api}/users/@me", headers=bot).json()["bot"] is True
    user = {"Authorization": "Bearer user-oauth-token"}
    assert httpx.get(f"{api}/users/@me", headers=user).json()["username"] == "alice"
    assert httpx.get(f"{api}/channels/{GENERAL}/messages", headers=user).status_code == 401  # bots only
    missing = httpx.get(f"{api}/channels/1/messages", headers=bot)
    assert missing.status_code == 404 and missing.json() == {"message": "Unknown Channel", "code": 10003}
    newest = httpx.get(f"{api}/channels/{GENERAL}/messages", params={"limit": 3}, headers=bot).json()
    assert [m["content"] for m in newest] == ["Message number 7", "Message number 6", "Message number 5"]
    older = httpx.get(f"{api}/channels/{GENERAL}/messages", params={"limit": 3, "before": newest[-1]["id"]},
                      headers=bot).json()
    assert [m["content"] for m in older] == ["Message number 4", "Message number 3", "Message number 2"]
    too_long = httpx.post(f"{api}/channels/{GENERAL}/messages", json={"content": "x" * 2001}, headers=bot)
    assert too_long.status_code == 400 and too_long.json()["code"] == 50035
    assert too_long.json()["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    discord.rate_limit_next(0.5)
    limited = httpx.get(f"{api}/users/@me", headers=bot)
    assert limited.status_code == 429 and limited.json()["retry_after"] == 0.5 and "retry-after" in limited.headers


async def test_connect_with_a_bot_token_and_work(server: LiveServer, discord: DiscordStandIn) -> None:
    session = server.create_session(user_id="alice", toolkits=["discord"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS",
                           {"queries": [{"use_case": "send a message to our discord server channel"}]})
        assert "DISCORD_SEND_MESSAGE" in found["data"]["results"][0]["primary_tool_slugs"]
        await connected(client)

        me, guilds, channels = await execute(client, ("DISCORD_GET_MY_USER", {}),
                                             ("DISCORD_LIST_MY_GUILDS", {}),
                                             ("DISCORD_LIST_GUILD_CHANNELS", {"guild_id": GUILD}))
        assert me["successful"] and me["data"]["bot"] is True
        assert [g["name"] for g in guilds["data"]["items"]] == ["Stand-in Community", "Side Project"]
        assert {c["name"]: c["id"] for c in channels["data"]}["general"] == GENERAL

        (sent,) = await execute(client, ("DISCORD_SEND_MESSAGE", {"channel_id": GENERAL, "content": "Deploy done"}))
        assert sent["successful"], sent
        message_id = sent["data"]["id"]
        reacted, thread, history, wrong = await execute(
            client,
            ("DISCORD_ADD_REACTION", {"channel_id": GENERAL, "message_id": message_id, "emoji_name": "👍"}),
            ("DISCORD_CREATE_THREAD_FROM_MESSAGE", {"channel_id": GENERAL, "message_id": message_id,
                                                    "name": "Deploy follow-up"}),
            ("DISCORD_LIST_MESSAGES", {"channel_id": GENERAL, "limit": 3, "max_results": 5}),
            ("DISCORD_SEND_MESSAGE", {"channel_id": VOICE, "content": "hello?"}))
        assert reacted["successful"] and thread["successful"] and thread["data"]["parent_id"] == GENERAL
        items = history["data"]["items"]
        assert history["successful"] and len(items) == 5 and history["data"]["has_more"] is True
        assert items[0]["content"] == "Deploy done" and history["data"]["next_cursor"] == items[-1]["id"]
        assert not wrong["successful"] and "Cannot send messages in a non-text channel" in wrong["error"]

        (got,) = await execute(client, ("DISCORD_GET_MESSAGE", {"channel_id": GENERAL, "message_id": message_id}))
        assert got["data"]["reactions"] == [{"emoji": {"id": None, "name": "👍"}, "count": 1, "me": True}]
        assert got["data"]["thread"]["name"] == "Deploy follow-up"

    reaction = next(r for r in discord.requests if r.method == "PUT")
    assert reaction.path.endswith("/reactions/%F0%9F%91%8D/@me")  # the emoji percent-encoded in the path
    assert reaction.headers["content-length"] == "0"  # Discord answers 411 to a bodiless PUT without it
    pages = [r.query for r in discord.requests if r.method == "GET" and r.path.endswith(f"{GENERAL}/messages")]
    assert [p.get("limit") for p in pages] == ["3", "2"] and "before" in pages[1]
    assert all(r.headers["authorization"] == f"Bot {TOKEN}" and r.headers["user-agent"].startswith("DiscordBot (")
               for r in discord.requests)


async def test_rate_limit_is_waited_out_and_errors_are_clear(server: LiveServer, discord: DiscordStandIn) -> None:
    session = server.create_session(user_id="alice", toolkits=["discord"])
    async with Client(session["mcp"]["url"]) as client:
        await connected(client)
        discord.rate_limit_next(0.3)
        (channels,) = await execute(client, ("DISCORD_LIST_GUILD_CHANNELS", {"guild_id": GUILD}))
        assert channels["successful"], channels
        assert len([r for r in discord.requests if r.path.endswith(f"/guilds/{GUILD}/channels")]) == 2
        (missing,) = await execute(client, ("DISCORD_GET_CHANNEL", {"channel_id": "1093445810413020000"}))
        assert not missing["successful"] and "Unknown Channel" in missing["error"] and "404" in missing["error"]
        sent_before = len(discord.requests)
        (empty,) = await execute(client, ("DISCORD_SEND_MESSAGE", {"channel_id": GENERAL}))
        assert not empty["successful"] and "needs `content` (text) or `embeds`" in empty["error"]
        assert len(discord.requests) == sent_before  # refused here, nothing sent
        public, private = await execute(
            client, ("DISCORD_CREATE_THREAD", {"channel_id": GENERAL, "name": "Open planning", "type": 11}),
            ("DISCORD_CREATE_THREAD", {"channel_id": GENERAL, "name": "Quiet planning"}))
        assert (public["data"]["type"], private["data"]["type"]) == (11, 12)  # Discord's default is private


async def test_sign_in_with_discord_lists_my_servers(tmp_path: Path) -> None:
    """The OAuth2 scheme (chosen through an auth config, since the bot token comes first): a real
    authorization-code round trip with PKCE and a form-encoded token request, then a /users/@me call."""
    oauth = OAuthServer().start()
    discord = DiscordStandIn(TOKEN, verify=oauth.verify).start()
    server = LiveServer(tmp_path / "data", oauth_apps={"discord": {"client_id": oauth.client_id,
                                                                   "client_secret": oauth.client_secret}},
                        toolkit_overrides={"discord": {"base_url": discord.base_url,
                                                       "authorize_url": oauth.authorize_url,
                                                       "token_url": oauth.token_url}}).start()
    try:
        config = server.api("POST", "/auth_configs", json={"toolkit": "discord", "auth_scheme": "oauth2"})
        assert config.status_code == 201, config.text
        session = server.create_session(user_id="alice", toolkits=["discord"],
                                        auth_configs={"discord": config.json()["id"]})
        async with Client(session["mcp"]["url"]) as client:
            link = (await call(client, "COMPOSIO_MANAGE_CONNECTIONS",
                               {"toolkits": ["discord"]}))["data"]["results"]["discord"]
            assert link["auth_scheme"] == "OAUTH2"
            authorize = start_oauth(link["redirect_url"]).headers["location"]  # the Connect Link sends to Discord
            assert "scope=identify+guilds" in authorize and "code_challenge_method=S256" in authorize
            assert follow_oauth_link(authorize).status_code == 200
            me, guilds, bot_only = await execute(client, ("DISCORD_GET_MY_USER", {}), ("DISCORD_LIST_MY_GUILDS", {}),
                                                 ("DISCORD_LIST_GUILD_CHANNELS", {"guild_id": GUILD}))
            assert me["successful"] and "bot" not in me["data"]
            assert guilds["successful"] and len(guilds["data"]["items"]) == 2
            assert not bot_only["successful"] and "401" in bot_only["error"]  # user tokens cannot act as the bot
    finally:
        server.stop()
        discord.stop()
        oauth.stop()
    assert all(r.headers["authorization"].startswith("Bearer ") for r in discord.requests)
