"""`prepare` hooks: plain fields an agent can fill (a title, lines of text, to-dos) into Notion's block and
property objects, so the common calls need no knowledge of Notion's JSON shapes."""

from __future__ import annotations

from typing import Any

from server.errors import InvalidInput

TEXT_LIMIT = 2000  # Notion refuses rich text content longer than this per text object


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": text[i:i + TEXT_LIMIT]}}
            for i in range(0, len(text), TEXT_LIMIT)] or [{"type": "text", "text": {"content": ""}}]


def _block(line: str) -> dict[str, Any]:
    for mark, checked in (("[ ] ", False), ("[x] ", True), ("[X] ", True)):
        if line.startswith(mark):
            return _todo(line[len(mark):], checked)
    return {"object": "block", "type": "paragraph", "paragraph": {"rich_text": _rich_text(line)}}


def _todo(text: str, checked: bool = False) -> dict[str, Any]:
    return {"object": "block", "type": "to_do", "to_do": {"rich_text": _rich_text(text), "checked": checked}}


def _lines(text: str | None) -> list[dict[str, Any]]:
    return [_block(line.rstrip()) for line in (text or "").splitlines() if line.strip()]


def prepare_create_page(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    page, source = args.pop("parent_page_id", None), args.pop("data_source_id", None)
    if sum(x is not None for x in (page, source, args.get("parent"))) != 1:
        raise InvalidInput("give exactly one of parent_page_id (a sub-page), data_source_id (a database row) or "
                           "parent", {"fields": ["parent_page_id", "data_source_id", "parent"]})
    if page is not None:
        args["parent"] = {"type": "page_id", "page_id": page}
    elif source is not None:
        args["parent"] = {"type": "data_source_id", "data_source_id": source}
    title, column = args.pop("title", None), args.pop("title_property", None) or "title"
    properties = dict(args.get("properties") or {})
    if title is not None:
        properties[column] = {"title": _rich_text(title)}
    if not properties:
        raise InvalidInput("give a title (or the page's properties)", {"field": "title"})
    args["properties"] = properties
    children = _lines(args.pop("content", None)) + list(args.get("children") or [])
    if children:
        args["children"] = children
    return args


def prepare_archive_page(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    args["in_trash"] = not args.pop("restore", False)
    return args


def prepare_append_blocks(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    children = (_lines(args.pop("text", None)) + [_todo(item) for item in args.pop("todos", None) or []]
                + list(args.get("children") or []))
    if not children:
        raise InvalidInput("nothing to add: give text, todos or children", {"fields": ["text", "todos", "children"]})
    if len(children) > 100:
        raise InvalidInput(f"Notion adds at most 100 blocks per call; this call has {len(children)}",
                           {"field": "text"})
    args["children"] = children
    return args


def prepare_create_database(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    columns = dict(args.pop("columns", None) or {})
    if not any(isinstance(v, dict) and "title" in v for v in columns.values()):
        columns = {"Name": {"title": {}}, **columns}
    args["parent"] = {"type": "page_id", "page_id": args.pop("parent_page_id")}
    args["title"] = _rich_text(args["title"])
    args["initial_data_source"] = {"properties": columns}
    return args


def prepare_comment(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    args["parent"] = {"page_id": args.pop("page_id")}
    args["rich_text"] = _rich_text(args.pop("text"))
    return args
