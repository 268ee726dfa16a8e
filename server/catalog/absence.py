"""Saying plainly what the catalog cannot do: an app it does not have, or a request no tool covers.

Two general signals, no list of known apps (docs/search.md, "Absence"):

1. **An app named in the request that the catalog does not know.** A word is taken as an app name
   when it stands where people put app names: right before a thing that lives inside an app
   ("a zoom *meeting*", "my trello *card*", "the shopify *store*") or after "on / via / using /
   through" at the end of a step ("post it on twitter"); "in / to / from" are left out, they name
   places and people as often as apps, and so is what follows a colon (the message, not the app).
   It counts only when it is not a catalog toolkit's slug, name or alias, not a word of any tool's
   name, and either unknown to the catalog's vocabulary or written as a brand (camelCase, a dotted
   name like monday.com, a lone "X").
2. **A step nothing covers.** The step has content words the catalog has never seen and its best
   tool holds none of the others. Proper names and values (Capitalised words, numbers, #channels,
   addresses) are left out: they are arguments, not the action. Measured stricter rules (a
   threshold on the share of IDF mass the best tool holds) flagged chatty positive requests
   too often; see docs/search.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from server.catalog.terms import STOPWORDS, terms

# Things that live inside an app: a word right before one of these names the app ("zoom meeting").
_APP_OBJECTS = """
account accounts app apps base board boards call calls campaign campaigns card cards channel dyno envelope
feed instance instances item items meeting meetings message messages order orders payment payments payout
payouts playlist playlists post posts profile project projects record records recording store task tasks
ticket tickets video videos workspace invoice invoices opportunity opportunities
"""
APP_OBJECTS = frozenset(_APP_OBJECTS.split())
# A step is unavailable when the IDF mass of its words the catalog never saw is more than this
# multiple of what its best tool matches, and that tool's lexical score is weak: below
# `WEAK_MATCH` times the IDF of a word seen once (what one rare matching word would score).
UNKNOWN_SHARE = 2.0
WEAK_MATCH = 1.0
_BEFORE_APP = frozenset({"on", "via", "using", "through"})
# "in salesforce", but also "in Osaka": only for words the catalog never saw
_INSIDE = frozenset({"in", "into"})
# "… to X" names a place to put things only after these verbs ("upload the video to youtube");
# after others it is as often a person ("assign it to kim").
_PUT_VERBS = frozenset({"save", "upload", "post", "publish", "export", "sync", "add", "share", "backup"})
_FILLER = frozenset({"my", "our", "the", "a", "an", "your", "their", "his", "her"})
_TOKEN = re.compile(r"[A-Za-z0-9#@][\w.@'\-]*[\w]|[A-Za-z0-9]")
_END = frozenset({"and", "then", "for", "to", "with", "about", "saying", "that", "in", "on", "at"})
_BRAND_SHAPE = re.compile(r"^[a-z]+[A-Z]\w*$|^\w+\.(com|io|app|ai|so)$")


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A step of a request that no tool covers; `app` is the app it names, as written, when it names one."""

    intent: str
    app: str | None

    @property
    def message(self) -> str:
        if self.app:
            return (
                f"{self.app} is not available: no tool in this catalog covers it, so this step "
                f"('{self.intent}') cannot be done here."
            )
        return f"No tool in this catalog can do this step ('{self.intent}'); it is not available."


def _is_value(token: str) -> bool:
    """Arguments rather than words of the action: numbers, #channels, @handles, addresses, paths."""
    return any(c.isdigit() for c in token) or token[0] in "#@" or "@" in token or "/" in token


class AbsenceDetector:
    """Built with the search index from its vocabulary; `check` reads only."""

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        idf: Collection[float],
        toolkit_phrases: Collection[tuple[str, ...]],
        name_words: Collection[str],
    ) -> None:
        self._vocabulary = vocabulary
        self._idf = list(idf)
        self._unknown_idf = max(self._idf, default=1.0)
        self._toolkit_words = {w for phrase in toolkit_phrases for w in phrase}
        self._name_terms = {t for w in name_words for t in terms(w)}

    def app_named(self, intent: str) -> str | None:
        """The app this step names that the catalog does not have, as written; None when it names none."""
        tokens = _TOKEN.findall(intent.split(":", 1)[0])  # after a colon comes the content, not the app
        for i, token in enumerate(tokens):
            if _is_value(token) or token.lower() in STOPWORDS or len(token) < 2 and token != "X":
                continue
            prev = next((t for t in reversed(tokens[:i]) if t.lower() not in _FILLER), "").lower()
            after = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            at_end = not after or after in _END
            put = prev == "to" and bool(tokens) and tokens[0].lower() in _PUT_VERBS
            inside = at_end and (prev in _INSIDE or put) and token.islower() and not self._seen(token)
            if (after in APP_OBJECTS or (at_end and prev in _BEFORE_APP) or inside) and not self._known(token):
                return token
        return None

    def _seen(self, token: str) -> bool:
        return all(s in self._vocabulary for s in terms(token))

    def _known(self, token: str) -> bool:
        """A toolkit's name or alias, a word of a tool name, or an ordinary catalog word not written as a brand."""
        stems = terms(token)
        if not stems or any(s in self._toolkit_words for s in stems) or token.lower() in APP_OBJECTS:
            return True
        if any(s in self._name_terms for s in stems):
            return True
        brand_written = bool(_BRAND_SHAPE.match(token)) or token == "X"
        in_vocabulary = all(s in self._vocabulary for s in stems)
        return in_vocabulary and not brand_written

    def coverage(self, intent: str, has_term: Callable[[int], bool]) -> tuple[float, float]:
        """IDF mass of the step's content words that the best tool holds, and of words the catalog never saw."""
        found = unknown = 0.0
        for token in _TOKEN.findall(intent):
            if _is_value(token) or (token[:1].isupper() and not intent.startswith(token)):
                continue
            for stem in terms(token):
                tid = self._vocabulary.get(stem)
                if tid is None:
                    unknown += self._unknown_idf
                elif has_term(tid):
                    found += self._idf[tid]
        return found, unknown

    def check(self, intent: str, has_term: Callable[[int], bool] | None, best: float) -> Unavailable | None:
        """Why this step cannot be done here, or None when some tool plausibly does it."""
        app = self.app_named(intent)
        if app is not None:
            return Unavailable(intent, app)
        if has_term is None:
            return Unavailable(intent, None)
        found, unknown = self.coverage(intent, has_term)
        if unknown > UNKNOWN_SHARE * found and best < WEAK_MATCH * self._unknown_idf:
            return Unavailable(intent, None)
        return None
