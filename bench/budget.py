"""How much each scenario runs: the full run (about 5 minutes on 2 cores) and `--quick` (under a minute).

Every load is bounded twice, by a call count and by seconds, so a slow machine ends a run on time
and a fast one does not spin longer than needed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    name: str
    # 1. overhead: rounds per side, and each round's bounds
    overhead_rounds: int
    overhead_seconds: float
    overhead_calls: int
    overhead_clients: tuple[int, ...]
    # 2. search: catalog sizes and queries per size
    search_sizes: tuple[int, ...]
    search_queries: int
    # 3. sessions: how many to create, how many distinct ones to use under load (some in hot/cold rounds)
    sessions_total: int
    sessions_used: int
    sessions_clients: int
    sessions_rounds: int
    sessions_round_calls: int
    # 4. fan-out: batches per side
    fanout_batches: int
    fanout_calls: int
    fanout_wait_ms: int
    # 5. mixed load
    mixed_seconds: float
    mixed_clients: int
    warmup_calls: int = 100
    # 6. upstream MCP servers: sessions and distinct users calling one stdio upstream
    upstream_rounds: int = 24  # 6. upstream latency: paired rounds of `overhead_seconds` per side
    upstream_sessions: int = 200
    upstream_users: int = 20
    # 7. replicas: seconds of load per setup, and concurrent clients (keep-alive connections to nginx)
    replicas_seconds: float = 15
    replicas_clients: int = 32


FULL = Budget(
    name="full", overhead_rounds=16, overhead_seconds=0.5, overhead_calls=20_000, overhead_clients=(1, 20),
    search_sizes=(1_000, 10_000, 50_000), search_queries=200,
    sessions_total=100_000, sessions_used=10_000, sessions_clients=20, sessions_rounds=4, sessions_round_calls=500,
    fanout_batches=10, fanout_calls=20, fanout_wait_ms=100,
    mixed_seconds=60, mixed_clients=50,
)

QUICK = Budget(
    name="quick", overhead_rounds=1, overhead_seconds=0.25, overhead_calls=1_000, overhead_clients=(1, 20),
    search_sizes=(1_000,), search_queries=30,
    sessions_total=1_000, sessions_used=300, sessions_clients=10, sessions_rounds=1, sessions_round_calls=100,
    fanout_batches=2, fanout_calls=20, fanout_wait_ms=100,
    mixed_seconds=2, mixed_clients=10, warmup_calls=30, upstream_rounds=2, upstream_sessions=12, upstream_users=4,
    replicas_seconds=3, replicas_clients=16,
)
