"""GitHub's contents API speaks base64; agents read and write text. These hooks translate at the edge, so a
file is written from plain `text` and read back as `text` (binary files keep their base64 `content`)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from server.errors import InvalidInput


def encode_file_content(arguments: dict[str, Any]) -> dict[str, Any]:
    """`text` (plain) becomes GitHub's base64 `content`; an explicit base64 `content` passes through."""
    text = arguments.pop("text", None)
    if text is None:
        if "content" not in arguments:
            raise InvalidInput("give the new file content as `text` (plain text) or `content` (base64)")
        return arguments
    if "content" in arguments:
        raise InvalidInput("give either `text` (plain text) or `content` (base64), not both")
    return {**arguments, "content": base64.b64encode(str(text).encode("utf-8")).decode("ascii")}


def decode_file_content(data: Any) -> Any:
    """A file's base64 `content` as UTF-8 `text` when it is text; folders and binary files unchanged."""
    if not (isinstance(data, dict) and data.get("type") == "file" and data.get("encoding") == "base64"
            and isinstance(data.get("content"), str)):
        return data
    try:
        text = base64.b64decode(data["content"]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return data
    return {**{k: v for k, v in data.items() if k not in ("content", "encoding")}, "encoding": "utf-8", "text": text}
