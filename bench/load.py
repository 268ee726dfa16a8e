"""The one load runner every scenario uses, and the alternating side-by-side comparison.

A load is a set of concurrent workers (one per simulated client), each calling its `Worker` in a
loop until a call budget or a time budget is spent, whichever comes first. Both sides of a
comparison run in the same process run, in rounds whose order alternates (A B, B A, ...), so drift
in machine speed falls on both sides alike.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

CALL_TIMEOUT_SECONDS = 60
KEPT_ERRORS = 5
# A worker's n-th step: a label for the statistics and the action to time.
Step = tuple[str, Callable[[], Awaitable[object]]]
Worker = Callable[[int], Step]


@dataclass
class Samples:
    """Latencies (seconds) and errors per label, plus the wall time and server CPU they took."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0
    client_cpu: float = 0.0

    def add(self, other: Samples) -> None:
        for label, values in other.latencies.items():
            self.latencies[label].extend(values)
        for label, count in other.errors.items():
            self.errors[label] += count
        self.first_errors.extend(other.first_errors[: KEPT_ERRORS - len(self.first_errors)])
        self.wall += other.wall
        self.cpu += other.cpu
        self.client_cpu += other.client_cpu

    def values(self, label: str | None = None) -> list[float]:
        if label is not None:
            return self.latencies.get(label, [])
        return [v for values in self.latencies.values() for v in values]

    def summary(self, label: str | None = None) -> dict[str, Any]:
        """Calls, errors and latencies of `label` (None: every label); CPU figures only for the whole load.

        `client_cpu_busy` is the load generator's share of one core: near 1.0, the client is the limit.
        """
        values = sorted(self.values(label))
        errors = self.errors.get(label, 0) if label is not None else sum(self.errors.values())
        out: dict[str, Any] = {"calls": len(values), "errors": errors,
                               "calls_per_s": round(len(values) / self.wall, 1) if self.wall else 0.0}
        if label is None:
            out["server_cpu_ms_per_call"] = round(1000 * self.cpu / len(values), 3) if values else None
            out["client_cpu_busy"] = round(self.client_cpu / self.wall, 2) if self.wall else None
            out["client_cpu_ms_per_call"] = round(1000 * self.client_cpu / len(values), 3) if values else None
        return out | {
            "p50_ms": percentile_ms(values, 50), "p95_ms": percentile_ms(values, 95),
            "p99_ms": percentile_ms(values, 99), "first_errors": self.first_errors,
        }


def percentile_ms(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return round(1000 * sorted_values[rank - 1], 3)


def ratio(ours: float | None, baseline: float | None) -> float | None:
    return round(ours / baseline, 3) if ours is not None and baseline else None


async def run_load(workers: Sequence[Worker], *, max_calls: int, max_seconds: float,
                   cpu: Callable[[], float] | None = None) -> Samples:
    """Run every worker concurrently until `max_calls` calls have started or `max_seconds` passed.

    `cpu` reads the server's CPU seconds; its difference over the run is stored in `Samples.cpu`.
    """
    samples = Samples()
    started = 0
    deadline = time.perf_counter() + max_seconds

    async def loop(worker: Worker) -> None:
        nonlocal started
        n = 0
        while started < max_calls and time.perf_counter() < deadline:
            started += 1
            label, action = worker(n)
            n += 1
            t0 = time.perf_counter()
            try:
                with anyio.fail_after(CALL_TIMEOUT_SECONDS):
                    await action()
            except Exception as exc:  # any failure is a counted error, never a crash of the benchmark
                samples.errors[label] += 1
                if len(samples.first_errors) < KEPT_ERRORS:
                    samples.first_errors.append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
                continue
            samples.latencies[label].append(time.perf_counter() - t0)

    cpu0, client0, t0 = (cpu() if cpu else 0.0), time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as tg:
        for worker in workers:
            tg.start_soon(loop, worker)
    samples.wall = time.perf_counter() - t0
    samples.client_cpu = time.process_time() - client0
    samples.cpu = (cpu() - cpu0) if cpu else 0.0
    return samples


@dataclass
class Side:
    """One side of a comparison: its workers and how to read its server's CPU."""

    name: str
    workers: Sequence[Worker]
    cpu: Callable[[], float]


async def alternate(sides: Sequence[Side], *, rounds: int, calls_per_round: int, seconds_per_round: float,
                    warmup_calls: int) -> dict[str, Samples]:
    """Warm every side up, then run `rounds` rounds, reversing the side order every other round."""
    return pooled(await alternate_rounds(sides, rounds=rounds, calls_per_round=calls_per_round,
                                         seconds_per_round=seconds_per_round, warmup_calls=warmup_calls))


async def alternate_rounds(sides: Sequence[Side], *, rounds: int, calls_per_round: int, seconds_per_round: float,
                           warmup_calls: int) -> list[dict[str, Samples]]:
    """As `alternate`, each round's samples kept apart (for per-round comparisons)."""
    for side in sides:
        await run_load(side.workers, max_calls=warmup_calls, max_seconds=seconds_per_round)
    out = []
    for r in range(rounds):
        one = {}
        for side in (sides if r % 2 == 0 else list(reversed(sides))):
            one[side.name] = await run_load(side.workers, max_calls=calls_per_round, max_seconds=seconds_per_round,
                                            cpu=side.cpu)
        out.append(one)
    return out


def pooled(rounds: Sequence[dict[str, Samples]]) -> dict[str, Samples]:
    totals: dict[str, Samples] = {}
    for one in rounds:
        for name, samples in one.items():
            totals.setdefault(name, Samples()).add(samples)
    return totals


def paired_median(rounds: Sequence[dict[str, Samples]], ours: str, base: str, key: str,
                  compare: Callable[[Any, Any], float | None] = ratio) -> float | None:
    """Median over rounds of `compare(ours's summary[key], base's)` in the same round (a ratio by
    default): a burst of load from elsewhere on a shared machine lasts seconds, so it lands in a few
    rounds and not in the result."""
    found = [compare(one[ours].summary().get(key), one[base].summary().get(key)) for one in rounds]
    values = [v for v in found if v is not None]
    return round(statistics.median(values), 3) if values else None
