"""Saying plainly what the catalog cannot do: an app it does not have, or a request no tool covers.

Three signals (docs/search.md, "Absence"):

1. **A well-known app the catalog lacks** (known_apps.py), unless a toolkit, a tool name or one of
   the step's first tools speaks of it; names that are ordinary words only where app names stand.
2. **An app named by position that the catalog does not know.** A word is taken as an app name
   when it stands where people put app names: right before a thing that lives inside an app
   ("a zoom *meeting*", "my trello *card*", "the shopify *store*") or after "on / via / using /
   through" at the end of a step ("post it on twitter"); "in / to" only at the end of a step for
   a lower-case word the catalog never saw; what follows a colon is the message, not the app.
   It counts only when it is not a catalog toolkit's slug, name or alias, not a word of any tool's
   name, and either unknown to the catalog's vocabulary or written as a brand (camelCase, a dotted
   name like monday.com, a lone "X").
3. **A step nothing covers.** The step has content words the catalog has never seen and its best
   tool holds none of the others, or a short, weakly matched step asks for an everyday capability
   (weather, a flight, music) its best tool does not hold. Proper names and values (Capitalised
   words, numbers, #channels, addresses) are left out: they are arguments, not the action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from server.catalog.known_apps import AMBIGUOUS, APP_VERBS, APPS, CAPABILITIES
from server.catalog.terms import STOPWORDS, terms

# Things that live inside an app: a word right before one of these names the app ("zoom meeting").
_APP_OBJECTS = """
account accounts app apps base board boards call calls campaign campaigns card cards channel dyno envelope
feed instance instances item items meeting meetings message messages order orders payment payments payout
payouts playlist playlists post posts profile project projects record records recording store task tasks
ticket tickets video videos workspace invoice invoices opportunity opportunities webinar webinars
dashboard dashboards deal deals
"""
APP_OBJECTS = frozenset(_APP_OBJECTS.split())
# A step is unavailable when the IDF mass of its words the catalog never saw is more than this
# multiple of what its best tool matches, and that tool's lexical score is weak: below
# `WEAK_MATCH` times the IDF of a word seen once (what one rare matching word would score).
UNKNOWN_SHARE = 2.0
WEAK_MATCH = 1.0
# An everyday capability word its best tool lacks makes a step unavailable only when that tool
# matches the rest of the step weakly: below this many times the IDF of a word seen once.
CAPABILITY_MATCH = 1.5
# ... and only in a step of at most this many content words: in a long request such a word is more
# often a detail ("find houses with a garage and natural light") than the thing asked for.
CAPABILITY_STEP_TERMS = 8
_BEFORE_APP = frozenset({"on", "via", "using", "through"})
# "in salesforce", but also "in Osaka": only for words the catalog never saw
_INSIDE = frozenset({"in", "into"})
# "… to X" names a place to put things only after these verbs ("upload the video to youtube");
# after others it is as often a person ("assign it to kim").
_PUT_VERBS = frozenset({"save", "upload", "post", "publish", "export", "sync", "add", "share", "backup"})
# Words after an app name that make it a reference handed on, not the place the step happens.
_REFERENCES = frozenset({"link", "links", "url", "urls", "invite", "id", "handle", "username", "password"})
_MAKE = frozenset({"create", "make", "generate", "new", "add", "set", "get"})
_SEND = frozenset({"send", "write", "draft"})
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
        self._toolkit_phrases = set(toolkit_phrases)
        self._toolkit_words = {w for phrase in toolkit_phrases for w in phrase}
        self._name_terms = {t for w in name_words for t in terms(w)}

    def app_named(self, intent: str, said: Callable[[str], bool] = lambda _: False) -> str | None:
        """The app this step names that the catalog does not have; None when it names none.

        `said`: whether a tool found for the step names a phrase (a tool that speaks of the app covers it)."""
        head = intent.split(":", 1)[0]  # after a colon comes the content, not the app
        words = [w.strip(".,;!?'\"()[]") for w in head.split()]
        return self._well_known_app([w for w in words if w], said) or self._app_by_position(_TOKEN.findall(head))

    def _well_known_app(self, tokens: list[str], said: Callable[[str], bool]) -> str | None:
        """A well-known app (known_apps.py) the catalog lacks; an ordinary-word name only where apps stand."""
        lowered = [t.lower() for t in tokens]
        for size in (3, 2, 1):
            for i in range(len(tokens) - size + 1):
                phrase = tuple(lowered[i : i + size])
                name = APPS.get(phrase)
                if name is None:
                    continue
                placed = self._app_position(tokens, i, i + size - 1)
                if self._covered(phrase, placed) or (" ".join(phrase) not in APP_VERBS and said(" ".join(phrase))):
                    continue
                if any(_is_value(t) for t in tokens[i : i + size]):
                    continue
                after = tokens[i + size].lower() if i + size < len(tokens) else ""
                # "email Bob the figma link" hands on a value from the app; "create a calendly link" works in it
                if after in _REFERENCES and tokens[0].lower() not in _MAKE:
                    continue
                spelled = " ".join(phrase)
                if spelled in AMBIGUOUS and not placed:
                    continue
                if spelled in APP_VERBS and not self._acted_on(tokens, i):
                    continue
                if phrase == ("x",) and tokens[i] != "X":
                    continue
                return name
        return None

    def _covered(self, phrase: tuple[str, ...], placed: bool) -> bool:
        """A catalog toolkit's slug, name or alias, or (unless it stands where an app name goes) a word of
        a tool name: the catalog has that app after all ("teams" in GITHUB_LIST_TEAMS, but "the teams channel")."""
        stems = tuple(s for w in phrase for s in terms(w))
        if stems in self._toolkit_phrases:
            return True
        known = self._toolkit_words if placed else self._toolkit_words | self._name_terms
        return len(phrase) == 1 and bool(stems) and all(s in known for s in stems)

    def _app_position(self, tokens: list[str], first: int, last: int) -> bool:
        """Whether tokens[first..last] stand where an app name goes ("on X", "a zoom meeting", "to box")."""
        prev = next((t for t in reversed(tokens[:first]) if t.lower() not in _FILLER), "").lower()
        after = tokens[last + 1].lower() if last + 1 < len(tokens) else ""
        at_end = not after or after in _END
        put = prev == "to" and tokens[0].lower() in _PUT_VERBS
        branded = first > 0 and tokens[first][:1].isupper() and tokens[first].lower() not in ("i", "x")
        return branded or after in APP_OBJECTS or (at_end and (prev in _BEFORE_APP or prev in _INSIDE or put))

    @staticmethod
    def _acted_on(tokens: list[str], at: int) -> bool:
        """"tweet about the launch", "post a tweet": the word is the step's verb or the object of its verb."""
        prev = next((t for t in reversed(tokens[:at]) if t.lower() not in _FILLER), "").lower()
        return at == 0 or prev in {"and", "then"} or (prev == tokens[0].lower() and prev in _PUT_VERBS | _SEND)

    def _app_by_position(self, tokens: list[str]) -> str | None:
        """An unknown word (or one written as a brand) standing where an app name goes."""
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

    def check(
        self,
        intent: str,
        has_term: Callable[[int], bool] | None,
        best: float,
        found_tools_say: Callable[[str], bool] | None = None,
    ) -> Unavailable | None:
        """Why this step cannot be done here, or None when some tool plausibly does it.

        `has_term` asks the step's best tool whether it holds a term; `found_tools_say` asks any of its
        first few tools whether its name or description says a phrase: an app that one of them speaks
        of ("summarise a YouTube video") is not missing."""
        said = found_tools_say or (lambda _: False)
        app = self.app_named(intent, said)
        if app is not None:
            return Unavailable(intent, app)
        if has_term is None:
            return Unavailable(intent, None)
        found, unknown = self.coverage(intent, has_term)
        if unknown > UNKNOWN_SHARE * found and best < WEAK_MATCH * self._unknown_idf:
            return Unavailable(intent, None)
        weak = len(terms(intent)) <= CAPABILITY_STEP_TERMS and found < CAPABILITY_MATCH * self._unknown_idf
        if weak and self._needs_missing_capability(intent, has_term, said):
            return Unavailable(intent, None)
        return None

    def _needs_missing_capability(
        self, intent: str, has_term: Callable[[int], bool], said: Callable[[str], bool]
    ) -> bool:
        """The step asks for an everyday capability (weather, a flight, music) that its best tool does not hold."""
        for token in _TOKEN.findall(intent.split(":", 1)[0]):
            word = token.lower()
            if word not in CAPABILITIES or _is_value(token) or said(word):
                continue
            stems = terms(word)
            if stems and not any(s in self._name_terms for s in stems):
                tids = [self._vocabulary.get(s) for s in stems]
                if not any(t is not None and has_term(t) for t in tids):
                    return True
        return False
