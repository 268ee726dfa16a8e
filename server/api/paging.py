"""`limit` and `offset` of the REST listings, read and bounded in one place."""

from __future__ import annotations

from starlette.requests import Request

from server.errors import InvalidInput

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000


def page_params(request: Request, default_limit: int = 100) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", default_limit))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        raise InvalidInput("limit and offset must be integers") from None
    if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"limit must be 1..{MAX_LIMIT} and offset 0..{MAX_OFFSET}")
    return limit, offset
