"""`concierge eval-search`: rank a labelled set with the server's own `SearchIndex` and score it.

The ranking scored is `SearchIndex.search_use_case(...).merged`, the list COMPOSIO_SEARCH_TOOLS
shows, so a number here is a number for the product. Metrics use binary gains, as the public
sets' README does.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from server.catalog.retrieval_set import BUILTIN_QUERIES, LabelledQuery, RetrievalSet, load_sets
from server.catalog.search import SearchIndex
from server.errors import ConciergeError, InvalidInput

Progress = Callable[[str], None] | None  # where progress lines go (the CLI: standard error)
RANK_DEPTH = 10  # the deepest cut any reported metric looks at
WARM_BATCH = 512  # queries embedded together (semantic only): batching is most of the encoder's speed


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


def evaluate(data: RetrievalSet, split: str | None = None, semantic: bool | None = None,
             progress: Progress = None) -> EvalReport:
    """Build the index over the set's toolkits, rank every query of `split` (all when None), score.

    `progress` gets a line before the index build and after each batch of queries."""
    queries = [q for q in data.queries if split is None or q.split == split]
    if not queries:
        raise InvalidInput(f"{data.name}: no queries in split {split!r}; splits are {data.splits}")
    say = progress or (lambda line: None)
    say(f"{data.name}: indexing {sum(len(tk.tools) for tk in data.toolkits):,} tools")
    started = time.perf_counter()
    index = SearchIndex(data.toolkits, semantic=semantic)
    built = time.perf_counter() - started
    started = time.perf_counter()
    rankings: list[list[str]] = []
    for lo in range(0, len(queries), WARM_BATCH):
        chunk = queries[lo:lo + WARM_BATCH]
        index.warm(q.text for q in chunk)
        rankings += [[h.slug for h in index.search_use_case(q.text, limit=RANK_DEPTH).merged] for q in chunk]
        say(f"{data.name}: ranked {len(rankings):,} of {len(queries):,} queries "
            f"({time.perf_counter() - started:.0f} s)")
    elapsed = time.perf_counter() - started
    return EvalReport(
        dataset=data.name, split=split or "all", tools=len(index), queries=len(queries),
        semantic=index.semantic, **score_rankings(rankings, queries),
        queries_per_second=len(queries) / elapsed if elapsed > 0 else float("inf"), index_build_seconds=built,
    )


def run_evaluation(data: Path | None, split: str | None = None, semantic: bool | None = None,
                   progress: Progress = None) -> list[EvalReport]:
    """One report per set under `data`: a public-format directory, a directory of such directories
    (e.g. `tool-retrieval/` holding `sealtools/` and `metatool/`), or a labelled-queries `.jsonl`
    over the built-in toolkits; None means the built-in toolkits with `tests/data/search_queries.jsonl`."""
    return [evaluate(found, split, semantic, progress) for found in load_sets(data or BUILTIN_QUERIES)]


_COLUMNS = (("R@5", "recall_at_5"), ("R@10", "recall_at_10"), ("Hit@5", "hit_at_5"), ("NDCG@10", "ndcg_at_10"))


def _aligned(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Names (the first two columns) to the left, numbers to the right."""
    return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def format_report(reports: Sequence[EvalReport]) -> str:
    """A plain-text table, one row per report."""
    head = ["set", "split", "tools", "queries", "semantic", *(c for c, _ in _COLUMNS), "q/s", "build s"]
    rows = [[r.dataset, r.split, str(r.tools), str(r.queries), "yes" if r.semantic else "no",
             *(f"{getattr(r, attr):.1f}" for _, attr in _COLUMNS),
             f"{r.queries_per_second:.0f}", f"{r.index_build_seconds:.2f}"] for r in reports]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = [_aligned(row, widths) for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def eval_search_main(data: Path | None, split: str | None, as_json: bool, semantic: bool | None = None) -> int:
    """The CLI's `eval-search`: print a table (or a JSON list of reports); return the exit code.

    `semantic`: None uses the embedding signal when the extra is installed, True requires it.
    """
    try:
        reports = run_evaluation(data, split, semantic, progress=lambda line: print(line, file=sys.stderr))
    except (ConciergeError, OSError, ValueError) as exc:
        print(f"eval-search: {exc}", file=sys.stderr)
        return 2
    print(json.dumps([r.to_dict() for r in reports], indent=2) if as_json else format_report(reports))
    return 0
