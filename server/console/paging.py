"""Query-string parsing for console listings: keyset cursors, dates and filters, each refused with a
clear message (a 400 page) rather than guessed."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from server.errors import InvalidInput
from server.store.records import AuditKey, PageKey

PAGE_SIZE = 50
MAX_TEXT = 200
BAD_CURSOR = "the page position (`after`) is not one this console wrote; start from the first page"


def text(value: str | None, name: str) -> str | None:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def cursor(at: float, row_id: str | int, source: str | None = None) -> str:
    """`repr` of a float reads back to the same float, so the next page starts exactly after this row."""
    return "~".join([repr(at), *([source] if source else []), str(row_id)])


def _at(value: str) -> float:
    at = float(value)
    if not math.isfinite(at):
        raise ValueError(value)
    return at


def page_key(value: str | None) -> PageKey | None:
    if not value:
        return None
    at, sep, row_id = value.partition("~")
    try:
        if not sep or not row_id or len(value) > MAX_TEXT:
            raise ValueError(value)
        return PageKey(_at(at), row_id)
    except ValueError:
        raise InvalidInput(BAD_CURSOR) from None


def audit_key(value: str | None) -> AuditKey | None:
    if not value:
        return None
    parts = value.split("~")
    try:
        if len(parts) != 3 or parts[1] not in ("account", "console"):
            raise ValueError(value)
        return AuditKey(_at(parts[0]), parts[1], int(parts[2]))
    except ValueError:
        raise InvalidInput(BAD_CURSOR) from None


def day(value: str | None, name: str, *, end: bool = False) -> float | None:
    """A YYYY-MM-DD date (UTC) as a timestamp: its start, or with `end` the start of the next day."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date written YYYY-MM-DD, not {value[:40]!r}") from None
    start = datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    return (start + timedelta(days=1) if end else start).timestamp()


def offset(value: str | None, limit: int = 1_000_000) -> int:
    try:
        number = int(value or 0)
    except ValueError:
        raise InvalidInput("offset must be a whole number") from None
    if not 0 <= number <= limit:
        raise InvalidInput(f"offset must be 0..{limit}")
    return number


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
