"""The loaded catalog: every toolkit and tool by slug, near-match suggestions, and the search index."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

from server.catalog.embeddings import TextEncoder
from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkits
from server.catalog.model import Tool, Toolkit
from server.catalog.search import SearchIndex, embedded_text
from server.catalog.semantic import load_encoder
from server.catalog.toolkit_file import AuthSchemeFile
from server.errors import ConfigError, NotFound


def near_matches(word: str, pool: Iterable[str], n: int = 3) -> list[str]:
    """Close spellings first, then names that contain the word (so `ISSUE` finds `GITHUB_GET_ISSUE`)."""
    pool = list(pool)
    upper = {p.upper(): p for p in pool}
    close = [upper[m] for m in difflib.get_close_matches(word.upper(), list(upper), n=n, cutoff=0.6)]
    if len(close) < n:
        needle = word.upper().replace("-", "_")
        close += [p for p in pool if needle and needle in p.upper() and p not in close][: n - len(close)]
    return close


def apply_override(toolkit: Toolkit, override: Mapping[str, Any] | None) -> Toolkit:
    """The operator's `[toolkit_overrides.<slug>]`: other hosts for the API, the OAuth endpoints, a
    scheme's own base_url and the after-connect lookup (GitHub Enterprise, a regional host, a stand-in)."""
    if not override:
        return toolkit
    urls = {k: override[k] for k in ("authorize_url", "token_url", "revoke_url") if override.get(k)}
    scheme_urls: Mapping[str, str] = override.get("scheme_base_urls") or {}
    after_url = override.get("after_connect_url")

    def changed(scheme: AuthSchemeFile) -> AuthSchemeFile:
        update: dict[str, Any] = {}
        if scheme.oauth2 and urls:
            update["oauth2"] = scheme.oauth2.model_copy(update=urls)
        if scheme.type in scheme_urls:
            update["base_url"] = scheme_urls[scheme.type]
        if scheme.after_connect and after_url:
            update["after_connect"] = scheme.after_connect.model_copy(update={"url": after_url})
        return scheme.model_copy(update=update) if update else scheme

    return replace(
        toolkit,
        base_url=override.get("base_url") or toolkit.base_url,
        auth_schemes=tuple(changed(s) for s in toolkit.auth_schemes),
    )


class Catalog:
    def __init__(self, toolkits: Sequence[Toolkit], semantic: bool | None | TextEncoder = False) -> None:
        self.toolkits: dict[str, Toolkit] = {tk.slug: tk for tk in toolkits}
        self.tools: dict[str, Tool] = {t.slug: t for tk in toolkits for t in tk.tools.values()}
        self._semantic = semantic
        self.tags: frozenset[str] = frozenset(
            {tag for t in self.tools.values() for tag in t.tags}
            | {c for tk in self.toolkits.values() for c in tk.categories}
        )

    @cached_property
    def index(self) -> SearchIndex:
        """Built on first use: listing or showing toolkits (the CLI) needs no search index."""
        return SearchIndex(list(self.toolkits.values()), semantic=self._semantic)

    @property
    def encoder(self) -> TextEncoder | None:
        """The embedding model or service the index uses; None when it ranks lexically."""
        if self._semantic is False:
            return None
        if self._semantic is None or self._semantic is True:
            return load_encoder()
        return self._semantic

    def use_encoder(self, encoder: TextEncoder) -> None:
        """Rank with this encoder from now on (the index is rebuilt on next use)."""
        self._semantic = encoder
        self.__dict__.pop("index", None)

    def embedded_texts(self) -> list[str]:
        """What the index embeds, one text per tool."""
        return [embedded_text(t) for tk in self.toolkits.values() for t in tk.tools.values()]

    @classmethod
    def load(
        cls,
        paths: Sequence[Path],
        builtin: bool = True,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        semantic: bool | None | TextEncoder = False,
    ) -> Catalog:
        roots = ([BUILTIN_TOOLKITS] if builtin else []) + list(paths)
        toolkits = load_toolkits(roots)
        unknown = sorted(set(overrides or {}) - {tk.slug for tk in toolkits})
        if unknown:
            raise ConfigError(f"config: toolkit_overrides names unknown toolkits: {unknown}")
        return cls([apply_override(tk, (overrides or {}).get(tk.slug)) for tk in toolkits], semantic=semantic)

    def put_toolkit(self, toolkit: Toolkit) -> None:
        """Add or replace a toolkit at run time (an upstream MCP server's tools); the index is rebuilt on
        next use and callers must drop what they derived from the old catalog (session allowed sets)."""
        old = self.toolkits.get(toolkit.slug)
        for slug in old.tools if old else ():
            self.tools.pop(slug, None)
        clash = sorted(s for s in toolkit.tools if s in self.tools)
        if clash:
            raise ConfigError(f"toolkit {toolkit.slug!r}: tool slugs already used by another toolkit: {clash[:5]}")
        self.toolkits[toolkit.slug] = toolkit
        self.tools.update(toolkit.tools)
        self._changed()

    def remove_toolkit(self, slug: str) -> None:
        old = self.toolkits.pop(slug, None)
        for tool in old.tools if old else ():
            self.tools.pop(tool, None)
        self._changed()

    def _changed(self) -> None:
        self.__dict__.pop("index", None)
        self.tags = frozenset(
            {tag for t in self.tools.values() for tag in t.tags}
            | {c for tk in self.toolkits.values() for c in tk.categories}
        )

    def tool(self, slug: str) -> Tool | None:
        return self.tools.get(slug) or self.tools.get(slug.upper())

    def known_toolkit(self, slug: str) -> Toolkit:
        """The toolkit, or `NotFound` naming the nearest slugs (for the API, the CLI and auth configs alike)."""
        toolkit = self.toolkits.get(slug)
        if toolkit is None:
            near = near_matches(slug, self.toolkits)
            raise NotFound(
                f"toolkit {slug!r} not found" + (f"; did you mean {', '.join(near)}?" if near else ""),
                {"suggestions": near},
            )
        return toolkit

    def toolkit_of(self, tool: Tool) -> Toolkit:
        return self.toolkits[tool.toolkit]

    def tool_tags(self, tool: Tool) -> frozenset[str]:
        return frozenset(tool.tags) | frozenset(self.toolkits[tool.toolkit].categories)
