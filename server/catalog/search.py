"""The tool search index behind COMPOSIO_SEARCH_TOOLS and `concierge eval-search`.

Ranking (docs/search.md has the numbers behind each choice):

1. Lexical: BM25F over a tool's fields (name, description, parameters, tags, toolkit), each
   weighted by how much a match there says about the tool (`FIELD_WEIGHTS`).
2. Query understanding: a use case is split into intents; each is searched alone and the merged
   list mixes the whole request's scores with each intent's best, so every step of a multi-step
   request gets its tools near the top. Toolkits named in the request ("on github") are boosted.
3. Optional semantic signal (`concierge[semantic]`): sentence-embedding similarity fused with the
   lexical score; without the extra the index is purely lexical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from server.catalog.lexical import LexicalIndex
from server.catalog.model import Tool, Toolkit
from server.catalog.query import ToolkitMentions, action_words, split_intents
from server.catalog.terms import slug_words, terms

__all__ = ["IntentHits", "SearchHit", "SearchIndex", "UseCaseResult", "slug_words", "split_intents"]

# How much a query word found in each field counts, relative to the description.
FIELD_WEIGHTS = {"name": 3.0, "description": 1.0, "parameters": 0.5, "tags": 1.0, "toolkit": 1.0}
# BM25 length normalisation per field: descriptions vary in length, names and toolkit labels barely.
LENGTH_NORM = {"name": 0.5, "description": 0.75, "parameters": 0.75, "tags": 0.5, "toolkit": 0.3}
# Share of the merged score that comes from the whole request; the rest from the best single intent.
WHOLE_REQUEST_SHARE = 0.5
# Score multiplier for tools of a toolkit the request names ("... on github").
TOOLKIT_MENTION_BOOST = 1.25


@dataclass(frozen=True, slots=True)
class SearchHit:
    slug: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class IntentHits:
    """One sub-request of a use case and its best tools."""

    query: str
    hits: list[SearchHit]


@dataclass(frozen=True, slots=True)
class UseCaseResult:
    """Per-intent results and one merged ranking in which each intent's top tools come early."""

    intents: list[IntentHits]
    merged: list[SearchHit]


def tool_fields(tool: Tool, toolkit: Toolkit) -> dict[str, str]:
    """The searchable text of a tool, by field; the slug's toolkit prefix goes to the toolkit field."""
    action = tool.slug.removeprefix(toolkit.slug.upper() + "_")
    props = tool.input_schema.get("properties") or {}
    params = " ".join(f"{slug_words(k)} {v.get('description', '') if isinstance(v, dict) else ''}"
                      for k, v in props.items())
    return {
        "name": f"{slug_words(action)} {tool.name}",
        "description": tool.description,
        "parameters": params,
        "tags": " ".join(tool.tags),
        "toolkit": " ".join([slug_words(toolkit.slug), toolkit.name, *toolkit.aliases]),
    }


class SearchIndex:
    """Built once per catalog (a new catalog gets a new index); searches are read-only and thread-safe."""

    def __init__(self, toolkits: Sequence[Toolkit], *, semantic: bool | None = None) -> None:
        del semantic  # wired in with the semantic signal
        by_slug = {tk.slug: tk for tk in toolkits}
        self.tools: list[Tool] = [t for tk in toolkits for t in tk.tools.values()]
        self._position = {t.slug: i for i, t in enumerate(self.tools)}
        self._fields = [tool_fields(t, by_slug[t.toolkit]) for t in self.tools]
        self._lexical = LexicalIndex(self._fields, FIELD_WEIGHTS, LENGTH_NORM)
        toolkit_ids = {slug: i for i, slug in enumerate(by_slug)}
        self._toolkit_slugs = list(by_slug)
        self._toolkit_of = np.array([toolkit_ids[t.toolkit] for t in self.tools], dtype=np.int32)
        self._mentions = ToolkitMentions(toolkits)
        self._actions = action_words(t.name for t in self.tools)
        self.semantic = False

    def __len__(self) -> int:
        return len(self.tools)

    def split_intents(self, use_case: str) -> list[str]:
        """`split_intents` with this catalog's action verbs."""
        return split_intents(use_case, self._actions)

    def search(
        self,
        query: str,
        *,
        allowed: Set[str] | None = None,
        limit: int = 10,
        toolkit_boost: Mapping[str, float] | None = None,
    ) -> list[SearchHit]:
        """Best tools for one request, taken as a single intent, restricted to `allowed` slugs when given."""
        positions = self._allowed_positions(allowed)
        scores = self._scores(query, positions) * self._boosts(query, toolkit_boost, positions)
        return self._hits(scores, positions, limit, query)

    def search_use_case(
        self,
        use_case: str,
        *,
        allowed: Set[str] | None = None,
        limit: int = 10,
        toolkit_boost: Mapping[str, float] | None = None,
    ) -> UseCaseResult:
        """Each intent's best tools, and a merged ranking of the whole use case.

        The merged score of a tool is `WHOLE_REQUEST_SHARE` of its score for the whole text plus
        the rest of its best score for a single intent, each scaled to the best tool's score, so a
        tool that is top for one step ranks near the top even when other steps dominate the text.
        """
        positions = self._allowed_positions(allowed)
        intents = self.split_intents(use_case)
        boosts = self._boosts(use_case, toolkit_boost, positions)
        whole = _scaled(self._scores(use_case, positions) * boosts)
        if len(intents) == 1:
            hits = self._hits(whole, positions, limit, use_case)
            return UseCaseResult([IntentHits(intents[0], hits)], hits)
        per_intent = [_scaled(self._scores(text, positions) * boosts) for text in intents]
        best_single = np.max(per_intent, axis=0)
        merged = WHOLE_REQUEST_SHARE * whole + (1.0 - WHOLE_REQUEST_SHARE) * best_single
        return UseCaseResult(
            [IntentHits(text, self._hits(s, positions, limit, text)) for text, s in zip(intents, per_intent,
                                                                                        strict=True)],
            self._hits(merged, positions, limit, use_case),
        )

    # -- internals ---------------------------------------------------------------------------

    def _allowed_positions(self, allowed: Set[str] | None) -> np.ndarray | None:
        """Index positions of the allowed tools (None: all), cached for a session's repeated frozenset."""
        if allowed is None:
            return None
        if isinstance(allowed, frozenset):
            return self._frozen_positions(allowed)
        return self._positions_of(allowed)

    def _positions_of(self, allowed: Set[str]) -> np.ndarray:
        found = (self._position.get(slug) for slug in allowed)
        return np.sort(np.fromiter((p for p in found if p is not None), dtype=np.int64))

    @lru_cache(maxsize=64)  # noqa: B019 - the index lives as long as its catalog; entries are small
    def _frozen_positions(self, allowed: frozenset[str]) -> np.ndarray:
        return self._positions_of(allowed)

    def _scores(self, text: str, positions: np.ndarray | None) -> np.ndarray:
        scores = self._lexical.scores(self._lexical.term_ids(text))
        return scores if positions is None else scores[positions]

    def _boosts(self, text: str, toolkit_boost: Mapping[str, float] | None,
                positions: np.ndarray | None) -> np.ndarray | float:
        """Per-tool multipliers: the caller's toolkit boosts times the boost for toolkits the text names."""
        factors = {slug: TOOLKIT_MENTION_BOOST for slug in self._mentions.find(text)}
        for slug, factor in (toolkit_boost or {}).items():
            factors[slug] = factors.get(slug, 1.0) * factor
        if not factors:
            return 1.0
        per_toolkit = np.array([factors.get(slug, 1.0) for slug in self._toolkit_slugs], dtype=np.float32)
        toolkit_of = self._toolkit_of if positions is None else self._toolkit_of[positions]
        return per_toolkit[toolkit_of]

    def _hits(self, scores: np.ndarray, positions: np.ndarray | None, limit: int, text: str) -> list[SearchHit]:
        if limit <= 0 or not len(scores):
            return []
        k = min(limit, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        query_terms = set(terms(text))
        hits = []
        for i in top:
            if scores[i] <= 0:
                break
            tool = self.tools[i if positions is None else positions[i]]
            hits.append(SearchHit(tool.slug, round(float(scores[i]), 4), self._reason(tool, query_terms)))
        return hits

    def _reason(self, tool: Tool, query_terms: set[str]) -> str:
        """One line naming the request's words found in the tool's name, description or parameters."""
        fields = self._fields[self._position[tool.slug]]
        parts = []
        for field in ("name", "description", "parameters", "toolkit"):
            matched = sorted(query_terms.intersection(terms(fields[field])))
            if matched:
                parts.append(f"{field}: {', '.join(matched)}")
        return "; ".join(parts) or "similar in meaning"


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the best one, so different queries' scores can be mixed."""
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores
