"""The http toolkit against a real HTTP server on 127.0.0.1 (nothing here leaves the machine)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.catalog.model import Toolkit
from server.errors import ToolError, UpstreamError
from server.values import ToolContext

BIG_BODY_BYTES = 2 * 1024 * 1024
TLS = ssl.create_default_context()  # built once: loading CA certificates per client costs ~0.1 s
PAGE = """<!doctype html><html><head><title>Release notes</title>
<meta name="description" content="What changed in 2.0">
<style>body { color: red }</style><script>var secret = "do not show";</script></head>
<body><nav><a href="/docs">Docs</a></nav><h1>Version 2.0</h1>
<p>Faster search &amp; <b>fewer</b> bugs.</p><p>{filler}</p><ul><li>New tools</li><li>See <a href="https://example.com/x">x</a></li></ul>
</body></html>""".replace("{filler}", "Details follow. " * 20)


class _Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        if self.path == "/no-head":
            self._send(405, b"", "text/plain")
        else:
            self.do_GET()

    def do_GET(self) -> None:
        self.hits.append(self.path)
        path = self.path.split("?")[0]
        if path == "/json":
            self._send(200, json.dumps({"hello": "world", "items": [1, 2, 3]}).encode(), "application/json")
        elif path == "/text":
            self._send(200, "plain text, déjà vu".encode(), "text/plain; charset=utf-8")
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(BIG_BODY_BYTES))
            self.end_headers()
            chunk = b"x" * 65536
            for _ in range(BIG_BODY_BYTES // len(chunk)):
                self.wfile.write(chunk)
        elif path == "/redirect":
            self._send(302, b"", "text/plain", Location="/json")
        elif path == "/loop":
            self._send(302, b"", "text/plain", Location="/loop")
        elif path == "/to-ftp":
            self._send(302, b"", "text/plain", Location="ftp://example.com/file")
        elif path == "/slow":
            time.sleep(2)
            self._send(200, b"late", "text/plain")
        elif path == "/page":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/binary":
            self._send(200, bytes(range(256)), "image/png")
        elif path == "/no-head":
            self._send(200, b"ok", "text/plain")
        elif path == "/missing":
            self._send(404, json.dumps({"error": "not found"}).encode(), "application/json")
        elif path == "/set-cookie":
            self._send(200, b"ok", "text/plain", Set_Cookie="session=abc123; Path=/")
        else:  # echo what arrived, for header/query/cookie checks
            echo = {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
            self._send(200, json.dumps(echo).encode(), "application/json")

    def do_POST(self) -> None:
        self.hits.append(self.path)
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode()
        echo = {"method": self.command, "path": self.path, "content_type": self.headers.get("Content-Type"),
                "body": body}
        self._send(201, json.dumps(echo).encode(), "application/json")

    do_PUT = do_DELETE = do_PATCH = do_POST


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that stop reading a big body make the handler hit a broken pipe; that is expected


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def toolkit() -> Toolkit:
    return load_toolkit_folder(BUILTIN_TOOLKITS / "http")


RunTool = Callable[..., dict[str, Any]]


@pytest.fixture
def call(toolkit: Toolkit, tmp_path: Path) -> RunTool:
    """Run one tool with a fresh AsyncClient; loopback is allowed unless the test passes other settings."""
    def run(slug: str, settings: dict[str, Any] | None = None, **arguments: Any) -> dict[str, Any]:
        async def main() -> dict[str, Any]:
            async with httpx.AsyncClient(trust_env=False, verify=TLS) as client:
                ctx = ToolContext("sess_test", "user_test", tmp_path, client,
                                  {"allow_private_networks": True} if settings is None else settings)
                handler: Callable[..., Awaitable[dict[str, Any]]] = toolkit.tools[slug].handler  # type: ignore[assignment]
                return await handler(arguments, ctx)
        return anyio.run(main)
    return run


def test_json_response_is_parsed(call: RunTool, base_url: str) -> None:
    out = call("HTTP_REQUEST", url=f"{base_url}/json")
    assert (out["status_code"], out["ok"], out["body_format"]) == (200, True, "json")
    assert out["body"] == {"hello": "world", "items": [1, 2, 3]}
    assert out["headers"]["content-type"] == "application/json"
    assert out["truncated"] is False


def test_text_response(call: RunTool, base_url: str) -> None:
    out = call("HTTP_REQUEST", url=f"{base_url}/text")
    assert (out["body"], out["body_format"]) == ("plain text, déjà vu", "text")


def test_big_body_is_truncated_at_the_default_limit(call: RunTool, base_url: str) -> None:
    out = call("HTTP_REQUEST", url=f"{base_url}/big")
    assert out["truncated"] is True
    assert out["bytes_read"] == 1024 * 1024
    assert out["body"].startswith("x" * 1000)
    assert out["body"].endswith("only the first 1048576 bytes are shown]")
    small = call("HTTP_REQUEST", url=f"{base_url}/big", max_bytes=100)
    assert small["bytes_read"] == 100
    capped = call("HTTP_REQUEST", {"allow_private_networks": True, "max_response_bytes": 10}, url=f"{base_url}/big",
                  max_bytes=5000)
    assert capped["bytes_read"] == 10  # the operator's limit wins over the agent's request


def test_redirects_are_followed_and_reported(call: RunTool, base_url: str) -> None:
    out = call("HTTP_REQUEST", url=f"{base_url}/redirect")
    assert out["url"] == f"{base_url}/json"
    assert out["redirects"] == [f"{base_url}/json"]
    assert out["body"]["hello"] == "world"
    raw = call("HTTP_REQUEST", url=f"{base_url}/redirect", follow_redirects=False)
    assert (raw["status_code"], raw["headers"]["location"]) == (302, "/json")


def test_redirect_limits(call: RunTool, base_url: str) -> None:
    with pytest.raises(ToolError, match="Stopped after 5 redirects"):
        call("HTTP_REQUEST", url=f"{base_url}/loop")
    with pytest.raises(ToolError, match="Stopped after 2 redirects"):
        call("HTTP_REQUEST", {"allow_private_networks": True, "max_redirects": 2}, url=f"{base_url}/loop")
    with pytest.raises(ToolError, match="Only http and https"):
        call("HTTP_REQUEST", url=f"{base_url}/to-ftp")


def test_timeout(call: RunTool, base_url: str) -> None:
    started = time.perf_counter()
    with pytest.raises(UpstreamError, match="0.3s"):
        call("HTTP_REQUEST", {"allow_private_networks": True, "timeout": 0.3}, url=f"{base_url}/slow")
    with pytest.raises(UpstreamError):
        call("HTTP_REQUEST", url=f"{base_url}/slow", timeout_seconds=0.3)
    assert time.perf_counter() - started < 1.5


def test_methods_bodies_headers_and_query(call: RunTool, base_url: str) -> None:
    posted = call("HTTP_REQUEST", url=f"{base_url}/hook", method="POST", json={"text": "Deploy finished"})
    assert posted["status_code"] == 201
    assert posted["body"]["content_type"] == "application/json"
    assert json.loads(posted["body"]["body"]) == {"text": "Deploy finished"}
    form = call("HTTP_REQUEST", url=f"{base_url}/form", method="PUT", body="a=1&b=2",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (form["body"]["method"], form["body"]["body"]) == ("PUT", "a=1&b=2")
    echoed = call("HTTP_REQUEST", url=f"{base_url}/echo?x=1", query={"q": "concierge", "page": 2},
                  headers={"X-Trace": "t-1"})
    assert echoed["body"]["path"] == "/echo?x=1&q=concierge&page=2"
    assert echoed["body"]["headers"]["X-Trace"] == "t-1"
    assert echoed["body"]["headers"]["User-Agent"].startswith("Concierge")


def test_error_statuses_are_results_not_exceptions(call: RunTool, base_url: str) -> None:
    out = call("HTTP_REQUEST", url=f"{base_url}/missing")
    assert (out["status_code"], out["ok"], out["body"]) == (404, False, {"error": "not found"})


def test_binary_body_is_base64(call: RunTool, base_url: str) -> None:
    out = call("HTTP_REQUEST", url=f"{base_url}/binary")
    assert out["body_format"] == "base64" and out["body"] is None
    assert out["body_base64"].startswith("AAECAwQF")


def test_only_http_and_https(call: RunTool) -> None:
    for url in ("ftp://example.com/file", "file:///etc/passwd", "/relative/path", "gopher://x"):
        with pytest.raises(ToolError):
            call("HTTP_REQUEST", url=url)


def test_private_addresses_are_refused_by_default(call: RunTool, base_url: str) -> None:
    before = len(_Handler.hits)
    port = base_url.rsplit(":", 1)[1]
    for url in (f"{base_url}/json", f"http://localhost:{port}/json", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/", "http://10.0.0.1/"):
        with pytest.raises(ToolError, match="private, loopback or link-local"):
            call("HTTP_REQUEST", {}, url=url)
    assert len(_Handler.hits) == before  # refused before connecting


def test_shared_client_cookies_are_not_sent(call: RunTool, base_url: str) -> None:
    async def main() -> dict[str, Any]:
        async with httpx.AsyncClient(trust_env=False, verify=TLS) as client:
            ctx = ToolContext("sess_a", "user_a", Path("."), client, {"allow_private_networks": True})
            handler = load_toolkit_folder(BUILTIN_TOOLKITS / "http").tools["HTTP_REQUEST"].handler
            await handler({"url": f"{base_url}/set-cookie"}, ctx)
            assert client.cookies.get("session") == "abc123"  # the jar has it ...
            return await handler({"url": f"{base_url}/echo"}, ctx)
    echoed = anyio.run(main)
    assert "Cookie" not in echoed["body"]["headers"]  # ... but another call does not send it


def test_check_url(call: RunTool, base_url: str) -> None:
    up = call("HTTP_CHECK_URL", url=f"{base_url}/redirect")
    assert (up["reachable"], up["status_code"], up["url"]) == (True, 200, f"{base_url}/json")
    assert up["content_type"] == "application/json"
    assert up["content_length"] == len(json.dumps({"hello": "world", "items": [1, 2, 3]}))
    fallback = call("HTTP_CHECK_URL", url=f"{base_url}/no-head")
    assert (fallback["status_code"], fallback["ok"]) == (200, True)
    down = call("HTTP_CHECK_URL", url="http://127.0.0.1:9/")  # discard port: nothing listens
    assert down["reachable"] is False and down["error"]


def test_fetch_webpage_as_text(call: RunTool, base_url: str) -> None:
    out = call("HTTP_FETCH_WEBPAGE", url=f"{base_url}/page", include_links=True)
    assert out["title"] == "Release notes"
    assert out["description"] == "What changed in 2.0"
    assert "# Version 2.0" in out["text"]
    assert "Faster search & fewer bugs." in out["text"]
    assert "- New tools" in out["text"]
    assert "secret" not in out["text"] and "color" not in out["text"]
    assert out["links"] == [{"text": "Docs", "url": f"{base_url}/docs"}, {"text": "x", "url": "https://example.com/x"}]
    short = call("HTTP_FETCH_WEBPAGE", url=f"{base_url}/page", max_chars=100)
    assert short["truncated"] is True and short["text"].endswith("[truncated: page text continues]")
    with pytest.raises(ToolError, match="not a text page"):
        call("HTTP_FETCH_WEBPAGE", url=f"{base_url}/binary")
