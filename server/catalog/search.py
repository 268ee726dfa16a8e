"""The tool search index behind COMPOSIO_SEARCH_TOOLS and `concierge eval-search`.

Lexical BM25 (bm25s) over a text built from each tool's fields. Built once per catalog; a new
catalog gets a new index.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from server.catalog.model import Tool, Toolkit

_STEMMER = Stemmer.Stemmer("english")


@dataclass(frozen=True, slots=True)
class SearchHit:
    slug: str
    score: float
    reason: str


def slug_words(slug: str) -> str:
    """`GITHUB_CREATE_ISSUE` -> `github create issue`; camelCase too."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", slug)
    return re.sub(r"[_\-./]+", " ", spaced).lower()


def tool_text(tool: Tool, toolkit: Toolkit) -> str:
    props = tool.input_schema.get("properties") or {}
    params = " ".join(f"{slug_words(k)} {v.get('description', '')}" for k, v in props.items() if isinstance(v, dict))
    return " ".join([
        slug_words(tool.slug), tool.name, tool.description, params, " ".join(tool.tags),
        toolkit.name, " ".join(toolkit.aliases),
    ])


def _tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)


class SearchIndex:
    def __init__(self, toolkits: Sequence[Toolkit]) -> None:
        self.tools: list[Tool] = [t for tk in toolkits for t in tk.tools.values()]
        self._position = {t.slug: i for i, t in enumerate(self.tools)}
        by_slug = {tk.slug: tk for tk in toolkits}
        corpus = [tool_text(t, by_slug[t.toolkit]) for t in self.tools]
        self._bm25 = bm25s.BM25()
        if corpus:
            self._bm25.index(_tokenize(corpus), show_progress=False)

    def __len__(self) -> int:
        return len(self.tools)

    def search(
        self,
        query: str,
        *,
        allowed: Set[str] | None = None,
        limit: int = 10,
        toolkit_boost: Mapping[str, float] | None = None,
    ) -> list[SearchHit]:
        """Best tools for one use case, restricted to `allowed` slugs when given."""
        if not self.tools:
            return []
        tokens = _tokenize([query])[0]
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
        if toolkit_boost:
            for i, tool in enumerate(self.tools):
                scores[i] *= toolkit_boost.get(tool.toolkit, 1.0)
        order = np.argsort(-scores, kind="stable")
        hits: list[SearchHit] = []
        for i in order:
            if scores[i] <= 0 or len(hits) >= limit:
                break
            tool = self.tools[i]
            if allowed is not None and tool.slug not in allowed:
                continue
            hits.append(SearchHit(tool.slug, float(scores[i]), f"matches '{query[:60]}' in {tool.name}"))
        return hits
