"""The search index on a small catalog built through the real toolkit-file models and loader."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest

import server.catalog.search as search_module
from server.catalog.loader import build_toolkit
from server.catalog.model import Toolkit
from server.catalog.search import SearchIndex, split_intents
from server.catalog.terms import slug_words, words
from server.catalog.toolkit_file import ToolkitFile
from server.errors import ConfigError


def _kit(slug: str, aliases: list[str], tools: list[tuple[str, str, dict[str, str]]]) -> Toolkit:
    spec = ToolkitFile(
        slug=slug, name=slug.title(), description=f"The {slug} app.", aliases=aliases,
        base_url="http://127.0.0.1:9",
        tools=[{"slug": tool_slug, "name": tool_slug.split("_", 1)[1].replace("_", " ").title(),
                "description": description,
                "input_schema": {"type": "object",
                                 "properties": {k: {"type": "string", "description": v} for k, v in params.items()}},
                "http": {"method": "POST", "path": "/x"}}
               for tool_slug, description, params in tools],
    )
    return build_toolkit(spec)


CATALOG = [
    _kit("github", ["gh"], [
        ("GITHUB_CREATE_ISSUE", "Create a new issue in a repository.", {"title": "Issue title"}),
        ("GITHUB_LIST_ISSUES", "List the open issues of a repository.", {"repo": "owner/name"}),
        ("GITHUB_CREATE_PULL_REQUEST", "Open a pull request from a branch.", {"head": "Branch to merge"}),
    ]),
    _kit("gitlab", ["gl"], [
        ("GITLAB_CREATE_ISSUE", "Create a new issue in a repository.", {"title": "Issue title"}),
    ]),
    _kit("gmail", ["google mail"], [
        ("GMAIL_SEARCH_EMAILS", "Find emails in the mailbox that match a query, e.g. an invoice.",
         {"query": "Search words"}),
        ("GMAIL_SEND_EMAIL", "Send an email to a recipient.", {"to": "Recipient address"}),
    ]),
    _kit("slack", [], [
        ("SLACK_POST_MESSAGE", "Post a message to a Slack channel such as #general.", {"channel": "Channel name"}),
        ("SLACK_LIST_CHANNELS", "List the channels of a workspace.", {}),
    ]),
]
ALL_SLUGS = {slug for tk in CATALOG for slug in tk.tools}


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(CATALOG)


def _slugs(hits: Sequence[search_module.SearchHit]) -> list[str]:
    return [h.slug for h in hits]


def test_slug_words_split_identifiers() -> None:
    assert slug_words("GITHUB_CREATE_ISSUE") == "github create issue"
    assert words("getHTTPResponse for_each") == ["get", "http", "response", "for", "each"]


def test_obvious_requests_rank_the_right_tool_first(index: SearchIndex) -> None:
    assert _slugs(index.search("create an issue on github"))[0] == "GITHUB_CREATE_ISSUE"
    assert _slugs(index.search("open a pull request for my branch"))[0] == "GITHUB_CREATE_PULL_REQUEST"
    assert _slugs(index.search("send an email to bob"))[0] == "GMAIL_SEND_EMAIL"
    assert _slugs(index.search("which channels does our slack have"))[0] == "SLACK_LIST_CHANNELS"


def test_hits_explain_themselves(index: SearchIndex) -> None:
    hit = index.search("create an issue on github")[0]
    assert hit.score > 0
    assert "issue" in hit.reason and "\n" not in hit.reason


def test_nothing_matching_gives_no_hits(index: SearchIndex) -> None:
    assert index.search("zzz qqq") == []
    assert index.search("") == []


def test_intents_split_at_steps_and_actions() -> None:
    assert split_intents("find the invoice email and post its total to #finance") == [
        "find the invoice email", "post its total to #finance"]
    assert split_intents("Check the weather in Rome. Then, book a hotel there.") == [
        "Check the weather in Rome", "book a hotel there"]
    assert split_intents("search for cats and dogs") == ["search for cats and dogs"]
    assert split_intents("hello") == ["hello"]


def test_each_intent_gets_its_tools_and_the_merge_keeps_both(index: SearchIndex) -> None:
    result = index.search_use_case("find the invoice email and post its total to #finance", limit=4)
    assert [i.query for i in result.intents] == ["find the invoice email", "post its total to #finance"]
    assert result.intents[0].hits[0].slug == "GMAIL_SEARCH_EMAILS"
    assert result.intents[1].hits[0].slug == "SLACK_POST_MESSAGE"
    assert set(_slugs(result.merged[:2])) == {"GMAIL_SEARCH_EMAILS", "SLACK_POST_MESSAGE"}
    assert len(result.merged) <= 4


def test_single_intent_use_case_matches_search(index: SearchIndex) -> None:
    result = index.search_use_case("list open issues", limit=3)
    assert len(result.intents) == 1
    assert result.merged == index.search("list open issues", limit=3)


@pytest.mark.parametrize("make", [set, frozenset])
def test_allowed_filter_and_limit_are_honoured(index: SearchIndex, make: type) -> None:
    allowed = make({"GITLAB_CREATE_ISSUE", "SLACK_POST_MESSAGE", "NOT_A_TOOL"})
    hits = index.search("create an issue on github", allowed=allowed)
    assert _slugs(hits) == ["GITLAB_CREATE_ISSUE"]
    merged = index.search_use_case("create an issue and post a message", allowed=allowed).merged
    assert set(_slugs(merged)) <= allowed
    assert index.search("issue", allowed=make()) == []
    assert len(index.search("issue repository", limit=1)) == 1
    assert index.search("issue", limit=0) == []


def test_named_toolkit_or_alias_is_boosted(index: SearchIndex) -> None:
    assert _slugs(index.search("create a new issue in gl"))[0] == "GITLAB_CREATE_ISSUE"
    assert _slugs(index.search("create a new issue in gh"))[0] == "GITHUB_CREATE_ISSUE"
    assert _slugs(index.search("create a new issue in gitlab"))[0] == "GITLAB_CREATE_ISSUE"


def test_caller_toolkit_boost_breaks_ties(index: SearchIndex) -> None:
    plain = index.search("create a new issue", limit=2)
    assert {h.slug for h in plain} == {"GITHUB_CREATE_ISSUE", "GITLAB_CREATE_ISSUE"}
    boosted = index.search("create a new issue", limit=2, toolkit_boost={"gitlab": 1.5})
    assert boosted[0].slug == "GITLAB_CREATE_ISSUE"


def test_semantic_required_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "load_encoder", lambda: None)
    with pytest.raises(ConfigError, match="semantic"):
        SearchIndex(CATALOG, semantic=True)
    assert not SearchIndex(CATALOG, semantic=None).semantic


class _HashingEncoder:
    """Stands in for the embedding model: hashed bag-of-words unit vectors, so the fused path runs."""

    dimension = 64

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    encode_corpus = encode


def test_fused_ranking_with_an_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "load_encoder", _HashingEncoder)
    fused = SearchIndex(CATALOG, semantic=True)
    assert fused.semantic
    assert fused.search("create an issue on github")[0].slug == "GITHUB_CREATE_ISSUE"
    few = frozenset({"GMAIL_SEND_EMAIL"})  # below the subset-first threshold: the other product path
    assert _slugs(fused.search("send an email", allowed=few)) == ["GMAIL_SEND_EMAIL"]
    many = frozenset(ALL_SLUGS - {"GITHUB_CREATE_ISSUE"})
    hits = fused.search_use_case("create an issue and send an email", allowed=many, limit=3).merged
    assert len(hits) == 3 and set(_slugs(hits)) <= many


def test_copies_of_one_toolkit_do_not_fill_the_top() -> None:
    copies = [_kit(f"github{n}", [], [
        (f"GITHUB{n}_CREATE_ISSUE", "Create a new issue in a repository.", {"title": "Issue title"}),
        (f"GITHUB{n}_LIST_ISSUES", "List the open issues of a repository.", {"repo": "owner/name"}),
    ]) for n in range(2, 6)]
    index = SearchIndex([*CATALOG, *copies])
    top = _slugs(index.search("create an issue in my repository", limit=4))
    actions = [slug.split("_", 1)[1] for slug in top]
    assert actions[:2] == ["CREATE_ISSUE", "LIST_ISSUES"] or len(set(actions[:3])) >= 2, top
    assert len(top) == 4 and top[0].endswith("CREATE_ISSUE")
    # every copy is still reachable further down
    assert len(_slugs(index.search("create an issue in my repository", limit=20))) >= 6


def test_same_named_tools_with_other_parameters_are_not_copies() -> None:
    """Two APIs' "Get quote" with one generic description: the parameters tell them apart, so a query
    naming one's parameter finds that one first and the other next, by score (copies would go last)."""
    quotes = ((1, {"symbol": "stock ticker such as AMZN"}), (2, {"pair": "currency pair such as EURUSD"}))
    kits = [_kit(f"markets{n}", [], [(f"MARKETS{n}_GET_QUOTE", "Get quote.", params)]) for n, params in quotes]
    news = _kit("news", [], [("NEWS_GET_HEADLINES", "Get headlines about a currency pair.", {"pair": "pair"})])
    index = SearchIndex([*CATALOG, *kits, news])
    assert _slugs(index.search("get quote for symbol AMZN", limit=3)) == [
        "MARKETS1_GET_QUOTE", "MARKETS2_GET_QUOTE", "NEWS_GET_HEADLINES"]


def test_a_fragment_of_values_is_context_not_a_step() -> None:
    """"44.35 N, 110.5 W" would rank the tools whose examples hold those numbers as a step of its own."""
    assert split_intents("for coordinates 44.35 N, 110.5 W, get the elevation") == [
        "for coordinates 44.35 N, 110.5 W, get the elevation"]
    assert split_intents("create issue 42 then close issue 43") == ["create issue 42", "close issue 43"]


def test_a_list_of_actions_without_step_words_splits() -> None:
    assert split_intents("check my calendar for tomorrow, email Bob the agenda, post it in #general") == [
        "check my calendar for tomorrow", "email Bob the agenda", "post it in #general"]
    assert split_intents("compare Google, Bing and DuckDuckGo search engines") == [
        "compare Google, Bing and DuckDuckGo search engines"]
