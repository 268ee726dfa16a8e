"""Runs a declarative `http:` tool: arguments -> request(s), responses -> result, errors named.

Pagination, rate-limit retries and provider error bodies have their own modules (pagination.py,
retry.py, provider_errors.py); this one builds requests, sends them and strings the steps together.

Requests go out on aiohttp: its connection pool lets a batch of 20 concurrent calls finish together
(about 106 ms for 20 x 100 ms on this machine, against 168 ms with httpx; bench/RESULTS.md).
Requests and responses are plain dataclasses, so building and interpreting them needs no client.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from string import Formatter
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import anyio
import orjson

from server.catalog.model import Tool, Toolkit
from server.catalog.toolkit_file import PaginateBlock
from server.errors import ToolError, UpstreamError
from server.execute import pagination, provider_errors, retry
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


Exchange = Callable[[dict[str, Any], str | None], Awaitable[HttpResponse]]
"""Sends one request for these arguments (or to this next-page URL) with the account's credential;
the executor's, which also refreshes the credential once on a 401."""


def build_request(
    tool: Tool, toolkit: Toolkit, arguments: dict[str, Any], credential: Credential, url: str | None = None
) -> HttpRequest:
    """The request for these arguments; with `url` (a Link header's next page) that URL instead, which
    must stay on the API's own origin so the credential never travels elsewhere."""
    spec = tool.http
    assert spec is not None
    base = _base_url(tool, credential.base_url or toolkit.base_url or "", credential.fields).rstrip("/")
    headers = {
        **toolkit.default_headers,
        **{header: str(arguments[name]) for name, header in spec.headers.items() if name in arguments},
        **credential.headers,
    }
    credential_query = {k: str(v) for k, v in credential.query.items()}
    if url is not None:
        if _origin(url) != _origin(base):
            raise UpstreamError(
                f"{tool.slug}: the provider's next-page link points to another site "
                f"({_origin(url)}); not following it with the account's credential"
            )
        return HttpRequest(spec.method, url, credential_query, headers)
    path = spec.path
    for name in spec.path_params:
        value = str(arguments[name])
        path = path.replace("{+" + name + "}", quote(value, safe="/")).replace("{" + name + "}", quote(value, safe=""))
    query = {name: _scalar(arguments[name]) for name in spec.query if name in arguments}
    query.update(credential_query)
    full = base + path
    if spec.graphql is not None:
        variables = {k: arguments[k] for k in spec.graphql.variables if k in arguments}
        return HttpRequest("POST", full, query, headers, json={"query": spec.graphql.query, "variables": variables})
    used = set(spec.path_params) | set(spec.query) | set(spec.headers)
    body_names = [k for k in arguments if k not in used] if spec.body == "*" else (spec.body or [])
    body = {k: arguments[k] for k in body_names if k in arguments}
    if spec.body is None or spec.method == "GET":
        return HttpRequest(spec.method, full, query, headers)
    if spec.body_format == "form":
        return HttpRequest(spec.method, full, query, headers, form={k: _form_value(v) for k, v in body.items()})
    return HttpRequest(spec.method, full, query, headers, json=body)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _form_value(value: Any) -> str:
    """Form fields are text; objects and lists go as JSON (Slack's `blocks`, `attachments`)."""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return _scalar(value)


def _base_url(tool: Tool, template: str, fields: dict[str, str]) -> str:
    """The toolkit's base_url with the account's fields filled in (`https://{subdomain}.example.com`).
    A field may only be host-name text: a user-typed `evil.test/#` must not move the request elsewhere."""
    if "{" not in template:
        return template
    try:
        return template.format_map({name: _host_part(tool, name, fields[name]) for name in _fields_in(template)})
    except KeyError as exc:
        raise ToolError(
            f"{tool.slug}: the connected account lacks the field {exc.args[0]!r} that the "
            "toolkit's base_url needs; reconnect it"
        ) from None


def _fields_in(template: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(template) if name]


def _host_part(tool: Tool, name: str, value: str) -> str:
    if not _HOST_TEXT.fullmatch(value):
        raise ToolError(
            f"{tool.slug}: the connected account's {name!r} ({value[:64]!r}) is not a valid host name "
            "part (letters, digits, '-' and '.'); reconnect it with the right value"
        )
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def new_client(timeout_seconds: float) -> aiohttp.ClientSession:
    """The pool declarative tools share: no cookies kept between users' calls, no redirects followed."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": "concierge/0.1"},
        connector=aiohttp.TCPConnector(limit=100, limit_per_host=0),
    )


async def send(client: aiohttp.ClientSession, request: HttpRequest, max_bytes: int) -> HttpResponse:
    """The response, read up to `max_bytes` (a larger one is refused, not truncated)."""
    async with client.request(
        request.method,
        request.url,
        params=request.params,
        headers=request.headers,
        json=request.json,
        data=request.form,
        allow_redirects=False,
    ) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(
                    f"response from {response.url.host} is larger than {max_bytes} bytes", {"limit_bytes": max_bytes}
                )
            chunks.append(chunk)
        following = response.links.get("next")
        return HttpResponse(
            response.status,
            response.reason or "",
            {k.lower(): v for k, v in response.headers.items()},
            str(following["url"]) if following and "url" in following else None,
            b"".join(chunks),
        )


async def fetch(
    tool: Tool, toolkit: Toolkit, exchange: Exchange, arguments: dict[str, Any], url: str | None = None
) -> tuple[HttpResponse, Any]:
    """One page, retried while the provider rate-limits and the toolkit's budget allows the wait."""
    policy = toolkit.retry
    waited = 0.0
    attempt = 0
    while True:
        response = await exchange(arguments, url)
        body = provider_errors.parse_body(response.body)
        limit = retry.rate_limit(toolkit, response.status, response.headers, body)
        if limit is None:
            return response, body
        attempt += 1
        wait = limit.wait if limit.wait is not None else retry.backoff(attempt)
        if attempt >= policy.max_attempts or waited + wait > policy.budget_seconds:
            said = provider_errors.message(toolkit, body) or provider_errors.error_code(toolkit, body) or ""
            again = f"try again in {wait:.0f} s" if limit.wait is not None else "try again in a minute"
            raise UpstreamError(
                f"{toolkit.name} is rate limiting {tool.slug} (HTTP {response.status}"
                f"{': ' + said if said else ''}); gave up after {attempt} attempt{'s' if attempt > 1 else ''} "
                f"and {waited:.1f} s of waiting; {again}.",
                {
                    "status": response.status,
                    "retry_after": response.headers.get("retry-after"),
                    "rate_limited": True,
                    "attempts": attempt,
                    "waited_seconds": round(waited, 3),
                },
            )
        await anyio.sleep(wait)
        waited += wait


def interpret(tool: Tool, toolkit: Toolkit, response: HttpResponse, body: Any) -> Any:
    """The provider's answer as data, or a ToolError (it refused) / UpstreamError (it failed)."""
    assert tool.http is not None
    if response.status >= 400:
        sentence = provider_errors.http_sentence(toolkit, tool.slug, response.status, response.reason, body)
        kind = UpstreamError if response.status >= 500 else ToolError
        raise kind(sentence, {"status": response.status})
    problem = provider_errors.body_error(toolkit, body, tool.http.graphql is not None)
    if problem is not None:
        raise ToolError(
            provider_errors.sentence(f"{toolkit.name} refused {tool.slug}", problem),
            {"status": response.status, "provider_error": problem},
        )
    return body


async def run(tool: Tool, toolkit: Toolkit, arguments: dict[str, Any], exchange: Exchange) -> Any:
    """prepare -> request(s) with retries -> pages gathered up to max_results -> transform."""
    spec = tool.http
    assert spec is not None
    arguments = dict(arguments)
    page = spec.pagination
    wanted = arguments.pop(pagination.MAX_RESULTS, None) if page is not None else None
    if tool.prepare is not None:
        arguments = await _call(tool.prepare, arguments)
    if page is None:
        response, body = await fetch(tool, toolkit, exchange, arguments)
        data = provider_errors.dig(interpret(tool, toolkit, response, body), spec.result_path)
    else:
        data = await _gather(tool, toolkit, page, arguments, exchange, wanted)
    if tool.transform is not None:
        data = await _call(tool.transform, data)
    return data


async def _gather(
    tool: Tool, toolkit: Toolkit, page: PaginateBlock, arguments: dict[str, Any], exchange: Exchange, wanted: int | None
) -> dict[str, Any]:
    assert tool.http is not None
    schema = dict(tool.input_schema)
    items: list[Any] = []
    url: str | None = None
    seen: set[str] = set()
    while True:
        if wanted is not None:
            pagination.page_size(page, arguments, schema, wanted - len(items))
        response, body = await fetch(tool, toolkit, exchange, arguments, url)
        found = pagination.read_page(
            page, interpret(tool, toolkit, response, body), tool.http.result_path, arguments, response.next_url
        )
        items.extend(found.items)
        cursor = found.cursor
        if wanted is None or len(items) >= wanted or cursor is None or cursor in seen or not found.items:
            return pagination.result(page, items[:wanted] if wanted is not None else items, cursor)
        seen.add(cursor)
        if page.style == "link_header":
            url = found.next_url
        else:
            arguments[page.cursor_param or ""] = pagination.cursor_value(page, cursor, schema)


async def _call(function: Callable[[Any], Any], value: Any) -> Any:
    """A toolkit's prepare/transform: sync ones are pure data shaping, run in place; async ones awaited."""
    out = function(value)
    return await out if inspect.isawaitable(out) else out
