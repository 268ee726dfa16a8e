"""`eval-search`: the public-format adapter, the metrics, and the report's shape on a tiny fixture set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.catalog.evaluation import (
    EvalReport,
    eval_search_main,
    format_report,
    hit_at,
    ndcg_at,
    recall_at,
    run_evaluation,
)
from server.catalog.retrieval_set import load_builtin_set, load_retrieval_set, toolkit_slug
from server.catalog.toolkit_file import TOOL_SLUG
from server.errors import ConfigError

FIXTURE = Path(__file__).parent / "data" / "retrieval_fixture"
METRICS = ("recall_at_5", "recall_at_10", "hit_at_5", "ndcg_at_10")


def test_metrics_on_hand_computed_rankings() -> None:
    relevant = frozenset({"A", "B"})
    assert recall_at(["A", "x", "y"], relevant, 5) == 0.5
    assert hit_at(["x", "B"], relevant, 5) == 1.0 and hit_at(["x", "B"], relevant, 1) == 0.0
    assert ndcg_at(["A", "B", "x"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at(["x", "A"], frozenset({"A"}), 10) == pytest.approx(1 / 1.5849625)


def test_corpus_rows_become_valid_toolkits() -> None:
    data = load_retrieval_set(FIXTURE)
    kits = {tk.slug: tk for tk in data.toolkits}
    assert set(kits) == {"communication", "travel", "finance", "retrieval_fixture"}  # empty toolkit: set name
    tools = {t.slug: t for tk in data.toolkits for t in tk.tools.values()}
    assert all(re.match(TOOL_SLUG, slug) and slug.startswith(tools[slug].toolkit.upper() + "_") for slug in tools)
    assert "COMMUNICATION_POST_CHANNEL_MESSAGE" in tools
    stock = tools["FINANCE_STOCK_PRICE"]  # "stock price!" with a too-short description
    assert stock.description.endswith("Quote") and len(stock.description) >= 10
    assert tools["FINANCE_CONVERT_CURRENCY"].input_schema["properties"]["amount"]["type"] == "number"
    assert len(data.queries) == 6  # the query without labels is left out
    assert {q.split for q in data.queries} == {"easy", "multi"}


def test_toolkit_slugs_are_sanitised() -> None:
    assert toolkit_slug("Chemical Engineering", "x") == "chemical_engineering"
    assert toolkit_slug("", "metatool") == "metatool"
    assert toolkit_slug("3D Printing", "set") == "set_3d_printing"


def test_report_values_are_plausible() -> None:
    (report,) = run_evaluation(FIXTURE, semantic=False)
    assert (report.dataset, report.tools, report.queries, report.semantic) == ("retrieval_fixture", 8, 6, False)
    for metric in METRICS:
        assert 0.0 <= getattr(report, metric) <= 100.0
    assert report.hit_at_5 == 100.0 and report.ndcg_at_10 >= 80.0
    assert report.queries_per_second > 0 and report.index_build_seconds >= 0


def test_split_selects_queries_and_unknown_split_fails(capsys: pytest.CaptureFixture[str]) -> None:
    (multi,) = run_evaluation(FIXTURE, "multi", semantic=False)
    assert multi.queries == 2 and multi.split == "multi"
    assert eval_search_main(FIXTURE, "nope", as_json=False, semantic=False) == 2
    assert "no queries in split 'nope'" in capsys.readouterr().err


def test_json_output_has_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_search_main(FIXTURE, None, as_json=True, semantic=False) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row) == set(EvalReport.__dataclass_fields__)
    assert set(METRICS) | {"queries_per_second", "index_build_seconds"} <= set(row)


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_search_main(FIXTURE, None, as_json=False, semantic=False) == 0
    printed = capsys.readouterr()
    head, rule, row = printed.out.splitlines()
    indexing, ranked = printed.err.splitlines()
    assert indexing == "retrieval_fixture: indexing 8 tools"
    assert re.fullmatch(r"retrieval_fixture: ranked 6 of 6 queries \(\d+ s\)", ranked)
    assert head.split() == ["set", "split", "tools", "queries", "semantic", "R@5", "R@10", "Hit@5", "NDCG@10",
                            "n/a%", "q/s", "build", "s"]
    assert set(rule) <= {"-", " "}
    cells = row.split()
    assert cells[:5] == ["retrieval_fixture", "all", "8", "6", "no"]
    assert all(re.fullmatch(r"\d+\.\d", c) for c in cells[5:10])
    assert format_report([]).count("\n") == 1


def test_a_directory_of_sets_gives_one_report_each() -> None:
    reports = run_evaluation(FIXTURE.parent, semantic=False)
    assert "retrieval_fixture" in [r.dataset for r in reports]


def _builtin_like(tmp_path: Path) -> Path:
    kit = tmp_path / "toolkits" / "clock"
    kit.mkdir(parents=True)
    (kit / "toolkit.yaml").write_text(
        "slug: clock\nname: Clock\ndescription: Time of day tools.\ntools:\n"
        "  - slug: CLOCK_NOW\n    name: Now\n    description: Current date and time in a time zone.\n"
        "    python: now\n    input_schema: {type: object, properties: {tz: {type: string}}}\n"
        "  - slug: CLOCK_SLEEP\n    name: Sleep\n    description: Wait for a number of seconds.\n"
        "    python: now\n    input_schema: {type: object, properties: {}}\n", encoding="utf-8")
    (kit / "tools.py").write_text("def now(**kwargs):\n    return None\n", encoding="utf-8")
    return tmp_path / "toolkits"


def test_builtin_style_queries_over_toolkit_folders(tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"_id": "a", "text": "what time is it in Tokyo", "relevant": ["CLOCK_NOW"]}\n',
                       encoding="utf-8")
    data = load_builtin_set(queries, _builtin_like(tmp_path))
    assert [q.relevant for q in data.queries] == [frozenset({"CLOCK_NOW"})]
    queries.write_text('{"_id": "b", "text": "x", "relevant": ["CLOCK_NOPE"]}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="CLOCK_NOPE"):
        load_builtin_set(queries, _builtin_like(tmp_path / "again"))


def test_no_data_means_the_built_in_catalog() -> None:
    (report,) = run_evaluation(None, semantic=False)
    assert report.dataset == "builtin" and report.queries > 0 and report.tools > 0



def test_parameters_only_in_raw_text_still_match_value_bearing_queries(tmp_path: Path) -> None:
    """Some public sets carry a tool's parameters only in a free-text field: the index reads it, and
    the values in a query (a ticker, coordinates) neither hide the tool nor favour a wrong one."""
    rows = [
        {"_id": "quote", "name": "Quote", "toolkit": "Markets", "description": "Latest data for one instrument.",
         "raw_text": "GET /quote. Parameters: symbol (string, required): stock ticker symbol such as AAPL or MSFT"},
        {"_id": "news", "name": "Headlines", "toolkit": "Markets", "description": "Latest market news articles.",
         "raw_text": "GET /news. Parameters: topic (string): subject of the articles; limit (integer): 1-50"},
        {"_id": "elevation", "name": "Terrain", "toolkit": "Geo", "description": "Data for one point on the map.",
         "raw_text": "GET /terrain. Parameters: latitude (number) and longitude (number) coordinates in degrees"},
        {"_id": "forecast", "name": "Outlook", "toolkit": "Geo", "description": "Forecast for a city name.",
         "raw_text": "GET /forecast. Parameters: city (string): city name; days (integer) 44 max"},
    ]
    queries = [
        {"_id": "q1", "text": "latest data for symbol AMZN", "split": "test"},
        {"_id": "q2", "text": "data for coordinates 44.35 N, 110.5 W", "split": "test"},
        {"_id": "q3", "text": "latest 5 articles on the topic of interest rates", "split": "test"},
    ]
    qrels = [("q1", "quote"), ("q2", "elevation"), ("q3", "news")]
    folder = tmp_path / "rawset"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{c}\t1\n" for q, c in qrels))
    data = load_retrieval_set(folder)
    tools = {t.slug: t for tk in data.toolkits for t in tk.tools.values()}
    assert "ticker" in tools["MARKETS_QUOTE"].input_schema["description"]
    from server.catalog.search import SearchIndex

    index = SearchIndex(data.toolkits)
    for q in data.queries:
        assert index.search_use_case(q.text).merged[0].slug in q.relevant, q.text
    (report,) = run_evaluation(folder, semantic=False)
    assert report.hit_at_5 == 100.0 and report.said_unavailable == 0.0
