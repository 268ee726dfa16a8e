"""A real Concierge server on 127.0.0.1 in a background thread, for tests and examples.

Real uvicorn, real sockets, SQLite on disk — or PostgreSQL while the `store_backend` fixture
(tests/conftest.py) says so; `restart()` keeps the port, data dir and database.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.app import build_app
from server.config import Settings

API_KEY = "ck_test_admin_key_0123456789"
# Set by the `store_backend` fixture for PostgreSQL: a database URL for a data dir (the same one each time).
DATABASE_FOR: Callable[[Path], str] | None = None


def free_socket(port: int = 0) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio turns Nagle off only for sockets that say so (else ~40 ms stalls)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class ThreadedServer:
    """Any ASGI app under uvicorn in a daemon thread on a loopback socket (kept across restarts)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, make_app: Any) -> None:
        """`make_app()` is called once the port is known, so the app can know its own URL."""
        sock = free_socket(self.port)
        self.port = sock.getsockname()[1]
        app = make_app()
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self._server = None


class LiveServer(ThreadedServer):
    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        super().__init__()
        self.data_dir = data_dir
        if DATABASE_FOR is not None and "database_url" not in overrides:
            overrides["database_url"] = DATABASE_FOR(data_dir)
        self.overrides = overrides
        self.lines: list[str] = []

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def settings(self) -> Settings:
        # lexical search always: tests must not depend on whether the optional semantic extra is installed
        values: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "data_dir": self.data_dir,
                                  "api_key": API_KEY, "search": {"semantic": "off"}} | self.overrides
        return Settings.model_validate(values)

    def start(self) -> LiveServer:
        self.serve(lambda: build_app(self.settings(), announce=self.lines.append))
        return self

    def restart(self) -> None:
        self.stop()
        self.start()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("headers", self.headers)
        return httpx.request(method, f"{self.url}/api/v1{path}", timeout=30, **kwargs)

    def create_session(self, **body: Any) -> dict[str, Any]:
        body.setdefault("user_id", "user_123")
        response = self.api("POST", "/sessions", json=body)
        assert response.status_code == 201, response.text
        return response.json()
