"""Latency of one search over a 5,000-tool catalog, with and without the semantic extra.

Standalone (not a test, not part of `python -m bench`): builds `SearchIndex` in-process over a
generated catalog (`bench.catalog_gen`, realistic API vocabulary) and times single calls, so the
numbers are the ranking's own cost without HTTP or MCP around it. Every request text is made
unique, so the embedding cache never answers for the model.

    python bench/search_latency.py [--tools 5000] [--searches 500] [--no-semantic]
        [--openai-url http://127.0.0.1:11434/v1 --openai-model nomic-embed-text | --openai-standin]

Targets: p99 <= 10 ms lexical, <= 40 ms with the semantic extra; with an OpenAI-compatible embedding
service, one round trip plus <= 10 ms (reported as the p99 of the search time minus its round trip).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalog_gen import generate_toolkits  # noqa: E402
from bench.search_scale import QUERIES  # noqa: E402
from server.catalog.embeddings import OpenAIEncoder  # noqa: E402
from server.catalog.search import SearchIndex  # noqa: E402
from server.catalog.semantic import load_encoder  # noqa: E402

MULTI_STEP = (
    "find the invoice email and post its total to #finance",
    "list open issues in my repository, then send a summary to the #dev channel",
    "create a calendar event tomorrow at 3pm and email the invite to Alice",
)
TARGET_P99_MS = {False: 10.0, True: 40.0}
WARMUP = 20


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, as the rest of `bench/` reports them."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def _time(case: str, call: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    for text in texts[:WARMUP]:
        call(f"{text} (warm-up, {case})")
    samples = []
    for n, text in enumerate(texts):
        unique = f"{text} ({case} call {n})"
        started = time.perf_counter()
        call(unique)
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50), percentile(samples, 99)


def measure(tools: int, searches: int, semantic: bool) -> list[tuple[str, float, float]]:
    toolkits = generate_toolkits(tools)
    started = time.perf_counter()
    index = SearchIndex(toolkits, semantic=semantic)
    build = time.perf_counter() - started
    print(f"semantic={'yes' if semantic else 'no'}: {len(index)} tools, index built in {build:.2f} s")
    rng = random.Random(5)
    slugs = sorted(t.slug for tk in toolkits for t in tk.tools.values())
    small = frozenset(rng.sample(slugs, 60))  # a session filtered to a couple of toolkits
    half = frozenset(rng.sample(slugs, len(slugs) // 2))
    single = [QUERIES[n % len(QUERIES)] for n in range(searches)]
    multi = [MULTI_STEP[n % len(MULTI_STEP)] for n in range(searches)]
    cases: list[tuple[str, Callable[[str], object], list[str]]] = [
        ("search, all tools", lambda q: index.search(q), single),
        ("search, 60 allowed", lambda q: index.search(q, allowed=small), single),
        ("search, half allowed", lambda q: index.search(q, allowed=half), single),
        ("search_use_case, multi-step", lambda q: index.search_use_case(q), multi),
    ]
    return [(name, *_time(name, call, texts)) for name, call, texts in cases]


class _TimedEncoder(OpenAIEncoder):
    """Records how long each request-time round trip took, so the ranking's own cost can be reported."""

    last_round_trip = 0.0

    def encode(self, texts: object) -> object:  # type: ignore[override]
        started = time.perf_counter()
        try:
            return super().encode(texts)  # type: ignore[arg-type]
        finally:
            self.last_round_trip = (time.perf_counter() - started) * 1000


def measure_remote(tools: int, searches: int, url: str, model: str) -> list[tuple[str, float, float]]:
    """p50/p99 of the round trip, of the whole search, and of the search minus its round trip."""
    encoder = _TimedEncoder(url, model, timeout=30)
    index = SearchIndex(generate_toolkits(tools), semantic=encoder)
    rows = []
    for name, texts, call in (("search_use_case, single", QUERIES, index.search_use_case),
                              ("search_use_case, multi-step", MULTI_STEP, index.search_use_case)):
        trips, totals, own = [], [], []
        for n in range(searches + WARMUP):
            text = f"{texts[n % len(texts)]} (remote call {n})"
            started = time.perf_counter()
            call(text)
            total = (time.perf_counter() - started) * 1000
            if n >= WARMUP:
                trips.append(encoder.last_round_trip)
                totals.append(total)
                own.append(total - encoder.last_round_trip)
        rows += [(f"{name}: round trip", percentile(trips, 50), percentile(trips, 99)),
                 (f"{name}: whole search", percentile(totals, 50), percentile(totals, 99)),
                 (f"{name}: search minus round trip", percentile(own, 50), percentile(own, 99))]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--no-semantic", action="store_true", help="skip the run with the semantic extra")
    parser.add_argument("--openai-url", help="an OpenAI-compatible embeddings API root to measure as well")
    parser.add_argument("--openai-model", default="", help="the model name that service serves")
    parser.add_argument("--openai-standin", action="store_true",
                        help="measure a local OpenAI-compatible stand-in (bench/embeddings_standin.py)")
    args = parser.parse_args()
    if args.openai_standin:
        from bench import embeddings_standin

        args.openai_url, _ = embeddings_standin.start()
        args.openai_model = embeddings_standin.MODEL
    if args.openai_url:
        print("\n| openai-compatible provider | p50 ms | p99 ms |\n| --- | ---: | ---: |")
        for name, p50, p99 in measure_remote(args.tools, args.searches, args.openai_url, args.openai_model):
            print(f"| {name} | {p50:.2f} | {p99:.2f} |")
    modes = [False] if args.no_semantic or load_encoder() is None else [False, True]
    rows = [(semantic, *row) for semantic in modes for row in measure(args.tools, args.searches, semantic)]
    print("\n| semantic | case | p50 ms | p99 ms | target p99 |\n| --- | --- | ---: | ---: | ---: |")
    for semantic, name, p50, p99 in rows:
        target = TARGET_P99_MS[semantic]
        verdict = "ok" if p99 <= target else "MISSED"
        print(f"| {'yes' if semantic else 'no'} | {name} | {p50:.2f} | {p99:.2f} | {target:.0f} ({verdict}) |")
    print("\nload average (1, 5, 15 min) after the run: {:.2f} {:.2f} {:.2f} on {} cores".format(
        *os.getloadavg(), os.cpu_count()))
    if len(modes) == 1 and not args.no_semantic:
        print("\n(semantic extra not installed: pip install 'concierge[semantic]' to measure it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
