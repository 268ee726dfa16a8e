"""A provider's answer read as data or as one clear sentence about what went wrong.

Providers disagree on where they say it: Slack answers HTTP 200 with `{"ok": false, "error": code}`,
Google wraps `{"error": {"message"}}`, Atlassian sends `errorMessages` plus a field -> message map
in `errors`, GraphQL servers put `errors[].message` beside (or instead of) `data`. A toolkit's
`errors:` block names the paths; this module reads them.
"""

from __future__ import annotations

from typing import Any

import orjson

from server.catalog.model import Toolkit

MAX_MESSAGE = 500


def parse_body(raw: bytes) -> Any:
    """JSON when it is JSON, else the text (HTML error pages, plain-text answers)."""
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def dig(data: Any, path: str | None) -> Any:
    """The value at a dotted path (`response_metadata.next_cursor`, `errors.0.message`); None when absent."""
    for part in (path or "").split("."):
        if not part:
            continue
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.lstrip("-").isdigit() and -len(data) <= int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _text(value: Any) -> str:
    """A message value as text: lists joined with '; ', `{field: message}` maps as `field: message`."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "; ".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        if isinstance(value.get("message"), str):
            return value["message"].strip()
        return "; ".join(f"{k}: {t}" for k, v in value.items() if (t := _text(v)))
    return ""


def message(toolkit: Toolkit, body: Any) -> str:
    """The provider's own words about a failure: the distinct texts at the toolkit's `errors.message_paths`
    (Atlassian's general `errorMessages` and per-field `errors` together), joined with '; '."""
    if isinstance(body, str):
        text = " ".join(body.split())
        return text[:MAX_MESSAGE] if text and not text.startswith("<") else ""
    paths = list(toolkit.errors.message_paths)
    if toolkit.errors.error_if_present and toolkit.errors.error_if_present not in paths:
        paths.append(toolkit.errors.error_if_present)
    found: list[str] = []
    for path in paths:
        text = _text(dig(body, path))
        if text and not any(text in seen for seen in found):
            found.append(text)
    return "; ".join(found)[:MAX_MESSAGE]


def error_code(toolkit: Toolkit, body: Any) -> str | None:
    """The provider's error code: Slack's `error` in a 200 with `ok: false` (`channel_not_found`), or the
    value at `errors.code_path` (GraphQL: `errors.0.extensions.code`)."""
    if not isinstance(body, dict):
        return None
    ok_field = toolkit.errors.ok_field
    if ok_field and body.get(ok_field) is False:
        code = body.get("error")
        return code if isinstance(code, str) and code else "error"
    if toolkit.errors.code_path:
        code = dig(body, toolkit.errors.code_path)
        return str(code) if isinstance(code, str | int) and code != "" else None
    return None


def body_error(toolkit: Toolkit, body: Any, graphql: bool) -> str | None:
    """What a 2xx body reports as a failure (Slack ok:false, GraphQL errors[]), else None."""
    if not isinstance(body, dict):
        return None
    ok_field = toolkit.errors.ok_field
    if ok_field and body.get(ok_field) is False:
        code = error_code(toolkit, body) or "error"
        detail = _text(body.get("detail") or body.get("errors") or "")
        return code + (f" ({detail})" if detail else "")
    present = toolkit.errors.error_if_present or ("errors" if graphql else None)
    if present and dig(body, present):
        return _text(dig(body, present)) or f"the answer carries {present}"
    return None


def sentence(head: str, said: str, hint: str = "") -> str:
    """`head: said.` with exactly one full stop, whatever punctuation the provider used."""
    said = said.strip().rstrip(".") if said.strip() else "no details given"
    return f"{head}: {said}." + hint


def http_sentence(toolkit: Toolkit, slug: str, status: int, reason: str, body: Any) -> str:
    """`GitHub refused GITHUB_GET_ISSUE (HTTP 404 Not Found): Not Found.` plus what to do for auth failures."""
    where = f"(HTTP {status}{' ' + reason if reason else ''})"
    head = f"{toolkit.name} failed on {slug} {where}" if status >= 500 else f"{toolkit.name} refused {slug} {where}"
    hint = {
        401: " The connected account's credentials were rejected; reconnect it.",
        403: " The connected account lacks permission (scope or role) for this.",
    }.get(status, " Try again later." if status >= 500 else "")
    return sentence(head, message(toolkit, body), hint)
