"""Query understanding: split a use case into intents, and spot toolkit names and aliases in it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from server.catalog.model import Toolkit
from server.catalog.terms import terms, words

MIN_INTENT_TERMS = 2  # a fragment with fewer content words (values aside) is context for its neighbour
MAX_INTENTS = 8  # a longer request keeps its first intents; the whole text is searched as well

# Sentence ends, and the words people use to chain steps ("..., then ...", "Finally, ...").
_STEP = (
    r"(?:and\s+)?(?:then|after\s+that|afterwards|next|finally|lastly|additionally|also|furthermore|"
    r"moreover|besides)\b,?\s*"
)
_BOUNDARY = re.compile(rf"(?:(?<=[.!?;])\s+|\n+|^\s*)(?:{_STEP})?|,?\s+{_STEP}", re.IGNORECASE)
_AND = re.compile(r"(?:,?\s+and\s+|,\s*)(\w+)", re.IGNORECASE)

# Verbs that start a new request after "and" whatever the catalog; each catalog adds the first
# words of its own tool names ("create" from GITHUB_CREATE_ISSUE).
_COMMON_ACTIONS = """
add analyze archive book calculate cancel check compare compute convert copy count create delete download
draft edit email estimate export fetch find forward generate get invite list look lookup make merge move
notify open order parse pay plan post predict publish read remove rename reply request reserve
retrieve run save schedule search send set share show sort start stop submit summarize tell track
translate tweet update upload validate write
"""
COMMON_ACTIONS = frozenset(_COMMON_ACTIONS.split())


def _spans(text: str, boundary: re.Pattern[str]) -> list[tuple[int, int]]:
    """The (start, end) of the pieces of `text` between matches of `boundary`."""
    spans, pos = [], 0
    for m in boundary.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return spans


def _action_terms(text: str) -> list[str]:
    """The terms that can say what to do: values (numbers, codes with digits, single letters such as
    the N of "44.35 N") are arguments, so a fragment of values is context, not an intent."""
    return [t for t in terms(text) if len(t) > 1 and not any(c.isdigit() for c in t)]


def _glue(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge spans too small to be an intent into their neighbour (the previous one when there is one)."""
    out: list[tuple[int, int]] = []
    carry: tuple[int, int] | None = None  # too-small leading spans, waiting for the next one
    for lo, hi in spans:
        if not text[lo:hi].strip():
            continue
        lo = carry[0] if carry else lo
        if len(_action_terms(text[lo:hi])) >= MIN_INTENT_TERMS:
            out.append((lo, hi))
            carry = None
        elif out:
            out[-1] = (out[-1][0], hi)
        else:
            carry = (lo, hi)
    return out + [carry] if carry else out


def split_intents(use_case: str, actions: frozenset[str] = COMMON_ACTIONS) -> list[str]:
    """Sub-requests of a multi-step use case, in order; a single-intent request comes back whole.

    Splits at sentence ends and step words ("then", "finally", ...), at "and" followed by an
    action verb ("find the invoice email and post its total to #finance"), so "Google and Bing
    search engines" stays one request, and at a comma followed by a common action verb
    ("check my calendar, email Bob the agenda"). Fragments with too few content words stay with a neighbour.
    """
    text = use_case.strip()
    spans: list[tuple[int, int]] = []
    for lo, hi in _glue(text, _spans(text, _BOUNDARY)):
        cuts = [(lo, lo)]
        for m in _AND.finditer(text, lo, hi):
            verb = m.group(1).lower()
            # after a bare comma only the common verbs: catalogs' own first words split lists of nouns
            if verb in (actions if "and" in m.group(0).lower() else COMMON_ACTIONS):
                cuts.append((m.start(), m.start(1)))
        bounds = [(cuts[i][1], cuts[i + 1][0] if i + 1 < len(cuts) else hi) for i in range(len(cuts))]
        spans.extend(_glue(text, bounds))
    intents = [text[lo:hi].strip(" ,.;:!?\n") for lo, hi in spans[:MAX_INTENTS]]
    return [i for i in intents if i] or [text]


def action_words(tool_names: Iterable[str]) -> frozenset[str]:
    """The first word of each tool name: what this catalog's requests start their steps with."""
    return COMMON_ACTIONS | {ws[0] for ws in map(words, tool_names) if ws and len(ws[0]) > 2}


class ToolkitMentions:
    """Finds toolkits named in a request by slug, name or alias ("gh", "google sheets")."""

    def __init__(self, toolkits: Sequence[Toolkit], *, aliases: bool = True) -> None:
        self._phrases: dict[tuple[str, ...], set[str]] = {}
        for tk in toolkits:
            for label in {tk.slug, tk.name, *(tk.aliases if aliases else ())}:
                phrase = tuple(terms(label))
                if phrase:
                    self._phrases.setdefault(phrase, set()).add(tk.slug)
        self._longest = max((len(p) for p in self._phrases), default=0)

    @property
    def phrases(self) -> list[tuple[str, ...]]:
        """Every toolkit slug, name and alias, as analysed terms."""
        return list(self._phrases)

    def find(self, text: str) -> set[str]:
        """Slugs of toolkits whose name or alias occurs in `text` as whole words."""
        seq = terms(text)
        found: set[str] = set()
        for size in range(1, self._longest + 1):
            for i in range(len(seq) - size + 1):
                found |= self._phrases.get(tuple(seq[i : i + size]), set())
        return found
