"""Runs a declarative `http:` tool: arguments -> request, response -> result, errors named.

Requests go out on aiohttp: its connection pool lets a batch of 20 concurrent calls finish together
(about 106 ms for 20 x 100 ms on this machine, against 168 ms with httpx; bench/RESULTS.md).
Requests and responses are plain dataclasses, so building and interpreting them needs no client.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from string import Formatter
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp

from server.catalog.model import Tool, Toolkit
from server.errors import ToolError, UpstreamError
from server.execute.credentials import Credential

# Any of these from the client means the provider could not be reached or broke off the answer.
TRANSPORT_ERRORS = (aiohttp.ClientError,)
_HOST_TEXT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    next_url: str | None  # the Link header's rel="next"
    body: bytes


def build_request(tool: Tool, toolkit: Toolkit, arguments: dict[str, Any], credential: Credential) -> HttpRequest:
    spec = tool.http
    assert spec is not None and toolkit.base_url
    used = set(spec.path_params)
    path = spec.path
    for name in spec.path_params:
        path = path.replace("{" + name + "}", quote(str(arguments[name]), safe=""))
    query = {name: _scalar(arguments[name]) for name in spec.query if name in arguments}
    headers = {header: str(arguments[name]) for name, header in spec.headers.items() if name in arguments}
    used |= set(spec.query) | set(spec.headers)
    body_names = [k for k in arguments if k not in used] if spec.body == "*" else (spec.body or [])
    body = {k: arguments[k] for k in body_names if k in arguments}
    headers = {**toolkit.default_headers, **headers, **credential.headers}
    query.update({k: str(v) for k, v in credential.query.items()})
    url = _base_url(tool, toolkit.base_url, credential.fields).rstrip("/") + path
    if spec.body is None or spec.method == "GET":
        return HttpRequest(spec.method, url, query, headers)
    if spec.body_format == "form":
        return HttpRequest(spec.method, url, query, headers, form=body)
    return HttpRequest(spec.method, url, query, headers, json=body)


def _base_url(tool: Tool, template: str, fields: dict[str, str]) -> str:
    """The toolkit's base_url with the account's fields filled in (`https://{subdomain}.example.com`).
    A field may only be host-name text: a user-typed `evil.test/#` must not move the request elsewhere."""
    if "{" not in template:
        return template
    try:
        return template.format_map({name: _host_part(tool, name, fields[name]) for name in _fields_in(template)})
    except KeyError as exc:
        raise ToolError(f"{tool.slug}: the connected account lacks the field {exc.args[0]!r} that the "
                        "toolkit's base_url needs; reconnect it") from None


def _fields_in(template: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(template) if name]


def _host_part(tool: Tool, name: str, value: str) -> str:
    if not _HOST_TEXT.fullmatch(value):
        raise ToolError(f"{tool.slug}: the connected account's {name!r} ({value[:64]!r}) is not a valid host name "
                        "part (letters, digits, '-' and '.'); reconnect it with the right value")
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _dig(data: Any, path: str | None) -> Any:
    for part in (path or "").split("."):
        if part and isinstance(data, dict):
            data = data.get(part)
    return data


def _provider_message(response: HttpResponse, body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                return value
    return response.reason or f"HTTP {response.status}"


def new_client(timeout_seconds: float) -> aiohttp.ClientSession:
    """The pool declarative tools share: no cookies kept between users' calls, no redirects followed."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_seconds),
                                 cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": "concierge/0.1"},
                                 connector=aiohttp.TCPConnector(limit=100, limit_per_host=0))


async def send(client: aiohttp.ClientSession, request: HttpRequest, max_bytes: int) -> HttpResponse:
    """The response, read up to `max_bytes` (a larger one is refused, not truncated)."""
    async with client.request(request.method, request.url, params=request.params, headers=request.headers,
                              json=request.json, data=request.form, allow_redirects=False) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(f"response from {response.url.host} is larger than {max_bytes} bytes",
                                    {"limit_bytes": max_bytes})
            chunks.append(chunk)
        following = response.links.get("next")
        return HttpResponse(response.status, response.reason or "", {k.lower(): v for k, v in response.headers.items()},
                            str(following["url"]) if following and "url" in following else None, b"".join(chunks))


def interpret(tool: Tool, response: HttpResponse) -> Any:
    """Map the provider's answer to data, or to a ToolError (4xx) / UpstreamError (5xx, 429)."""
    raw = response.body
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    status = response.status
    rate_limited = status == 403 and ("retry-after" in response.headers
                                      or response.headers.get("x-ratelimit-remaining") == "0")
    if status == 429 or status >= 500 or rate_limited:
        raise UpstreamError(f"{tool.slug}: provider answered {status}: {_provider_message(response, body)}",
                            {"status": status, "retry_after": response.headers.get("retry-after")})
    if status >= 400:
        raise ToolError(f"{tool.slug}: provider answered {status}: {_provider_message(response, body)}",
                        {"status": status})
    if isinstance(body, dict) and body.get("ok") is False and "error" in body:
        raise ToolError(f"{tool.slug}: provider error: {body['error']}", {"status": status})
    assert tool.http is not None
    data = _dig(body, tool.http.result_path)
    if tool.http.paginate == "link_header" and response.next_url:
        following = parse_qs(urlsplit(response.next_url).query).get("page", [""])[0]
        return {"items": data, "has_more": True, "next_page": int(following) if following.isdigit() else None}
    return data
