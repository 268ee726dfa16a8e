"""The tool search index behind COMPOSIO_SEARCH_TOOLS and `concierge eval-search`.

Ranking (docs/search.md has the numbers behind each choice):

1. Lexical: BM25F over a tool's fields (name, description, parameters, tags, toolkit), each
   weighted by how much a match there says about the tool (`FIELD_WEIGHTS`).
2. Query understanding: a use case is split into intents; each is searched alone and the merged
   list mixes the whole request's scores with each intent's best, so every step of a multi-step
   request gets its tools near the top. Toolkits named in the request ("on github") are boosted.
3. Optional semantic signal (`concierge[semantic]`): sentence-embedding similarity, fused with the
   lexical score after putting both on one scale (z-scores); without the extra the index is
   purely lexical and nothing heavy is imported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from server.catalog.absence import AbsenceDetector, Unavailable
from server.catalog.embeddings import ProviderDown, TextEncoder
from server.catalog.lexical import LexicalIndex
from server.catalog.model import Tool, Toolkit
from server.catalog.query import ToolkitMentions, action_words, split_intents
from server.catalog.semantic import load_encoder
from server.catalog.terms import slug_words, terms, words
from server.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["IntentHits", "SearchHit", "SearchIndex", "UseCaseResult", "slug_words", "split_intents"]

# How much a query word found in each field counts, relative to the description.
FIELD_WEIGHTS = {"name": 3.0, "description": 1.0, "parameters": 0.5, "tags": 1.0, "toolkit": 1.0, "text": 1.0}
# BM25 length normalisation per field: descriptions vary in length, names and toolkit labels barely.
LENGTH_NORM = {"name": 0.5, "description": 0.75, "parameters": 0.75, "tags": 0.5, "toolkit": 0.3, "text": 0.75}
# Share of the merged score that comes from the whole request; the rest from the best single intent.
WHOLE_REQUEST_SHARE = 0.3
# Score multiplier for tools of a toolkit the request names ("... on github").
TOOLKIT_MENTION_BOOST = 1.1
# Share of the fused score that comes from embedding similarity when the semantic extra is on.
SEMANTIC_SHARE = 0.7
# Candidates looked at per listed tool when the catalog holds copies of a toolkit.
TWIN_LOOKAHEAD = 4
# Where a request naming a missing app may be cut into steps without a step word ("... and tweet it").
_AND_SPLIT = re.compile(r"\s*(?:,\s*)?\band\b\s*|\s*,\s*then\s+", re.IGNORECASE)
# Below this share of the catalog, an `allowed` filter is applied before the vector product.
_SUBSET_FIRST = 0.125


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A tool for a request; `score` is relative (the best tool of that search scores 1.0)."""

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
    merged: list[SearchHit]  # the ranking of the whole request, every step included
    unavailable: list[Unavailable] = field(default_factory=list)
    offered: list[SearchHit] = field(default_factory=list)  # merged over the steps some tool can do

    @property
    def nothing_fits(self) -> bool:
        """Every step is unavailable: `merged` then holds only the nearest tools, none of which does the job."""
        return bool(self.unavailable) and len(self.unavailable) >= len(self.intents)


def _schema_text(schema: Mapping[str, Any], depth: int = 0) -> list[str]:
    """Every name, description, enum value and example of a JSON Schema's properties, nested ones too."""
    out: list[str] = []
    props = schema.get("properties")
    for key, value in props.items() if isinstance(props, Mapping) else ():
        out.append(slug_words(str(key)))
        if not isinstance(value, Mapping):
            continue
        for attr in ("title", "description"):
            if isinstance(value.get(attr), str):
                out.append(value[attr])
        for attr in ("enum", "examples"):
            if isinstance(value.get(attr), list):
                out.extend(str(v) for v in value[attr] if isinstance(v, str | int | float))
        if "default" in value and isinstance(value["default"], str):
            out.append(value["default"])
        if depth < 3:
            out.extend(_schema_text(value, depth + 1))
            if isinstance(value.get("items"), Mapping):
                out.extend(_schema_text(value["items"], depth + 1))
    return out


def tool_fields(tool: Tool, toolkit: Toolkit) -> dict[str, str]:
    """The searchable text of a tool, by field: every piece of text the tool or its toolkit carries.

    `text` holds free text that is not the description: the schema's own description (where a
    corpus row's `raw_text` goes), the output description and the output schema's fields."""
    action = tool.slug.removeprefix(toolkit.slug.upper() + "_")
    free = [tool.input_schema.get("description"), tool.output_description]
    if tool.output_schema:
        free.extend(_schema_text(tool.output_schema))
        free.append(tool.output_schema.get("description"))
    return {
        "name": f"{slug_words(action)} {tool.name}",
        "description": tool.description,
        "parameters": " ".join(_schema_text(tool.input_schema)),
        "tags": " ".join(tool.tags),
        "toolkit": " ".join([slug_words(toolkit.slug), toolkit.name, *toolkit.aliases, *toolkit.categories]),
        "text": " ".join(t for t in free if isinstance(t, str) and t),
    }


def embedded_text(tool: Tool) -> str:
    """The text of a tool that the semantic signal embeds: its description says what it does."""
    return tool.description


class SearchIndex:
    """Built once per catalog (a new catalog gets a new index); searches only read it.

    `semantic`: False (default) ranks lexically; True requires the `semantic` extra; None uses it
    when installed; an encoder (server/catalog/embeddings.py) uses that model or service. A provider
    that fails ranks lexically instead, and says why once in the log.
    """

    def __init__(self, toolkits: Sequence[Toolkit], *, semantic: bool | None | TextEncoder = False) -> None:
        by_slug = {tk.slug: tk for tk in toolkits}
        self.tools: list[Tool] = [t for tk in toolkits for t in tk.tools.values()]
        self._position = {t.slug: i for i, t in enumerate(self.tools)}
        fields = [tool_fields(t, by_slug[t.toolkit]) for t in self.tools]
        self._lexical = LexicalIndex(fields, FIELD_WEIGHTS, LENGTH_NORM)
        # Copies of one toolkit (two upstream servers, a fork) carry the same name, action, description and
        # parameters: one signature id per distinct (toolkit name without digits, action, description,
        # parameter and free text), so copies don't fill a result list. Tools that only share a name and a
        # description but take other parameters (two APIs' "Get quote") are not copies.
        signatures: dict[tuple[str, str, str, str], int] = {}
        family = {slug: " ".join(words(re.sub(r"\d+", " ", tk.name))) for slug, tk in by_slug.items()}
        self._twin = np.array(
            [
                signatures.setdefault(
                    (
                        family[t.toolkit],
                        t.slug.removeprefix(t.toolkit.upper() + "_"),
                        " ".join(words(t.description)),
                        " ".join(words(f"{f['parameters']} {f['text']}")),
                    ),
                    len(signatures),
                )
                for t, f in zip(self.tools, fields, strict=True)
            ],
            dtype=np.int64,
        )
        self._has_twins = len(signatures) < len(self.tools)
        self._toolkit_slugs = list(by_slug)
        toolkit_ids = {slug: i for i, slug in enumerate(self._toolkit_slugs)}
        self._toolkit_of = np.array([toolkit_ids[t.toolkit] for t in self.tools], dtype=np.int32)
        self._mentions = ToolkitMentions(toolkits)
        self._names = ToolkitMentions(toolkits, aliases=False)
        self._actions = action_words(t.name for t in self.tools)
        self._absence = AbsenceDetector(
            self._lexical.vocabulary,
            self._lexical.idf,
            self._mentions.phrases,
            [w for t in self.tools for w in (t.name, slug_words(t.slug))],
        )
        self._encoder: TextEncoder | None = (
            semantic if not isinstance(semantic, bool | None) else load_encoder() if semantic is not False else None
        )
        if semantic is True and self._encoder is None:
            raise ConfigError("semantic search needs the extra: pip install 'concierge[semantic]'")
        self._provider_down_logged = False
        self._vectors: np.ndarray | None = None
        if self._encoder is not None:
            try:
                self._vectors = self._encoder.encode_corpus([embedded_text(t) for t in self.tools])
            except ProviderDown as exc:
                self._provider_down(exc)

    def __len__(self) -> int:
        return len(self.tools)

    @property
    def semantic(self) -> bool:
        """Whether embedding similarity is part of the ranking."""
        return self._encoder is not None and self._vectors is not None

    def _provider_down(self, exc: Exception) -> None:
        if not self._provider_down_logged:
            self._provider_down_logged = True
            log.warning(
                "embedding provider %s failed, ranking lexically until it answers: %s",
                getattr(self._encoder, "model", "?"),
                exc,
            )

    def toolkits_named(self, text: str) -> set[str]:
        """Toolkits the text names by slug or name (not by alias: "calendar" names no one app)."""
        return self._names.find(text)

    def split_intents(self, use_case: str) -> list[str]:
        """`split_intents` with this catalog's action verbs (the first words of its tool names)."""
        return split_intents(use_case, self._actions)

    def warm(self, use_cases: Iterable[str]) -> None:
        """Embed many use cases (and their intents) in batches ahead of searching them; no-op when lexical."""
        if self._encoder is not None:
            self._encoder.encode([t for u in use_cases for t in self.split_intents(u)])

    def search(
        self,
        query: str,
        *,
        allowed: Set[str] | None = None,
        limit: int = 10,
        toolkit_boost: Mapping[str, float] | None = None,
    ) -> list[SearchHit]:
        """Best tools for one request taken as a single intent, only among `allowed` slugs when given."""
        positions = self._allowed_positions(allowed)
        boosts = self._boosts(query, toolkit_boost, positions)
        (scores,) = self._scores([query], positions, boosts)
        return self._hits(scores, positions, limit, query)

    def search_use_case(
        self,
        use_case: str,
        *,
        allowed: Set[str] | None = None,
        limit: int = 10,
        toolkit_boost: Mapping[str, float] | None = None,
        check_absence: bool = True,
    ) -> UseCaseResult:
        """Each intent's best tools, and a merged ranking of the whole use case.

        The merged score of a tool is `WHOLE_REQUEST_SHARE` of its score for the whole text plus
        the rest of its best score for any single intent, each scaled to that text's best tool, so
        a tool that is top for one step ranks high even when other steps dominate the wording.
        """
        positions = self._allowed_positions(allowed)
        steps = self.split_intents(use_case)
        # A step naming a missing app may be cut further for the absence check; the ranking of the
        # whole request keeps the ordinary split.
        intents = (self._split_around_missing_apps(steps) if check_absence else None) or steps
        boosts = self._boosts(use_case, toolkit_boost, positions)
        strongest: dict[str, float] = {}  # each text's best unscaled lexical score, for the absence check
        if intents == [use_case]:  # one intent, the request itself: score it once
            per_intent = self._scores(intents, positions, boosts, strongest)
            whole = per_intent[0]
        else:
            whole, *per_intent = self._scores([use_case, *intents], positions, boosts, strongest)
        per_step = per_intent if intents is steps else self._scores(steps, positions, boosts)
        hits = [self._hits(s, positions, limit, text) for text, s in zip(intents, per_intent, strict=True)]
        missing = [
            self._absence.check(
                text, self._term_check(h[:1]), strongest[text], self._says(h[:5])
            )
            for text, h in zip(intents, hits, strict=True)
        ]
        unavailable = [m for m in missing if m is not None] if check_absence else []
        merged = self._hits(self._merge(whole, per_step, len(steps) == 1), positions, limit, use_case)
        if not unavailable:
            return UseCaseResult([IntentHits(t, h) for t, h in zip(intents, hits, strict=True)], merged, [], merged)
        # What can be done is ranked by its own steps only: the whole text's words would pull in tools
        # for the missing step ("create a zoom meeting" is not a calendar event).
        kept = [s for s, m in zip(per_intent, missing, strict=True) if m is None]
        offered = self._hits(np.max(kept, axis=0), positions, limit, use_case) if kept else []
        shown = [IntentHits(t, h if m is None else []) for t, h, m in zip(intents, hits, missing, strict=True)]
        return UseCaseResult(shown, merged, unavailable, offered)

    def _split_around_missing_apps(self, intents: list[str]) -> list[str] | None:
        """Intents with a step that names a missing app cut off at its "and" ("post it on slack and
        tweet it"), when the split leaves the rest a step of its own; None when nothing was cut."""
        out: list[str] = []
        for intent in intents:
            pieces = _AND_SPLIT.split(intent)
            if len(pieces) > 1 and self._absence.app_named(intent):
                with_app = [i for i, p in enumerate(pieces) if self._absence.app_named(p)]
                if with_app and len(with_app) < len(pieces):
                    out.extend(p for p in pieces if p.strip())
                    continue
            out.append(intent)
        return out if len(out) > len(intents) else None

    @staticmethod
    def _merge(whole: np.ndarray, per_intent: Sequence[np.ndarray], one_intent: bool) -> np.ndarray:
        if one_intent:
            return whole
        return WHOLE_REQUEST_SHARE * whole + (1.0 - WHOLE_REQUEST_SHARE) * np.max(per_intent, axis=0)

    def _says(self, hits: Sequence[SearchHit]) -> Callable[[str], bool]:
        """Does any of these tools name a phrase (whole words) in its name or description?"""
        texts = [self._spoken(self._position[h.slug]) for h in hits]
        return lambda phrase: any(f" {' '.join(words(phrase))} " in t for t in texts)

    @lru_cache(maxsize=4096)  # noqa: B019 - lives as long as the index
    def _spoken(self, doc: int) -> str:
        tool = self.tools[doc]
        return f" {' '.join(words(tool.name))} {' '.join(words(tool.description))} "

    def _term_check(self, hits: Sequence[SearchHit]) -> Callable[[int], bool] | None:
        """Does any of these tools hold a given term (any field)? None when the step found no tool."""
        if not hits:
            return None
        docs = [self._position[h.slug] for h in hits]
        return lambda term_id: any(self._lexical.has_term(term_id, doc) for doc in docs)

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

    @lru_cache(maxsize=64)  # noqa: B019 - lives as long as the index; a session reuses its frozenset
    def _frozen_positions(self, allowed: frozenset[str]) -> np.ndarray:
        return self._positions_of(allowed)

    def _scores(
        self,
        texts: Sequence[str],
        positions: np.ndarray | None,
        boosts: np.ndarray | float,
        strongest: dict[str, float] | None = None,
    ) -> list[np.ndarray]:
        """One score per (allowed) tool for each text, scaled so each text's best tool scores 1;
        `strongest` gets each text's best unscaled lexical score (how strongly any tool matches it)."""
        lexical = [self._lexical.scores(self._lexical.term_ids(terms(t))) for t in texts]
        if positions is not None:
            lexical = [s[positions] for s in lexical]
        if strongest is not None:
            strongest.update((t, float(s.max()) if len(s) else 0.0) for t, s in zip(texts, lexical, strict=True))
        if self._encoder is None or self._vectors is None:
            return [_scaled(s * boosts) for s in lexical]
        try:
            queries = self._query_vectors(texts)
        except ProviderDown as exc:
            self._provider_down(exc)
            return [_scaled(s * boosts) for s in lexical]
        self._provider_down_logged = False  # answered again: a later failure is news worth one line
        vectors = self._vectors
        if positions is not None and len(positions) < _SUBSET_FIRST * len(self.tools):
            vectors, positions = vectors[positions], None
        # One matrix-vector product per text, in numpy's own single-threaded loop (einsum): BLAS's
        # threads have long tails on a busy machine (5,000 tools: p50 15 ms through BLAS, 1.7 ms here).
        similarity = [np.einsum("ij,j->i", vectors, query) for query in queries]
        if positions is not None:
            similarity = [sim[positions] for sim in similarity]
        return [
            _scaled(np.exp((1.0 - SEMANTIC_SHARE) * _z(lex) + SEMANTIC_SHARE * _z(sim)) * boosts)
            for lex, sim in zip(lexical, similarity, strict=True)
        ]

    def _query_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts`; for [whole request, *intents] the whole is the mean of its intents.

        That measured within 0.1 NDCG@10 of embedding the whole text, and spares the model the
        longest input: the multi-step p99 drops from about 45 to 25 ms.
        """
        assert self._encoder is not None
        if len(texts) == 1:
            return self._encoder.encode(texts)
        parts = self._encoder.encode(texts[1:])
        whole = parts.mean(axis=0)
        return np.vstack([whole / (np.linalg.norm(whole) or 1.0), parts])

    def _boosts(
        self, text: str, toolkit_boost: Mapping[str, float] | None, positions: np.ndarray | None
    ) -> np.ndarray | float:
        """Per-tool multipliers: the caller's toolkit boosts times the boost for toolkits the text names."""
        factors = dict.fromkeys(self._mentions.find(text), TOOLKIT_MENTION_BOOST)
        for slug, factor in (toolkit_boost or {}).items():
            factors[slug] = factors.get(slug, 1.0) * factor
        if not factors:
            return 1.0
        per_toolkit = np.array([factors.get(slug, 1.0) for slug in self._toolkit_slugs], dtype=np.float32)
        return per_toolkit[self._toolkit_of if positions is None else self._toolkit_of[positions]]

    def _hits(self, scores: np.ndarray, positions: np.ndarray | None, limit: int, text: str) -> list[SearchHit]:
        if min(limit, len(scores)) <= 0:
            return []
        k = min(limit * TWIN_LOOKAHEAD if self._has_twins else limit, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        if self._has_twins:
            top = self._twins_last(top[scores[top] > 0], positions)[:limit]
        said = {stem: word for word in words(text) for stem in terms(word)}
        vocabulary = self._lexical.vocabulary
        term_words = {vocabulary[t]: word for t, word in said.items() if t in vocabulary}
        hits = []
        for i in top:
            if scores[i] <= 0:
                break
            doc = int(i if positions is None else positions[i])
            hits.append(SearchHit(self.tools[doc].slug, round(float(scores[i]), 4), self._reason(doc, term_words)))
        return hits

    def _twins_last(self, top: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
        """`top` with every copy of an already listed tool moved behind the distinct tools."""
        docs = top if positions is None else positions[top]
        seen: set[int] = set()
        first: list[int] = []
        later: list[int] = []
        for i, doc in zip(top, docs, strict=True):
            signature = int(self._twin[doc])
            (later if signature in seen else first).append(i)
            seen.add(signature)
        return np.array(first + later, dtype=np.int64)

    def _reason(self, doc: int, term_words: Mapping[int, str]) -> str:
        """One line naming the request's words found in the tool, by field."""
        by_field: dict[str, list[str]] = {field: [] for field in self._lexical.fields}
        for term_id, word in term_words.items():
            for name in self._lexical.matched_fields(term_id, doc):
                by_field[name].append(word)
        parts = [f"{name} has {', '.join(sorted(ws))}" for name, ws in by_field.items() if ws]
        return "; ".join(parts) or "close in meaning to the request"


def _scaled(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the best one, so that different texts' scores can be mixed."""
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


def _z(scores: np.ndarray) -> np.ndarray:
    """Standard scores: puts BM25 points and cosine similarities on one scale."""
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)
