"""`concierge toolkits import-openapi` on providers' real descriptions: the folders it writes load,
are found by COMPOSIO_SEARCH_TOOLS through a real server, and pass the spec check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client

from server.catalog import openapi_import, spec_check
from server.catalog.loader import load_toolkit_folder, load_toolkits
from server.errors import InvalidInput
from tests.live import LiveServer
from tests.mcp_helpers import call

SPECS = spec_check.specs_dir()
REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", "toolkits", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported")
    twilio = cli("import-openapi", str(SPECS / "twilio" / "twilio_api_v2010.json"), "--slug", "twilio",
                 "--include", "Api20100401Message", "--include", "/2010-04-01/Accounts/{AccountSid}/Calls.json",
                 "--out", str(out), cwd=out)
    assert twilio.returncode == 0, twilio.stderr
    assert twilio.stdout.startswith(f"wrote {out / 'twilio' / 'toolkit.yaml'}: 7 tools")
    asana = openapi_import.import_spec(SPECS / "asana" / "asana_oas.yaml", "asana", ["Tasks"], out)
    assert asana.folder == out / "asana" and asana.tools >= 20
    return out


def test_imported_toolkits_load_with_auth_hints_and_bounded_slugs(imported: Path) -> None:
    twilio = load_toolkit_folder(imported / "twilio")
    asana = load_toolkit_folder(imported / "asana")
    assert [s.type for s in twilio.auth_schemes] == ["basic"] and twilio.base_url == "https://api.twilio.com"
    assert [s.type for s in asana.auth_schemes] == ["oauth2", "bearer_token"]
    assert asana.base_url == "https://app.asana.com/api/1.0" and len(asana.tools) >= 20
    send = twilio.tools["TWILIO_CREATE_MESSAGE"]
    assert send.http is not None and send.http.method == "POST" and send.http.body_format == "form"
    assert send.http.path == "/2010-04-01/Accounts/{AccountSid}/Messages.json"
    assert {"To", "From", "Body"} <= set(send.http.body or []) and "To" in send.input_schema["required"]
    assert send.input_schema["properties"]["AccountSid"]["pattern"] == "^AC[0-9a-fA-F]{32}$"
    listing = twilio.tools["TWILIO_LIST_MESSAGE"]
    assert {"readOnlyHint", "idempotentHint"} <= set(listing.tags) and "DateSent<" in listing.http.query  # type: ignore[union-attr]
    assert "destructiveHint" in twilio.tools["TWILIO_DELETE_MESSAGE"].tags
    for toolkit in (twilio, asana):
        for tool in toolkit.tools.values():
            assert len(tool.slug) <= 64 and tool.slug.startswith(toolkit.slug.upper() + "_")
            assert 10 <= len(tool.description) <= 700 and "<" not in tool.description.replace("DateSent<", "")
            assert ("readOnlyHint" in tool.tags) == (tool.http is not None and tool.http.method == "GET")
    task = asana.tools["ASANA_CREATE_TASK"]
    assert task.http is not None and task.http.body == ["data"] and "$ref" not in str(task.input_schema)


def test_imported_toolkits_pass_the_spec_check(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = spec_check.check_catalog(load_toolkits([imported]), SPECS)
    with capsys.disabled():
        print()
        for report in reports:
            print("  imported:", report.line())
    assert {r.toolkit for r in reports} == {"twilio", "asana"}
    for report in reports:
        assert report.mismatches == [] and report.coverage == 1.0, report.line()


@pytest.mark.anyio
async def test_imported_tools_are_found_by_search_through_a_real_server(imported: Path, tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data", toolkit_paths=[imported]).start()
    try:
        session = server.create_session(toolkits=["twilio", "asana", "github"])
        async with Client(session["mcp"]["url"]) as client:
            found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [
                {"use_case": "send a text message to a phone number with Twilio"},
                {"use_case": "create a new task in Asana"}]})
        assert found["successful"], found
        results = found["data"]["results"]
        slugs = [[t["tool_slug"] if isinstance(t, dict) else t for t in r["primary_tool_slugs"]] for r in results]
        assert "TWILIO_CREATE_MESSAGE" in slugs[0][:3], slugs[0]
        assert "ASANA_CREATE_TASK" in slugs[1][:3], slugs[1]
    finally:
        server.stop()


def test_swagger_and_discovery_documents_import_too(tmp_path: Path) -> None:
    slack = openapi_import.import_spec(SPECS / "slack" / "slack_web_openapi_v2.json", "slackapi", ["chat"], tmp_path)
    kit = load_toolkit_folder(slack.folder)
    post = kit.tools["SLACKAPI_CHAT_POST_MESSAGE"]
    assert post.http is not None and post.http.body_format == "form" and "channel" in post.input_schema["required"]
    assert kit.base_url == "https://slack.com/api"
    gmail = openapi_import.import_spec(SPECS / "google" / "gmail.v1.json", "gmailapi",
                                       ["/gmail/v1/users/{userId}/messages"], tmp_path)
    kit = load_toolkit_folder(gmail.folder)
    assert kit.base_url == "https://gmail.googleapis.com" and kit.auth_schemes[0].oauth2 is not None
    listing = kit.tools["GMAILAPI_LIST_MESSAGES"]
    assert listing.http is not None and listing.http.path == "/gmail/v1/users/{userId}/messages"
    assert {"q", "pageToken", "maxResults"} <= set(listing.http.query)
    insert = kit.tools["GMAILAPI_INSERT_MESSAGES"]
    payload = insert.input_schema["properties"]["payload"]  # MessagePart contains MessagePart: the cycle is cut
    assert "recursive: MessagePart" in yaml.safe_dump(payload) or payload.get("type") == "object"
    reports = spec_check.check_catalog(load_toolkits([tmp_path]), SPECS)
    assert all(r.mismatches == [] for r in reports) and len(reports) == 2


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("Lists the [messages](https://x.test/m) in the <b>user's</b> mailbox. More text here. And more.", 600,
     "Lists the messages in the user's mailbox. More text here. And more."),
    ("One. Two. Three. Four.", 600, "One. Two. Three."),
    ("word " * 300, 100, ("word " * 19).strip() + "…"),
])
def test_descriptions_are_trimmed_for_agents(text: str, limit: int, expected: str) -> None:
    assert openapi_import.trim(text, limit) == expected


def test_slugs_stay_unique_and_within_64_characters() -> None:
    taken: set[str] = set()
    long = "VERY_" * 20 + "LONG"
    first = openapi_import.unique_slug("ACME", long, taken)
    second = openapi_import.unique_slug("ACME", long, taken)
    assert len(first) <= 64 and len(second) <= 64 and first != second and second.endswith("_2")


@pytest.mark.parametrize(("args", "message"), [
    (["--slug", "Bad-Slug"], "use 2-64 lower-case letters"),
    (["--slug", "figmax", "--include", "NoSuchTag"], "no operation of openapi.yaml matches --include"),
])
def test_bad_input_is_refused_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    done = cli("import-openapi", str(SPECS / "figma" / "openapi.yaml"), *args, "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode != 0 and message in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    first: Any = openapi_import.import_spec(SPECS / "figma" / "openapi.yaml", "figma", ["Comments"], tmp_path)
    before = (first.folder / "toolkit.yaml").read_text()
    with pytest.raises(InvalidInput, match="already exists"):
        openapi_import.import_spec(SPECS / "figma" / "openapi.yaml", "figma", ["Files"], tmp_path)
    assert (first.folder / "toolkit.yaml").read_text() == before
