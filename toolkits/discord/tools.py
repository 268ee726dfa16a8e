"""Discord refuses an empty message with code 50006; say so before sending, naming the two fields."""

from __future__ import annotations

from typing import Any

from server.errors import InvalidInput


def require_content_or_embeds(arguments: dict[str, Any]) -> dict[str, Any]:
    if not arguments.get("content") and not arguments.get("embeds"):
        raise InvalidInput("a Discord message needs `content` (text) or `embeds`; give at least one")
    return arguments
