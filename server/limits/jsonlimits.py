"""Checks on a parsed JSON value that the size cap on the body alone does not give."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from server import jsontext
from server.errors import InvalidInput, PayloadTooLarge


def depth_of(value: Any, limit: int) -> int:
    """Nesting depth of `value`, counted without recursion and stopping once past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check_depth(value: Any, limit: int, raw: bytes | None = None) -> None:
    """`raw`, the JSON text `value` was parsed from, lets the walk be skipped: nesting needs an opening
    bracket per level, so a text with no more than `limit` of them cannot be too deep."""
    if raw is not None and raw.count(b"{") + raw.count(b"[") <= limit:
        return
    if depth_of(value, limit) > limit:
        raise InvalidInput(f"JSON nesting is deeper than {limit} levels (max_json_depth)", {"limit": limit})


def check_argument_size(arguments: Any, limit: int) -> None:
    size = len(jsontext.dumps_bytes(arguments))
    if size > limit:
        raise PayloadTooLarge(
            f"tool arguments are {size} bytes as JSON, more than {limit} "
            "(max_tool_argument_bytes); put large inputs in a workbench file instead",
            {"limit_bytes": limit, "size_bytes": size},
        )
