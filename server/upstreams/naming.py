"""Catalog slugs for an upstream's tools: `NAME_TOOL`, upper case, at most 64 characters, unique."""

from __future__ import annotations

import hashlib
import re

MAX_SLUG = 64
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^A-Z0-9]+")


def tool_slug(upstream: str, tool_name: str, taken: set[str]) -> str:
    """`getTinyImage` on upstream `everything` -> `EVERYTHING_GET_TINY_IMAGE`. A name that is too long
    or collides after normalising (`get-sum` and `get_sum`) keeps a short digest of the original name."""
    prefix = upstream.upper() + "_"
    body = _NOT_WORD.sub("_", _CAMEL.sub("_", tool_name).upper()).strip("_") or "TOOL"
    slug = prefix + body
    if len(slug) > MAX_SLUG or slug in taken:
        digest = hashlib.sha256(tool_name.encode()).hexdigest()[:6].upper()
        slug = (prefix + body)[: MAX_SLUG - len(digest) - 1].rstrip("_") + "_" + digest
    return slug
