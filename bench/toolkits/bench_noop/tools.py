"""The benchmark's no-op tool; `bench.serve_bare` serves the same function, so both sides run equal work."""

from __future__ import annotations

from typing import Any


def ping(arguments: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
    return {"pong": arguments.get("n", 0)}
