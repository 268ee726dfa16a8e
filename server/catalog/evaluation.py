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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from server.catalog.retrieval_set import BUILTIN_QUERIES, LabelledQuery, NegativeQuery, RetrievalSet, load_sets
from server.catalog.search import SearchIndex
from server.errors import ConciergeError, InvalidInput

Progress = Callable[[str], None] | None  # where progress lines go (the CLI: standard error)
RANK_DEPTH = 10  # the deepest cut any reported metric looks at
WARM_BATCH = 512  # queries embedded together (semantic only): batching is most of the encoder's speed


@dataclass(frozen=True, slots=True)
class NegativeReport:
    """How many requests for things the catalog lacks were answered with an explicit "not available"."""

    queries: int
    said_unavailable: float  # percent of all negatives; an app-naming one counts only when the app is named
    naming_an_app: int
    app_named: float  # percent of those that name an app in their text
    mixed: int
    mixed_possible_step_found: float  # percent of mixed requests whose possible step has its tool in the top 5


def evaluate_negatives(index: SearchIndex, negatives: Sequence[NegativeQuery]) -> NegativeReport:
    """Score the absence logic: every negative must come back with an `unavailable` step naming its app."""
    said = named = naming = mixed = mixed_found = 0
    for q in negatives:
        result = index.search_use_case(q.text, limit=5)
        apps = [u.app.lower() for u in result.unavailable if u.app]
        wanted = (q.app or "").lower()
        names_app = bool(wanted) and wanted in q.text.lower()
        app_ok = not names_app or any(a in wanted or wanted in a for a in apps)
        naming += names_app
        named += names_app and app_ok
        said += bool(result.unavailable) and app_ok
        if q.possible:
            mixed += 1
            mixed_found += bool(q.possible & {h.slug for h in result.offered})
    return NegativeReport(
        len(negatives),
        100 * said / (len(negatives) or 1),
        naming,
        100 * named / (naming or 1),
        mixed,
        100 * mixed_found / (mixed or 1),
    )


def hit_by_toolkit(
    rankings: Sequence[Sequence[str]], queries: Sequence[LabelledQuery], toolkit_of: Mapping[str, str]
) -> dict[str, float]:
    """Hit@5 per toolkit, a query counting for each toolkit its relevant tools belong to."""
    hits: dict[str, list[float]] = {}
    for ranked, q in zip(rankings, queries, strict=True):
        for kit in {toolkit_of[s] for s in q.relevant if s in toolkit_of}:
            hits.setdefault(kit, []).append(hit_at(ranked, q.relevant, 5))
    return {kit: 100 * sum(v) / len(v) for kit, v in sorted(hits.items())}


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
    hit_at_5_with_absence: float = 0.0  # a query answered "not available" counts as a miss
    said_unavailable: float = 0.0  # percent of these (all answerable) queries answered "not available"
    hit_at_5_by_toolkit: dict[str, float] = field(default_factory=dict)
    negatives: NegativeReport | None = None

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


def evaluate(
    data: RetrievalSet, split: str | None = None, semantic: bool | None = None, progress: Progress = None
) -> EvalReport:
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
    refused = 0
    shown: list[list[str]] = []  # what the meta tool offers: nothing when it says every step is unavailable
    for lo in range(0, len(queries), WARM_BATCH):
        chunk = queries[lo : lo + WARM_BATCH]
        index.warm(q.text for q in chunk)
        results = [index.search_use_case(q.text, limit=RANK_DEPTH) for q in chunk]
        rankings += [[h.slug for h in r.merged] for r in results]
        shown += [[h.slug for h in r.offered] for r in results]
        refused += sum(r.nothing_fits for r in results)
        say(
            f"{data.name}: ranked {len(rankings):,} of {len(queries):,} queries ({time.perf_counter() - started:.0f} s)"
        )
    elapsed = time.perf_counter() - started
    toolkit_of = {t.slug: t.toolkit for t in index.tools}
    return EvalReport(
        dataset=data.name,
        split=split or "all",
        tools=len(index),
        queries=len(queries),
        semantic=index.semantic,
        **score_rankings(rankings, queries),
        queries_per_second=len(queries) / elapsed if elapsed > 0 else float("inf"),
        index_build_seconds=built,
        hit_at_5_with_absence=score_rankings(shown, queries)["hit_at_5"],
        said_unavailable=100 * refused / len(queries),
        hit_at_5_by_toolkit=hit_by_toolkit(shown, queries, toolkit_of),
        negatives=evaluate_negatives(index, data.negatives) if data.negatives else None,
    )


def run_evaluation(
    data: Path | None, split: str | None = None, semantic: bool | None = None, progress: Progress = None
) -> list[EvalReport]:
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
    head = ["set", "split", "tools", "queries", "semantic", *(c for c, _ in _COLUMNS), "n/a%", "q/s", "build s"]
    rows = [
        [
            r.dataset,
            r.split,
            str(r.tools),
            str(r.queries),
            "yes" if r.semantic else "no",
            *(f"{getattr(r, attr):.1f}" for _, attr in _COLUMNS),
            f"{r.said_unavailable:.1f}",
            f"{r.queries_per_second:.0f}",
            f"{r.index_build_seconds:.2f}",
        ]
        for r in reports
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = [_aligned(row, widths) for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in reports:
        if r.negatives is not None:
            lines.append(
                f"\n{r.dataset}: Hit@5 {r.hit_at_5_with_absence:.1f} with the absence logic (a query "
                f"answered 'not available' counts as a miss), {r.hit_at_5:.1f} without"
            )
            n = r.negatives
            lines.append(
                f"{r.dataset} negatives: {n.queries} requests, {n.said_unavailable:.1f}% answered "
                f"'not available'; app named in {n.app_named:.1f}% of the {n.naming_an_app} naming one; "
                f"mixed requests with the possible step's tool in the top 5: "
                f"{n.mixed_possible_step_found:.1f}% of {n.mixed}"
            )
            lines.append(
                f"{r.dataset} Hit@5 by toolkit: "
                + ", ".join(f"{kit} {value:.0f}" for kit, value in r.hit_at_5_by_toolkit.items())
            )
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
