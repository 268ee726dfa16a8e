"""Removes secrets from text bound for a log: tokens, OAuth codes and client secrets in URLs, headers,
JSON and error messages. Applied to every formatted log line, so a secret in an exception's message
or a traceback is caught as well as one in a message."""

from __future__ import annotations

import re

MASK = "[redacted]"
_SECRET_NAMES = (
    r"access_token|refresh_token|id_token|client_secret|code_verifier|code|state|token|api_key|key|sig|"
    r"signature|access_key|"
    r"apikey|password|secret|authorization|x-api-key|cookie|set-cookie"
)
_PATTERNS = [
    # key=value in query strings, form bodies and `k=v` log fields
    (re.compile(rf"(?i)(?<![\w-])({_SECRET_NAMES})=([^&\s\"'<>,;]+)"), rf"\1={MASK}"),
    # "key": "value" in JSON (also JSON escaped inside JSON: \"key\": \"value\")
    (re.compile(rf"(?i)(\\?\"(?:{_SECRET_NAMES})\\?\"\s*:\s*\\?\")((?:[^\"\\]|\\[^\"])*)(\\?\")"), rf"\1{MASK}\3"),
    # 'key': 'value' in Python reprs
    (re.compile(rf"(?i)('(?:{_SECRET_NAMES})'\s*:\s*')([^']*)(')"), rf"\1{MASK}\3"),
    # header lines and Authorization schemes
    (re.compile(r"(?i)\b(authorization|x-api-key|cookie|set-cookie)(\s*:\s*)([^\r\n,}\"']+)"), rf"\1\2{MASK}"),
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # capability URLs and well-known token shapes
    (re.compile(r"/connect/[A-Za-z0-9_-]{16,}"), f"/connect/{MASK}"),
    (re.compile(r"\b(ck|ghp|gho|ghu|ghs|ghr|github_pat|xox[abpr]|sk|pk)_[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\bya29\.[A-Za-z0-9._-]{8,}"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), MASK),
]


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
