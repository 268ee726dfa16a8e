"""Following a provider's pages up to the call's `max_results`, whatever style the provider uses.

Every style reduces to: the items on this page, and the cursor that asks for the next one (a
body field, a Link header's URL, or an offset computed from the items seen). The result an agent
gets is the same for all: `{items, has_more, next_cursor}`; passing `next_cursor` back as the
tool's cursor argument continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from server.catalog.toolkit_file import PaginateBlock
from server.execute.provider_errors import dig

MAX_RESULTS = "max_results"


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    cursor: str | None  # what the cursor argument must carry to get the next page; None = last page
    next_url: str | None = None  # link_header: the URL of the next page


def page_size(page: PaginateBlock, arguments: dict[str, Any], input_schema: dict[str, Any], remaining: int) -> None:
    """Ask for no more than is still wanted, within the provider's own maximum when the schema states it."""
    if not page.limit_param:
        return
    declared = ((input_schema.get("properties") or {}).get(page.limit_param) or {}).get("maximum")
    wanted = arguments.get(page.limit_param)
    size = remaining if not isinstance(wanted, int) else min(wanted, remaining)
    if isinstance(declared, int):
        size = min(size, declared)
    arguments[page.limit_param] = max(1, size)


def read_page(
    page: PaginateBlock, body: Any, items_path: str | None, arguments: dict[str, Any], next_url: str | None
) -> Page:
    found = dig(body, page.items or items_path)
    items = found if isinstance(found, list) else ([] if found is None else [found])
    if page.style == "link_header":
        if not next_url:
            return Page(items, None)
        value = parse_qs(urlsplit(next_url).query).get(page.cursor_param or "page", [""])[0]
        return Page(items, value or None, next_url)
    if page.has_more and dig(body, page.has_more) is not True:
        return Page(items, None)
    if page.style == "offset":
        return Page(items, _next_offset(page, body, arguments, items))
    cursor = dig(body, page.next_cursor)
    return Page(items, str(cursor) if cursor not in (None, "") else None)


def _next_offset(page: PaginateBlock, body: Any, arguments: dict[str, Any], items: list[Any]) -> str | None:
    if not items:
        return None
    start = int(arguments.get(page.cursor_param or "offset") or 0)
    following = start + len(items)
    total = dig(body, page.total_path) if page.total_path else None
    if isinstance(total, int):
        return str(following) if following < total else None
    if page.has_more:  # checked true by the caller
        return str(following)
    size = arguments.get(page.limit_param or "")
    return str(following) if isinstance(size, int) and len(items) >= size else None


def cursor_value(page: PaginateBlock, cursor: str, input_schema: dict[str, Any]) -> Any:
    """The cursor as the argument's declared type (offsets and page numbers are integers)."""
    declared = ((input_schema.get("properties") or {}).get(page.cursor_param or "") or {}).get("type")
    if declared == "integer" or (declared is None and page.style == "offset"):
        return int(cursor) if cursor.lstrip("-").isdigit() else cursor
    return cursor


def result(page: PaginateBlock, items: list[Any], cursor: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"items": items, "has_more": cursor is not None, "next_cursor": cursor}
    if page.style == "link_header":  # GitHub-style numbered pages: the number to pass as `page`
        out["next_page"] = int(cursor) if cursor and cursor.isdigit() else None
    return out
