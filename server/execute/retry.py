"""When a provider says "slow down": how long to wait, and whether the wait fits the time budget.

429 is always a rate limit; a toolkit's `retry:` block adds statuses (503) and body error codes
(Slack's `ratelimited`). GitHub also limits with 403 plus `retry-after` or `x-ratelimit-remaining: 0`.
The wait comes from the provider when it says (Retry-After in seconds or as an HTTP date, Discord's
`retry_after` in the body, GitHub's `x-ratelimit-reset` epoch), else exponential backoff with jitter.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from server.catalog.model import Toolkit
from server.execute import provider_errors

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


@dataclass(frozen=True, slots=True)
class Limit:
    """A rate-limit answer: the wait the provider asked for (None = it did not say)."""

    wait: float | None
    said: str  # the header value or code that showed it, for the error details


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def rate_limit(toolkit: Toolkit, status: int, headers: dict[str, str], body: Any) -> Limit | None:
    """The rate-limit signal in this answer, or None when the answer is not a rate limit."""
    policy = toolkit.retry
    code = provider_errors.error_code(toolkit, body)
    asked = retry_after(headers.get("retry-after"))
    if asked is None and isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
        asked = max(0.0, float(body["retry_after"]))  # Discord puts it in the JSON body (seconds, float)
    if status == 429 or status in policy.statuses:
        return Limit(asked, headers.get("retry-after") or str(status))
    if status == 403 and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0"):
        if asked is None and (reset := headers.get("x-ratelimit-reset", "")).isdigit():
            asked = max(0.0, int(reset) - time.time())
        return Limit(asked, headers.get("retry-after") or "x-ratelimit-remaining: 0")
    if policy.body_errors and (code is not None or status >= 400):
        said = code or provider_errors.message(toolkit, body)
        if any(marker == code or marker in said for marker in policy.body_errors):
            return Limit(asked, said)
    return None


def backoff(attempt: int) -> float:
    """Full-jitter exponential backoff for the n-th retry (1-based) when the provider named no wait."""
    return random.uniform(BACKOFF_BASE / 2, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
