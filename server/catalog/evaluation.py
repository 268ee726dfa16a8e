"""`concierge eval-search`: rank a labelled set with the server's own `SearchIndex` and score it.

The ranking scored is `SearchIndex.search_use_case(...).merged`, the list COMPOSIO_SEARCH_TOOLS
shows, so a number here is a number for the product. Metrics use binary gains, as the public
sets' README does.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from server.catalog.retrieval_set import LabelledQuery, RetrievalSet, load_any
from server.catalog.search import SearchIndex
from server.errors import ConciergeError

RANK_DEPTH = 10  # the deepest cut any reported metric looks at


@dataclass(frozen=True, slots=True)
class EvalReport:
    dataset: str
    split: str
    tools: int
    queries: int
    semantic: bool
    recall_at_5: float
    recall_at_10: float
    hit_at_5: float
    ndcg_at_10: float
    queries_per_second: float
    index_build_seconds: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def recall_at(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def hit_at(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    return float(any(slug in relevant for slug in ranked[:k]))


def ndcg_at(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, slug in enumerate(ranked[:k]) if slug in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def score_rankings(rankings: Sequence[Sequence[str]], queries: Sequence[LabelledQuery]) -> dict[str, float]:
    """Mean of each metric over queries, in percent."""
    n = len(queries) or 1
    pairs = list(zip(rankings, (q.relevant for q in queries), strict=True))
    return {
        "recall_at_5": 100 * sum(recall_at(r, rel, 5) for r, rel in pairs) / n,
        "recall_at_10": 100 * sum(recall_at(r, rel, 10) for r, rel in pairs) / n,
        "hit_at_5": 100 * sum(hit_at(r, rel, 5) for r, rel in pairs) / n,
        "ndcg_at_10": 100 * sum(ndcg_at(r, rel, 10) for r, rel in pairs) / n,
    }


def evaluate(data: RetrievalSet, split: str | None = None, semantic: bool | None = None) -> EvalReport:
    """Build the index over the set's toolkits, rank every query of `split` (all when None), score."""
    queries = [q for q in data.queries if split is None or q.split == split]
    if not queries:
        raise ConciergeError(f"{data.name}: no queries in split {split!r}; splits are {data.splits}")
    started = time.perf_counter()
    index = SearchIndex(data.toolkits, semantic=semantic)
    built = time.perf_counter() - started
    started = time.perf_counter()
    rankings = [[h.slug for h in index.search_use_case(q.text, limit=RANK_DEPTH).merged] for q in queries]
    elapsed = time.perf_counter() - started
    return EvalReport(
        dataset=data.name, split=split or "all", tools=len(index), queries=len(queries),
        semantic=index.semantic, **score_rankings(rankings, queries),
        queries_per_second=len(queries) / elapsed if elapsed > 0 else float("inf"), index_build_seconds=built,
    )


def run_evaluation(data: Path, split: str | None = None, semantic: bool | None = None) -> EvalReport:
    """`data`: a public-format directory, or a labelled-queries `.jsonl` over the built-in toolkits."""
    return evaluate(load_any(data), split, semantic)


_COLUMNS = (("R@5", "recall_at_5"), ("R@10", "recall_at_10"), ("Hit@5", "hit_at_5"), ("NDCG@10", "ndcg_at_10"))


def format_report(reports: Sequence[EvalReport]) -> str:
    """A plain-text table, one row per report."""
    head = ["set", "split", "tools", "queries", "semantic", *(c for c, _ in _COLUMNS), "q/s", "build s"]
    rows = [[r.dataset, r.split, str(r.tools), str(r.queries), "yes" if r.semantic else "no",
             *(f"{getattr(r, attr):.1f}" for _, attr in _COLUMNS),
             f"{r.queries_per_second:.0f}", f"{r.index_build_seconds:.2f}"] for r in reports]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                   strict=True)))
             for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def eval_search_main(data: Path, split: str | None, as_json: bool, semantic: bool | None = None) -> int:
    """The CLI's `eval-search`: print a table (or JSON) and return the process exit code."""
    try:
        report = run_evaluation(data, split, semantic)
    except (ConciergeError, OSError, ValueError) as exc:
        print(f"eval-search: {exc}")
        return 2
    print(json.dumps(report.to_dict(), indent=2) if as_json else format_report([report]))
    return 0
