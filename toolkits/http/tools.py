"""HTTP tools: make a request, check whether a URL is up, and read a web page as text.

The response is streamed and reading stops at the byte limit, so a huge (or endless, or compressed
bomb) body never sits in memory whole. Redirects are followed here rather than by httpx so that every
hop is checked: only http/https, and by default no private, loopback or link-local addresses (an agent
told to fetch `http://169.254.169.254/` or the operator's own admin port should be refused). Limits
come from `toolkit_settings.http`: `max_response_bytes`, `timeout`, `max_redirects`, `allow_private_networks`.
"""

from __future__ import annotations

import base64
import codecs
import ipaddress
import json
import re
import socket
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import anyio
import httpx

from server.errors import ToolError, UpstreamError
from server.values import ToolContext

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_REDIRECTS = 5
USER_AGENT = "Concierge/0.1 (http toolkit)"
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-ndjson",
               "application/x-www-form-urlencoded", "application/ld+json", "application/yaml", "image/svg+xml")


@dataclass(slots=True)
class Limits:
    max_bytes: int
    timeout: float
    max_redirects: int
    allow_private: bool

    @classmethod
    def from_ctx(cls, ctx: ToolContext, arguments: dict[str, Any]) -> Limits:
        """Operator settings are ceilings; the agent may only ask for less."""
        cap_bytes = int(ctx.settings.get("max_response_bytes", DEFAULT_MAX_BYTES))
        cap_timeout = float(ctx.settings.get("timeout", DEFAULT_TIMEOUT))
        return cls(
            max_bytes=min(int(arguments.get("max_bytes", cap_bytes)), cap_bytes),
            timeout=min(float(arguments.get("timeout_seconds", cap_timeout)), cap_timeout),
            max_redirects=int(ctx.settings.get("max_redirects", DEFAULT_MAX_REDIRECTS)),
            allow_private=bool(ctx.settings.get("allow_private_networks", False)),
        )


@dataclass(slots=True)
class Fetched:
    response: httpx.Response
    body: bytes = b""
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ToolError(f"Not a valid URL: {exc}.", details={"url": url}) from None
    if parsed.scheme not in ("http", "https"):
        raise ToolError(f"Only http and https URLs can be fetched, not {parsed.scheme or 'a relative URL'!r}.",
                        details={"url": url})
    if not parsed.host:
        raise ToolError("The URL has no host name.", details={"url": url})
    return parsed


async def _check_destination(url: httpx.URL, limits: Limits) -> None:
    """Refuse hosts that resolve to non-public addresses unless the operator allowed them."""
    if limits.allow_private:
        return
    try:
        addresses = [ipaddress.ip_address(url.host)]
    except ValueError:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = await anyio.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UpstreamError(f"Could not resolve host {url.host!r}: {exc}.", details={"host": url.host}) from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if not (mapped or address).is_global:
            raise ToolError(
                f"{url.host} resolves to a private, loopback or link-local address ({address}), which this server "
                "does not fetch. The operator can allow it with toolkit_settings.http.allow_private_networks.",
                details={"host": url.host, "address": str(address)},
            )


async def fetch(ctx: ToolContext, method: str, url: str, limits: Limits, *, headers: dict[str, str] | None = None,
                params: dict[str, Any] | None = None, content: str | None = None, json_body: Any = None,
                follow_redirects: bool = True, read_body: bool = True) -> Fetched:
    """One request with manual redirects, a total deadline and a bounded streamed read."""
    current = _parse_url(url)
    if params:  # merged, not replaced: "?x=1" in the URL plus {"q": ...} keeps both
        current = current.copy_merge_params({k: str(v).lower() if isinstance(v, bool) else v
                                             for k, v in params.items()})
    sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    user_cookie = any(k.lower() == "cookie" for k in sent_headers)
    result_redirects: list[str] = []
    started = time.perf_counter()
    try:
        with anyio.fail_after(limits.timeout):
            while True:
                await _check_destination(current, limits)
                request = ctx.http.build_request(method, current, headers=sent_headers, content=content,
                                                 json=json_body, timeout=limits.timeout)
                if not user_cookie:  # the shared client's cookie jar must not leak between users
                    request.headers.pop("cookie", None)
                response = await ctx.http.send(request, stream=True, follow_redirects=False)
                if not (follow_redirects and response.is_redirect):
                    break
                await response.aclose()
                if len(result_redirects) >= limits.max_redirects:
                    raise ToolError(f"Stopped after {limits.max_redirects} redirects (a redirect loop?).",
                                    details={"redirects": result_redirects})
                target = _parse_url(str(response.url.join(response.headers["location"])))
                see_other = response.status_code == 303 and method != "HEAD"
                if see_other or (response.status_code in (301, 302) and method == "POST"):  # as browsers do
                    method, content, json_body = "GET", None, None
                if target.host != current.host:
                    sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "authorization"}
                result_redirects.append(str(target))
                current = target
            fetched = Fetched(response, redirects=result_redirects)
            try:
                if read_body:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        room = limits.max_bytes - len(body)
                        if len(chunk) > room:
                            body += chunk[:room]
                            fetched.truncated = True
                            break
                        body += chunk
                    fetched.body = bytes(body)
            finally:
                await response.aclose()
    except TimeoutError:
        raise UpstreamError(f"No complete response within {limits.timeout:g}s.",
                            details={"url": url, "timeout_seconds": limits.timeout}) from None
    except httpx.TimeoutException:
        raise UpstreamError(f"The request to {current.host} timed out after {limits.timeout:g}s.",
                            details={"url": url, "timeout_seconds": limits.timeout}) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ToolError(f"Bad URL: {exc}.", details={"url": url}) from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"Request to {current.host} failed: {type(exc).__name__}: {exc}.",
                            details={"url": url}) from None
    fetched.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return fetched


def _mime(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _decode(response: httpx.Response, data: bytes, truncated: bool) -> str | None:
    """Bytes -> text with the declared charset; None when it is not text. A cut multi-byte char is dropped."""
    mime = _mime(response)
    encoding = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    texty = mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml"))
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict" if not texty else "replace")
    try:
        return decoder.decode(data, final=not truncated)
    except UnicodeDecodeError:
        return None


def _marker(limit: int) -> str:
    return f"\n…[truncated: the response is larger than {limit} bytes; only the first {limit} bytes are shown]"


def _body_fields(fetched: Fetched, limit: int) -> dict[str, Any]:
    response, data = fetched.response, fetched.body
    if not data:
        return {"body": None, "body_format": "empty"}
    mime = _mime(response)
    text = _decode(response, data, fetched.truncated)
    if text is None:
        return {"body": None, "body_base64": base64.b64encode(data).decode(), "body_format": "base64"}
    if not fetched.truncated and (mime == "application/json" or mime.endswith("+json")):
        try:
            return {"body": json.loads(text), "body_format": "json"}
        except ValueError:
            pass
    return {"body": text + (_marker(limit) if fetched.truncated else ""), "body_format": "text"}


def _summary(fetched: Fetched) -> dict[str, Any]:
    response = fetched.response
    return {"url": str(response.url), "status_code": response.status_code, "reason": response.reason_phrase,
            "ok": response.is_success, "redirects": fetched.redirects, "elapsed_ms": fetched.elapsed_ms}


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------

async def request(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Any HTTP request; non-2xx statuses are results (with `ok: false`), not errors."""
    limits = Limits.from_ctx(ctx, arguments)
    method = str(arguments.get("method", "GET")).upper()
    fetched = await fetch(
        ctx, method, str(arguments["url"]), limits, headers=arguments.get("headers"), params=arguments.get("query"),
        content=arguments.get("body"), json_body=arguments.get("json"),
        follow_redirects=bool(arguments.get("follow_redirects", True)), read_body=method != "HEAD",
    )
    response = fetched.response
    return {
        "method": method,
        **_summary(fetched),
        "headers": dict(response.headers.items()),
        "content_type": response.headers.get("content-type"),
        **_body_fields(fetched, limits.max_bytes),
        "truncated": fetched.truncated,
        "bytes_read": len(fetched.body),
    }


async def check_url(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Is a URL up: status, final URL after redirects and response time, without downloading the body."""
    limits = Limits.from_ctx(ctx, arguments)
    url = str(arguments["url"])
    _parse_url(url)  # a malformed URL is the caller's mistake, not "site down"
    try:
        fetched = await fetch(ctx, "HEAD", url, limits, read_body=False)
        if fetched.response.status_code in (405, 501):  # some servers refuse HEAD; ask with GET, read nothing
            fetched = await fetch(ctx, "GET", url, limits, read_body=False)
    except UpstreamError as exc:
        return {"url": url, "reachable": False, "error": exc.message}
    headers = fetched.response.headers
    length = headers.get("content-length")
    return {
        "reachable": True,
        **_summary(fetched),
        "content_type": headers.get("content-type"),
        "content_length": int(length) if length and length.isdigit() else None,
        "server": headers.get("server"),
        "last_modified": headers.get("last-modified"),
    }


class _PageText(HTMLParser):
    """HTML -> readable text with Markdown-ish headings and bullets, plus title, description and links."""

    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
    BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "ul", "ol",
                       "table", "tr", "pre", "blockquote", "hr", "br", "form", "dd", "dt", "figcaption", "li",
                       "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self, base_url: httpx.URL) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.title = ""
        self.description: str | None = None
        self.links: list[dict[str, str]] = []
        self._skip = 0
        self._in_title = False
        self._link: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "meta" and values.get("name", "").lower() in ("description", "og:description"):
            self.description = self.description or values.get("content", "").strip() or None
        elif tag == "a" and values.get("href") and not values["href"].startswith(("javascript:", "#")):
            try:
                self._link = (str(self.base_url.join(values["href"])), [])
            except httpx.InvalidURL:
                self._link = None
        if tag in self.BLOCK:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("#" * int(tag[1]) + " ")
        elif tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == "a" and self._link is not None:
            href, words = self._link
            self.links.append({"text": " ".join(" ".join(words).split()), "url": href})
            self._link = None
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
            return
        self.parts.append(data)
        if self._link is not None:
            self._link[1].append(data)

    def text(self) -> str:
        lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(self.parts).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


async def fetch_webpage(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """A web page's readable text (scripts, styles and markup removed), title and optionally its links."""
    limits = Limits.from_ctx(ctx, arguments)
    max_chars = int(arguments.get("max_chars", 20000))
    fetched = await fetch(ctx, "GET", str(arguments["url"]), limits,
                          headers={"Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"})
    text = _decode(fetched.response, fetched.body, fetched.truncated)
    if text is None:
        raise ToolError(f"The URL returned {_mime(fetched.response) or 'binary content'}, not a text page; use "
                        "HTTP_REQUEST to get its bytes.", details={"url": str(fetched.response.url)})
    result: dict[str, Any] = _summary(fetched)
    title, description, links = None, None, []
    if "html" in _mime(fetched.response) or re.match(r"\s*<(!doctype html|html)", text[:500], re.I):
        parser = _PageText(fetched.response.url)
        parser.feed(text)
        parser.close()
        title = " ".join(parser.title.split()) or None
        description, links, text = parser.description, parser.links, parser.text()
    cut = len(text) > max_chars
    result |= {
        "title": title,
        "description": description,
        "text": text[:max_chars] + ("\n…[truncated: page text continues]" if cut else ""),
        "text_chars": len(text),
        "truncated": cut or fetched.truncated,
        "content_type": fetched.response.headers.get("content-type"),
    }
    if arguments.get("include_links", False):
        result["links"] = links[: int(arguments.get("max_links", 100))]
    return result
