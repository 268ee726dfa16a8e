"""Issue 10, must-show 5: the reference's own session example runs as written against the server
(`session.update(toolkits=["gmail", "slack"], auth_configs=..., connected_accounts=...)`), through
the Python client, with ids that exist on this server."""

from __future__ import annotations

from pathlib import Path

from server.client import Concierge
from tests.auth_fixtures import submit_key_form
from tests.live import API_KEY, LiveServer


def test_update_to_gmail_and_slack_with_an_auth_config_and_a_pinned_account(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data").start()
    try:
        composio = Concierge(base_url=server.url, api_key=API_KEY)
        session = composio.create(user_id="user_123", toolkits=["github"])
        config = server.api("POST", "/auth_configs", json={
            "toolkit": "gmail", "credentials": {"client_id": "app.apps.googleusercontent.com",
                                                "client_secret": "gmail_app_secret_0123"}})
        assert config.status_code == 201, config.text
        ac_new_config = config.json()["id"]
        # the user connected a work Slack earlier (a bot token typed into the Connect page)
        link = server.api("POST", "/connected_accounts/link", json={"user_id": "user_123", "toolkit": "slack",
                                                                     "alias": "work"})
        assert link.status_code == 201, link.text
        assert submit_key_form(link.json()["redirect_url"], token="xoxb-0123456789-work").status_code == 200
        ca_work_slack = link.json()["id"]
        assert server.api("GET", f"/connected_accounts/{ca_work_slack}").json()["status"] == "ACTIVE"

        session.update(  # as the reference writes it
            toolkits=["gmail", "slack"],
            auth_configs={"gmail": ac_new_config},
            connected_accounts={"slack": [ca_work_slack]},
        )

        again = composio.use(session.id)
        assert again.config_version == 2
        assert again.config["toolkits"] == {"enable": ["gmail", "slack"]}
        assert again.config["auth_configs"] == {"gmail": ac_new_config}
        assert again.config["connected_accounts"] == {"slack": [ca_work_slack]}
        allowed = server.api("GET", f"/sessions/{session.id}").json()["allowed_tool_count"]
        catalog = server.api("GET", "/toolkits").json()["items"]
        assert allowed == sum(t["tool_count"] for t in catalog if t["slug"] in ("gmail", "slack"))
    finally:
        server.stop()
