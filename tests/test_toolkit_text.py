"""The text toolkit: regex with a time guard, diff, stats, case, slugs, word counts, replace."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from server.catalog.model import Toolkit
from server.errors import ToolError
from server.values import ToolContext
from tests.toolkit_fixtures import handler_fixtures

EVIL_PATTERN = r"^(a+)+$"
EVIL_TEXT = "a" * 64 + "!"  # 2**64 ways to split the a's before failing: never finishes


toolkit, ctx, call = handler_fixtures("text", {"regex_timeout": 0.5})


def test_regex_extract_emails_unique(call: Any) -> None:
    out = call("TEXT_REGEX_EXTRACT", text="Mail ana@example.com, bob@example.org and ANA again: ana@example.com",
               pattern=r"[\w.+-]+@[\w-]+\.\w+", unique=True)
    assert out["values"] == ["ana@example.com", "bob@example.org"]
    assert out["count"] == 3
    assert out["matches"][1] == {"match": "bob@example.org", "start": 22, "end": 37, "groups": [], "named": {}}


def test_regex_extract_groups_flags_and_limit(call: Any) -> None:
    text = "order ORD-1001 ok\norder ord-1002 late\norder ORD-1003 ok"
    named = call("TEXT_REGEX_EXTRACT", text=text, pattern=r"ORD-(?P<id>\d+)", group="id", flags=["ignorecase"])
    assert named["values"] == ["1001", "1002", "1003"]
    numbered = call("TEXT_REGEX_EXTRACT", text=text, pattern=r"^order (\S+) (\w+)$", group=2, flags=["multiline"])
    assert numbered["values"] == ["ok", "late", "ok"]
    limited = call("TEXT_REGEX_EXTRACT", text=text, pattern=r"\d+", max_matches=2)
    assert limited["values"] == ["1001", "1002"] and limited["truncated"] is True


def test_regex_extract_reports_bad_patterns(call: Any) -> None:
    with pytest.raises(ToolError, match="Invalid regular expression.*position"):
        call("TEXT_REGEX_EXTRACT", text="x", pattern="(unclosed")
    with pytest.raises(ToolError, match="no group named"):
        call("TEXT_REGEX_EXTRACT", text="x", pattern="(?P<a>x)", group="b")
    with pytest.raises(ToolError, match="only 0 group"):
        call("TEXT_REGEX_EXTRACT", text="x", pattern="x", group=1)


def test_catastrophic_regex_is_stopped(toolkit: Toolkit, ctx: ToolContext) -> None:
    quick = dataclasses.replace(ctx, settings={"regex_timeout": 0.25})
    started = time.perf_counter()
    with pytest.raises(ToolError, match="catastrophic backtracking") as err:
        toolkit.tools["TEXT_REGEX_EXTRACT"].handler({"text": EVIL_TEXT, "pattern": EVIL_PATTERN}, quick)
    assert err.value.details["timeout_seconds"] == 0.25  # the operator's setting
    with pytest.raises(ToolError, match="catastrophic backtracking"):
        toolkit.tools["TEXT_FIND_REPLACE"].handler(
            {"text": EVIL_TEXT, "find": EVIL_PATTERN, "replace": "", "regex": True}, quick)
    assert time.perf_counter() - started < 3


def test_find_replace_modes(call: Any) -> None:
    text = "Our cat sat on the category page. Cat!"
    assert call("TEXT_FIND_REPLACE", text=text, find="cat", replace="dog")["text"] == \
        "Our dog sat on the dogegory page. Cat!"
    whole = call("TEXT_FIND_REPLACE", text=text, find="cat", replace="dog", whole_word=True, case_sensitive=False)
    assert whole == {"text": "Our dog sat on the category page. dog!", "replacements": 2, "changed": True}
    first = call("TEXT_FIND_REPLACE", text="a a a", find="a", replace="b", max_replacements=2)
    assert (first["text"], first["replacements"]) == ("b b a", 2)
    literal = call("TEXT_FIND_REPLACE", text="1+1=2", find="1+1", replace="\\1", case_sensitive=False)
    assert literal["text"] == "\\1=2"  # no regex meaning in literal mode, even case-insensitively
    dates = call("TEXT_FIND_REPLACE", text="2026-11-27 and 2026-12-01", find=r"(\d{4})-(\d{2})-(\d{2})",
                 replace=r"\3/\2/\1", regex=True)
    assert (dates["text"], dates["replacements"]) == ("27/11/2026 and 01/12/2026", 2)
    none = call("TEXT_FIND_REPLACE", text="abc", find="x", replace="y")
    assert none == {"text": "abc", "replacements": 0, "changed": False}
    with pytest.raises(ToolError, match="invalid group reference"):
        call("TEXT_FIND_REPLACE", text="abc", find="b", replace=r"\3", regex=True)


def test_unified_diff(call: Any) -> None:
    out = call("TEXT_DIFF", original="host=localhost\nport=8000\n", modified="host=0.0.0.0\nport=8000\ndebug=true\n",
               from_label="a/app.env", to_label="b/app.env")
    assert out["diff"].splitlines() == ["--- a/app.env", "+++ b/app.env", "@@ -1,2 +1,3 @@", "-host=localhost",
                                        "+host=0.0.0.0", " port=8000", "+debug=true"]
    assert (out["lines_added"], out["lines_removed"], out["identical"]) == (2, 1, False)
    same = call("TEXT_DIFF", original="x\ny", modified="x\ny")
    assert same["identical"] is True and same["diff"] == "" and same["similarity"] == 1


def test_word_diff(call: Any) -> None:
    out = call("TEXT_DIFF", original="The quick brown fox jumps.", modified="The quick red fox leaps.", mode="words")
    assert out["inline"] == "The quick [-brown-]{+red+} fox [-jumps.-]{+leaps.+}"
    assert out["changes"][0] == {"type": "changed", "old": "brown", "new": "red"}


def test_text_stats(call: Any) -> None:
    text = "Concierge gives agents tools. It runs on your machine!\n\nNo account needed? None."
    out = call("TEXT_STATS", text=text)
    assert (out["words"], out["sentences"], out["paragraphs"], out["lines"]) == (13, 4, 2, 3)
    assert out["characters"] == len(text)
    long = call("TEXT_STATS", text="word " * 476)
    assert long["reading_time_minutes"] == 2 and long["reading_time"] == "2 min"


@pytest.mark.parametrize(("text", "case", "expected"), [
    ("user first name", "camel", "userFirstName"),
    ("user first name", "pascal", "UserFirstName"),
    ("parseHTTPResponse", "snake", "parse_http_response"),
    ("Hello, World!", "kebab", "hello-world"),
    ("max retry count", "constant", "MAX_RETRY_COUNT"),
    ("api.base-url", "dot", "api.base.url"),
    ("the lord of the rings", "title", "The Lord of the Rings"),
    ("NASA and the API of doom: a story", "title", "NASA and the API of Doom: A Story"),
    ("HELLO THERE. how ARE you? i am fine", "sentence", "Hello there. How are you? I am fine"),
    ("Straße", "upper", "STRASSE"),
])
def test_convert_case(call: Any, text: str, case: str, expected: str) -> None:
    assert call("TEXT_CONVERT_CASE", text=text, case=case)["result"] == expected


def test_slugify(call: Any) -> None:
    assert call("TEXT_SLUGIFY", text="Hello, Wörld! 2026 Edition")["slug"] == "hello-world-2026-edition"
    assert call("TEXT_SLUGIFY", text="Crème brûlée & Straße's best")["slug"] == "creme-brulee-strasses-best"
    assert call("TEXT_SLUGIFY", text="Quarterly Report: Q3 Results", separator="_", max_length=20)["slug"] == \
        "quarterly_report_q3"
    with pytest.raises(ToolError, match="no letters"):
        call("TEXT_SLUGIFY", text="!!! ???")


def test_word_frequency(call: Any) -> None:
    text = "Shipping was slow. Slow shipping again, and support never replied. Support was rude. The end, 2026."
    out = call("TEXT_WORD_FREQUENCY", text=text, top_n=3)
    assert [(t["term"], t["count"]) for t in out["top"]] == [("shipping", 2), ("slow", 2), ("support", 2)]
    assert all(t["term"] not in {"was", "the", "and", "2026"} for t in out["top"])
    phrases = call("TEXT_WORD_FREQUENCY", text="customer service was great and customer service answered", ngram=2)
    assert phrases["top"][0] == {"term": "customer service", "count": 2, "percent": 66.67}
    everything = call("TEXT_WORD_FREQUENCY", text="the cat and the hat", exclude_stopwords=False, top_n=1)
    assert everything["top"][0]["term"] == "the"
