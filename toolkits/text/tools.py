"""Text tools: regex extraction, diffs, statistics, case conversion, slugs, word counts, find and replace.

Python's `re` cannot be interrupted once a match starts, so a pattern written by the agent (which may
backtrack catastrophically, like `(a+)+$`) runs in a short-lived child interpreter that is killed when
it overruns its time budget; so does a diff of long texts (quadratic at worst). Everything else is
linear-time and runs in-process.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from typing import Any

from server.errors import ToolError
from server.values import ToolContext

DEFAULT_REGEX_TIMEOUT = 2.0  # seconds; `toolkit_settings.text.regex_timeout` overrides
DEFAULT_DIFF_TIMEOUT = 20.0  # seconds, below the executor's 60 s; `toolkit_settings.text.diff_timeout` overrides
IN_PROCESS_DIFF_CHARS = 20_000
CHILD_MEMORY_BYTES = 512 * 1024 * 1024
_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL, "verbose": re.VERBOSE,
          "ascii": re.ASCII}

# Runs in a fresh interpreter (-I -S: no site-packages, no environment), reads one job as JSON on stdin.
_CHILD = r"""
import json, re, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (%(memory)d, %(memory)d))
    resource.setrlimit(resource.RLIMIT_CPU, (%(cpu)d, %(cpu)d + 1))
except (ImportError, ValueError, OSError):
    pass
job = json.loads(sys.stdin.read())
try:
    rx = re.compile(job["pattern"], job["flags"])
    if job["op"] == "find":
        out, more = [], False
        for m in rx.finditer(job["text"]):
            if len(out) == job["limit"]:
                more = True
                break
            out.append({"match": m.group(0), "start": m.start(), "end": m.end(), "groups": list(m.groups()),
                        "named": m.groupdict()})
        result = {"matches": out, "more": more}
    else:
        text, count = rx.subn(job["replacement"], job["text"], count=job["limit"])
        result = {"text": text, "count": count}
except (re.error, IndexError) as exc:
    result = {"error": str(exc)}
except MemoryError:
    result = {"error": "the match needed too much memory"}
sys.stdout.write(json.dumps(result))
"""


def _flags(names: list[str]) -> int:
    value = 0
    for name in names:
        value |= _FLAGS[name]
    return value


def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    """Compile in-process only to report syntax errors with their position; matching happens in the child."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ToolError(f"Invalid regular expression: {exc.msg} at position {exc.pos}.",
                        details={"pattern": pattern, "position": exc.pos}) from None


def _run_guarded(job: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Run one regex job in a child interpreter with a wall-clock, CPU and memory budget."""
    timeout = float(ctx.settings.get("regex_timeout", DEFAULT_REGEX_TIMEOUT))
    code = _CHILD % {"memory": CHILD_MEMORY_BYTES, "cpu": math.ceil(timeout) + 1}
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], input=json.dumps(job), capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"The regular expression took longer than {timeout:g}s and was stopped. This usually means "
            "catastrophic backtracking: avoid nested quantifiers like (a+)+ or (.*)* and anchor the pattern.",
            details={"pattern": job["pattern"], "timeout_seconds": timeout},
        ) from None
    if proc.returncode != 0 or not proc.stdout:
        raise ToolError("The regular expression could not be run (it exceeded the memory or CPU limit).",
                        details={"pattern": job["pattern"], "exit_code": proc.returncode})
    result: dict[str, Any] = json.loads(proc.stdout)
    if "error" in result:
        raise ToolError(f"Regular expression failed: {result['error']}.", details={"pattern": job["pattern"]})
    return result


def regex_extract(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Every match of a pattern in a text, with groups and positions."""
    pattern, text = str(arguments["pattern"]), str(arguments["text"])
    flags = _flags(arguments.get("flags", []))
    compiled = _compile(pattern, flags)
    group = arguments.get("group", 0)
    if isinstance(group, str) and group not in compiled.groupindex:
        raise ToolError(f"The pattern has no group named {group!r}.",
                        details={"named_groups": sorted(compiled.groupindex)})
    if isinstance(group, int) and group > compiled.groups:
        raise ToolError(f"The pattern has only {compiled.groups} group(s); group {group} does not exist.",
                        details={"groups": compiled.groups})
    limit = int(arguments.get("max_matches", 100))
    found = _run_guarded({"op": "find", "pattern": pattern, "flags": flags, "text": text, "limit": limit}, ctx)
    matches = found["matches"]
    index = compiled.groupindex[group] if isinstance(group, str) else group
    values = [m["match"] if index == 0 else m["groups"][index - 1] for m in matches]
    if arguments.get("unique", False):
        values = list(dict.fromkeys(values))
    return {"pattern": pattern, "count": len(matches), "truncated": found["more"], "values": values,
            "matches": matches}


def find_replace(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Replace a literal string or a regex in a text; literal searches never need the child process."""
    text, find, replacement = str(arguments["text"]), str(arguments["find"]), str(arguments["replace"])
    use_regex = bool(arguments.get("regex", False))
    case_sensitive = bool(arguments.get("case_sensitive", True))
    whole_word = bool(arguments.get("whole_word", False))
    # a text of n characters has at most n + 1 matches; a larger limit (any JSON integer) means "all"
    limit = min(int(arguments.get("max_replacements", 0)), len(text) + 1)
    flags = 0 if case_sensitive else re.IGNORECASE
    if use_regex:
        pattern = rf"\b(?:{find})\b" if whole_word else find
        _compile(pattern, flags)
        done = _run_guarded({"op": "sub", "pattern": pattern, "flags": flags, "text": text,
                             "replacement": replacement, "limit": limit}, ctx)
        new_text, count = done["text"], done["count"]
    elif case_sensitive and not whole_word:
        count = text.count(find) if limit == 0 else min(text.count(find), limit)
        new_text = text.replace(find, replacement, limit or -1)
    else:  # an escaped literal cannot backtrack, so it is safe in-process
        pattern = rf"\b{re.escape(find)}\b" if whole_word else re.escape(find)
        new_text, count = re.subn(pattern, lambda _: replacement, text, count=limit, flags=flags)
    return {"text": new_text, "replacements": count, "changed": new_text != text}


# ---------------------------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------------------------

def _diff_core(original: str, modified: str, mode: str, from_label: str, to_label: str,
               context_lines: int) -> dict[str, Any]:
    """The diff itself; pure (difflib and re only), so it can run in a child interpreter as well."""
    if mode == "words":
        a, b = re.findall(r"\S+|\s+", original), re.findall(r"\S+|\s+", modified)
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        pieces: list[str] = []
        changes: list[dict[str, str]] = []
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
            if op == "equal":
                pieces.append(old)
                continue
            changes.append({"type": {"replace": "changed", "delete": "removed", "insert": "added"}[op],
                            "old": old, "new": new})
            pieces.append((f"[-{old}-]" if old else "") + (f"{{+{new}+}}" if new else ""))
        return {"identical": not changes, "similarity": round(matcher.ratio(), 4), "inline": "".join(pieces),
                "changes": changes}
    a_lines, b_lines = original.splitlines(), modified.splitlines()
    lines = list(difflib.unified_diff(a_lines, b_lines, fromfile=from_label, tofile=to_label, n=context_lines,
                                      lineterm=""))
    body = [line for line in lines[2:] if not line.startswith("@@")]
    return {
        "identical": not lines,
        "diff": "\n".join(lines),
        "lines_added": sum(1 for line in body if line.startswith("+")),
        "lines_removed": sum(1 for line in body if line.startswith("-")),
        "similarity": round(difflib.SequenceMatcher(None, a_lines, b_lines).ratio(), 4),
    }


_DIFF_CHILD = r"""
import difflib, json, os, re, sys
from typing import Any
try:
    os.nice(10)  # below the server: a long diff must not slow down other sessions' calls
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (%(memory)d, %(memory)d))
    resource.setrlimit(resource.RLIMIT_CPU, (%(cpu)d, %(cpu)d + 1))
except (ImportError, ValueError, OSError):
    pass
""" + inspect.getsource(_diff_core) + r"""
try:
    result = _diff_core(**json.loads(sys.stdin.read()))
except MemoryError:
    result = {"error": "the diff needed too much memory"}
sys.stdout.write(json.dumps(result))
"""


def diff(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Unified line diff, or an inline word diff for prose.

    Matching is quadratic at worst, so beyond `IN_PROCESS_DIFF_CHARS` it runs in a child interpreter
    that is killed at `toolkit_settings.text.diff_timeout`: a thread could not be stopped.
    """
    job = {"original": str(arguments["original"]), "modified": str(arguments["modified"]),
           "mode": arguments.get("mode", "lines"), "from_label": str(arguments.get("from_label", "original")),
           "to_label": str(arguments.get("to_label", "modified")),
           "context_lines": int(arguments.get("context_lines", 3))}
    if len(job["original"]) + len(job["modified"]) <= IN_PROCESS_DIFF_CHARS:
        return _diff_core(**job)
    timeout = float(ctx.settings.get("diff_timeout", DEFAULT_DIFF_TIMEOUT))
    code = _DIFF_CHILD % {"memory": CHILD_MEMORY_BYTES, "cpu": math.ceil(timeout) + 1}
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], input=json.dumps(job), capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"The diff took longer than {timeout:g}s and was stopped: the texts are too long or too "
                        "different to compare this way; compare smaller parts, or use mode 'lines' instead of "
                        "'words'.", details={"timeout_seconds": timeout}) from None
    result: dict[str, Any] = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout else {
        "error": "it exceeded the memory or CPU limit"}
    if "error" in result:
        raise ToolError(f"The diff could not be computed: {result['error']}; compare smaller parts.",
                        details={"exit_code": proc.returncode})
    return result


# ---------------------------------------------------------------------------------------------
# Statistics and words
# ---------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_STOPWORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "aren't", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "can't",
    "cannot", "could", "couldn't", "did", "didn't", "do", "does", "doesn't", "doing", "don't", "down", "during",
    "each", "few", "for", "from", "further", "had", "hadn't", "has", "hasn't", "have", "haven't", "having", "he",
    "he'd", "he'll", "he's", "her", "here", "here's", "hers", "herself", "him", "himself", "his", "how", "how's",
    "i", "i'd", "i'll", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just",
    "let's", "me", "more", "most", "mustn't", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "same", "shan't",
    "she", "she'd", "she'll", "she's", "should", "shouldn't", "so", "some", "such", "than", "that", "that's",
    "the", "their", "theirs", "them", "themselves", "then", "there", "there's", "these", "they", "they'd",
    "they'll", "they're", "they've", "this", "those", "through", "to", "too", "under", "until", "up", "very",
    "was", "wasn't", "we", "we'd", "we'll", "we're", "we've", "were", "weren't", "what", "what's", "when",
    "when's", "where", "where's", "which", "while", "who", "who's", "whom", "why", "why's", "will", "with",
    "won't", "would", "wouldn't", "you", "you'd", "you'll", "you're", "you've", "your", "yours", "yourself",
    "yourselves", "also", "get", "got", "like", "one", "us",
))


def _is_stopword(word: str) -> bool:
    return word.lower().replace("’", "'") in _STOPWORDS


def _duration(minutes: float) -> str:
    seconds = round(minutes * 60)
    if seconds < 60:
        return f"{seconds} sec"
    return f"{seconds // 60} min {seconds % 60} sec" if seconds % 60 else f"{seconds // 60} min"


def text_stats(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Counts and reading time of a text."""
    text = str(arguments["text"])
    wpm = int(arguments.get("words_per_minute", 238))
    words = _WORD_RE.findall(text)
    sentences = [s for s in re.split(r"(?<=[.!?…])\s+|\n{2,}", text) if _WORD_RE.search(s)]
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    lines = text.splitlines()
    return {
        "characters": len(text),
        "characters_no_spaces": sum(1 for c in text if not c.isspace()),
        "words": len(words),
        "unique_words": len({w.lower() for w in words}),
        "sentences": len(sentences),
        "paragraphs": len(paragraphs),
        "lines": len(lines),
        "non_empty_lines": sum(1 for line in lines if line.strip()),
        "average_word_length": round(sum(len(w) for w in words) / len(words), 2) if words else 0,
        "average_sentence_words": round(len(words) / len(sentences), 2) if sentences else 0,
        "reading_time_minutes": round(len(words) / wpm, 2),
        "reading_time": _duration(len(words) / wpm),
        "speaking_time": _duration(len(words) / 150),
    }


def word_frequency(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Most frequent words (or n-word phrases) in a text."""
    text = str(arguments["text"])
    top = int(arguments.get("top_n", 20))
    n = int(arguments.get("ngram", 1))
    min_length = int(arguments.get("min_length", 1))
    skip_stop = bool(arguments.get("exclude_stopwords", True))
    case_sensitive = bool(arguments.get("case_sensitive", False))
    tokens = [w if case_sensitive else w.lower() for w in _WORD_RE.findall(text) if not w.isdigit()]
    grams: list[str] = []
    for i in range(len(tokens) - n + 1):
        gram = tokens[i: i + n]
        if skip_stop and (_is_stopword(gram[0]) or _is_stopword(gram[-1])):
            continue
        if n == 1 and len(gram[0]) < min_length:
            continue
        grams.append(" ".join(gram))
    counts = Counter(grams)
    total = len(grams)
    return {
        "total": total,
        "unique": len(counts),
        "top": [{"term": term, "count": count, "percent": round(100 * count / total, 2)}
                for term, count in counts.most_common(top)],
    }


# ---------------------------------------------------------------------------------------------
# Case and slugs
# ---------------------------------------------------------------------------------------------

_SMALL_WORDS = frozenset((
    "a", "an", "and", "as", "at", "but", "by", "en", "for", "if", "in", "nor", "of", "on", "or", "per", "the",
    "to", "v", "vs", "via", "with",
))


def _identifier_words(text: str) -> list[str]:
    """Words of any naming style: 'parseHTTPResponse', 'user_id', 'Hello, world!' -> parse HTTP Response."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return re.findall(r"[^\W_]+", spaced)


def _title(text: str) -> str:
    shouting = text.upper() == text
    words = list(_WORD_RE.finditer(text))

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if not shouting and len(word) > 1 and word.isupper():
            return word  # keep acronyms: NASA, API
        starts_sentence = text[max(0, m.start() - 20): m.start()].rstrip().endswith((".", ":", "!", "?"))
        if (word.lower() in _SMALL_WORDS and not starts_sentence
                and m.start() not in (words[0].start(), words[-1].start())):
            return word.lower()
        return word[0].upper() + word[1:].lower()

    return _WORD_RE.sub(fix, text)


def _sentence(text: str) -> str:
    lowered = re.sub(r"\bi\b", "I", text.lower())
    return re.sub(r"(^\s*|[.!?]\s+)([^\W_])", lambda m: m.group(1) + m.group(2).upper(), lowered)


def convert_case(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Change the case or naming style of a text."""
    text, style = str(arguments["text"]), str(arguments["case"])
    words = _identifier_words(text)
    lower = [w.lower() for w in words]
    converters = {
        "upper": lambda: text.upper(),
        "lower": lambda: text.lower(),
        "title": lambda: _title(text),
        "sentence": lambda: _sentence(text),
        "camel": lambda: lower[0] + "".join(w.capitalize() for w in lower[1:]) if lower else "",
        "pascal": lambda: "".join(w.capitalize() for w in lower),
        "snake": lambda: "_".join(lower),
        "kebab": lambda: "-".join(lower),
        "constant": lambda: "_".join(w.upper() for w in words),
        "dot": lambda: ".".join(lower),
    }
    return {"case": style, "result": converters[style]()}


def slugify(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """URL-safe ASCII slug of a title."""
    text = str(arguments["text"])
    separator = str(arguments.get("separator", "-"))
    max_length = int(arguments.get("max_length", 80))
    ascii_text = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode()
    if arguments.get("lowercase", True):
        ascii_text = ascii_text.lower()
    parts = re.findall(r"[A-Za-z0-9]+", ascii_text.replace("'", ""))
    slug = ""
    for part in parts:  # stop at a word boundary rather than cutting a word in half
        candidate = f"{slug}{separator}{part}" if slug else part
        if len(candidate) > max_length:
            slug = slug or part[:max_length]
            break
        slug = candidate
    if not slug:
        raise ToolError("The text has no letters or digits to make a slug from.", details={"text": text})
    return {"text": text, "slug": slug}
