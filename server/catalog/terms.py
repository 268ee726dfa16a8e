"""Text to index terms: the one analyser both tool fields and queries go through, so they meet."""

from __future__ import annotations

import re

import Stemmer

_STEMMER = Stemmer.Stemmer("english")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")
# Values whose kind is a word tools use: "is example.com up?" asks about a URL.
_VALUE_KINDS = (
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"), "email"),
    (re.compile(r"\bhttps?://|\b[\w-]+\.(?:com|org|net|io|dev|app|co|ai|de|uk)\b(?!@)"), "url"),
)
_HAS_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")  # cheap test first: most prose has no camelCase

# Function words plus the politeness and request framing of agent prompts ("could you please help
# me ..."): they say nothing about which tool is meant.
_STOPWORDS = """
a about above after again all also am an and any are as at be been being below between both but by
can could did do does doing during each either else etc few for from further had has have having he
her here hers him his how i if in into is it its itself just let me might more most must my myself
need needs no nor not now of off on once only or other our ours out over own please same shall she
should so some such than that the their them then there these they this those through to too under
until up upon very via was we were what when where whether which while who whom why will with
within would you your yours want wants like kindly help assist
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def slug_words(slug: str) -> str:
    """`GITHUB_CREATE_ISSUE` -> `github create issue`; camelCase and kebab-case too."""
    return " ".join(words(slug))


def words(text: str) -> list[str]:
    """Lower-case words, with camelCase and snake_case identifiers split apart."""
    if _HAS_CAMEL.search(text):
        text = _CAMEL.sub(" ", text)
    return _WORD.findall(text.lower())


def terms(text: str) -> list[str]:
    """Stemmed content words, in order, repeats kept; a URL or an e-mail address also says what it is."""
    kinds = []
    if "%" in text:  # "17.5% of 2,340" asks for a percentage as plainly as the word does
        text = text.replace("%", " percent ")
    if "." in text or "@" in text:
        kinds = [kind for pattern, kind in _VALUE_KINDS if pattern.search(text)]
    return _STEMMER.stemWords([w for w in words(text) if w not in STOPWORDS] + kinds)
