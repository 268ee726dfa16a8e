"""Issue 14: search says plainly when an app or capability is missing, over the real catalog and a live server."""

from __future__ import annotations

import pytest
from mcp import Client

from server.catalog.evaluation import evaluate
from server.catalog.retrieval_set import load_builtin_set
from server.catalog.search import SearchIndex
from tests.live import LiveServer
from tests.mcp_helpers import call

BUILTIN = load_builtin_set()


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(BUILTIN.toolkits)


@pytest.mark.parametrize(("text", "app"), [
    ("add a card to the trello board for the launch", "trello"),
    ("schedule a zoom meeting with the design team", "zoom"),
    ("refund the last stripe payment", "stripe"),
    ("post a photo on instagram", "instagram"),
    ("upload the video to youtube", "youtube"),
    ("update the lead status in salesforce", "salesforce"),
])
def test_an_app_the_catalog_lacks_is_named(index: SearchIndex, text: str, app: str) -> None:
    result = index.search_use_case(text)
    assert [u.app.lower() for u in result.unavailable if u.app] == [app]
    assert result.nothing_fits and result.offered == [] and app in result.unavailable[0].message.lower()
    assert "not available" in result.unavailable[0].message


@pytest.mark.parametrize("text", ["play some jazz music", "what's the weather in paris tomorrow",
                                  "book me a flight to lisbon next friday"])
def test_a_capability_nothing_covers_is_said(index: SearchIndex, text: str) -> None:
    result = index.search_use_case(text)
    assert result.nothing_fits and result.unavailable[0].app is None


@pytest.mark.parametrize(("text", "app", "possible"), [
    ("post the release notes in #general on slack and tweet them", "Twitter", "SLACK_SEND_MESSAGE"),
    ("create a github issue for the outage and page the on-call in pagerduty", "PagerDuty", "GITHUB_CREATE_ISSUE"),
])
def test_a_step_naming_a_missing_app_is_cut_off_without_a_step_word(
        index: SearchIndex, text: str, app: str, possible: str) -> None:
    result = index.search_use_case(text)
    assert [u.app for u in result.unavailable] == [app] and not result.nothing_fits
    assert possible in [h.slug for h in result.offered[:3]]


def test_a_catalog_toolkit_is_never_reported_missing() -> None:
    """A catalog that has the app (by toolkit name) is not told it lacks it, even if it is a well-known app."""
    from dataclasses import replace

    first = BUILTIN.toolkits[0]
    with_zoom = replace(first, aliases=(*first.aliases, "zoom"))
    result = SearchIndex([with_zoom, *BUILTIN.toolkits[1:]]).search_use_case("schedule a zoom meeting with the team")
    assert result.unavailable == []
    assert SearchIndex(BUILTIN.toolkits).search_use_case("schedule a zoom meeting with the team").unavailable


def test_mixed_request_keeps_the_possible_step(index: SearchIndex) -> None:
    result = index.search_use_case("list open github issues and add each as a trello card")
    assert [u.app for u in result.unavailable] == ["Trello"]
    assert "GITHUB_LIST_ISSUES" in [h.slug for h in result.offered[:3]]


@pytest.mark.parametrize("text", ["send a slack message to #general", "add 17 and 25", "email Bob the report",
                                  "assign jira ticket OPS-7 to kim", "what time is it in Osaka",
                                  "file a linear ticket: login button broken on safari",
                                  "create a google calendar event for the launch party on june 3",
                                  "square root of 1764", "character count for this tweet",
                                  "get the details of the kubernetes/kubernetes repo", "notify the team on slack",
                                  "email Bob the figma link"])
def test_catalog_apps_and_values_are_not_mistaken_for_missing_apps(index: SearchIndex, text: str) -> None:
    result = index.search_use_case(text)
    assert result.unavailable == [] and not result.nothing_fits and result.offered == result.merged


def test_builtin_eval_reports_negatives_and_per_toolkit_hits() -> None:
    report = evaluate(BUILTIN)
    assert report.negatives is not None and report.negatives.queries >= 80
    assert set(report.hit_at_5_by_toolkit) == {tk.slug for tk in BUILTIN.toolkits}
    assert report.hit_at_5_with_absence >= report.hit_at_5 - 1.0
    # Floors at today's measured values, so a regression fails (docs/search.md has the numbers).
    assert report.hit_at_5_with_absence >= 95.0 and report.negatives.said_unavailable >= 90.0
    assert report.negatives.app_named >= 90.0
    assert min(report.hit_at_5_by_toolkit.values()) >= 90.0


def test_every_toolkit_has_five_everyday_use_cases() -> None:
    toolkit_of = {slug: tk.slug for tk in BUILTIN.toolkits for slug in tk.tools}
    counts: dict[str, int] = {}
    for q in BUILTIN.queries:
        for kit in {toolkit_of[s] for s in q.relevant}:
            counts[kit] = counts.get(kit, 0) + 1
    assert {tk.slug for tk in BUILTIN.toolkits} == set(counts)
    assert min(counts.values()) >= 5, counts


@pytest.mark.anyio
async def test_search_tools_says_missing_and_not_enabled(server: LiveServer) -> None:
    session = server.create_session(toolkits=["math", "datetime"])
    async with Client(session["mcp"]["url"]) as client:
        found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [
            {"use_case": "move my trello card to done"},
            {"use_case": "send a slack message to #general"},
            {"use_case": "add 17 and 25"},
        ]})
    trello, slack, adding = found["data"]["results"]
    assert trello["primary_tool_slugs"] == [] and "trello is not available" in trello["error"].lower()
    assert trello["unavailable"][0]["app"] == "Trello" and trello["recommended_plan_steps"] == []
    assert slack["unavailable"][0]["toolkit"] == "slack"
    assert "exists but is not enabled in this session" in slack["error"]
    assert adding["error"] is None and adding["unavailable"] == []
    assert adding["primary_tool_slugs"][0] == "MATH_EVALUATE"
