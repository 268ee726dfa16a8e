"""N `concierge serve` processes on one database behind nginx (round robin, as docs/replicas.md
configures it): what `tests/test_replicas.py` and the `replicas` bench scenario start.

Each replica has its own data folder (its workbench files) and shares the database URL, the
encryption key, the admin key and `replica.secret`; `public_url` is the proxy's address.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from cryptography.fernet import Fernet

from server.store import open_store

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "ck_test_admin_key_0123456789"

NGINX_CONF = """worker_processes 1;
error_log {work}/error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;

    upstream concierge {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        location /internal/ {{ return 404; }}
        location / {{
            proxy_pass http://concierge;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 700s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        raise TypeError("tables are written by _write_toml")
    return json.dumps(value)  # strings, numbers, booleans and lists of them are the same in TOML


def _write_toml(path: Path, data: dict[str, Any]) -> None:
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        (tables.append((key, value)) if isinstance(value, dict) else lines.append(f"{key} = {_toml(value)}"))
    while tables:
        name, table = tables.pop(0)
        lines.append(f"\n[{name}]")
        for key, value in table.items():
            if isinstance(value, dict):
                tables.append((f"{name}.{key}", value))
            else:
                lines.append(f"{key} = {_toml(value)}")
    path.write_text("\n".join(lines) + "\n")


async def _migrate(database_url: str) -> None:
    store = await open_store(database_url)
    await store.aclose()


class Replica:
    def __init__(self, work: Path, index: int, config: dict[str, Any]) -> None:
        self.database_url = str(config["database_url"])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = work / f"replica{index}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file = work / f"replica{index}.toml"
        self.log_file = work / f"replica{index}.log"
        replica = {"advertise_url": self.url} | config.pop("replica", {})
        _write_toml(self.config_file, {"port": self.port, "data_dir": str(self.data_dir), **config,
                                       "replica": replica})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--config",
                                          str(self.config_file)], env=env, cwd=ROOT, stdout=log, stderr=log)

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica on {self.url} exited: {self.log_file.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"replica on {self.url} not ready within {seconds:g} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Nginx:
    def __init__(self, work: Path, port: int) -> None:
        self.work = work
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, backends: list[str]) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o777)  # workers may run as another user when started as root
        servers = "\n".join(
            f"        server {b.removeprefix('http://')} max_fails=1 fail_timeout=10s;" for b in backends
        )
        conf = self.work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=self.work, servers=servers, port=self.port))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-p", str(self.work), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Cluster:
    """`n` replicas on `database_url` behind one nginx; `config` is merged into every replica's settings."""

    def __init__(self, work: Path, database_url: str, n: int, config: dict[str, Any] | None = None) -> None:
        self.work = work
        self.proxy = Nginx(work / "nginx", free_port())
        shared = {
            "host": "127.0.0.1",
            "public_url": self.proxy.url,
            "api_key": API_KEY,
            "encryption_key": Fernet.generate_key().decode(),
            "database_url": database_url,
            "log_level": "warning",
            "search": {"semantic": "off"},
        } | (config or {})
        self.secret = secrets.token_urlsafe(24)
        secret = {"secret": self.secret}
        self.replicas = [
            Replica(work, i, json.loads(json.dumps(shared)) | {"replica": secret | shared.get("replica", {})})
            for i in range(n)
        ]

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def start(self) -> Cluster:
        """The schema is created first (as `concierge serve` would), so the replicas can all start at once."""
        anyio.run(_migrate, self.replicas[0].database_url)
        try:
            for replica in self.replicas:
                replica.start()
            for replica in self.replicas:
                replica.wait_ready()
            self.proxy.start([r.url for r in self.replicas])
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.proxy.stop()
        for replica in self.replicas:
            replica.stop()
