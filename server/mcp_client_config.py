"""`concierge mcp-config`: the exact MCP config entry each desktop client needs, and merging it into
that client's config file (the old file is backed up first).

Stdio clients get an absolute command (the `concierge` script next to this interpreter, or the
interpreter itself with `-m server.cli`) and an absolute `--data-dir`, because desktop apps start
servers with neither the user's PATH nor a meaningful working directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import ConfigError

CLIENTS = ("claude-desktop", "cursor", "vscode", "windsurf", "inspector", "mcp-remote")


@dataclass(frozen=True)
class Target:
    """What an entry points at: a session on a server (URL clients), and the data folder (stdio)."""

    base_url: str
    data_dir: Path
    config_file: Path | None = None
    session_id: str | None = None
    user_id: str | None = None
    toolkits: str | None = None

    @property
    def session_url(self) -> str:
        return f"{self.base_url}/mcp/{self._session()}"

    @property
    def session_url_ending_in_mcp(self) -> str:
        """The same session at `/s/<id>/mcp`, for clients that insist on a path ending in `/mcp`."""
        return f"{self.base_url}/s/{self._session()}/mcp"

    def _session(self) -> str:
        if not self.session_id:
            raise ConfigError(
                "this client connects over HTTP: give --session ID (create one with "
                "`concierge sessions create --user-id ...`)"
            )
        if not re.fullmatch(r"sess_[A-Za-z0-9_-]{1,64}", self.session_id):
            raise ConfigError(f"--session {self.session_id!r} is not a session id (they look like sess_…)")
        return self.session_id


def _home() -> Path:
    return Path.home()


def default_config_file(client: str) -> Path | None:
    """Per-OS location of each client's config file; None where the client has no fixed one."""
    home = _home()
    if client in ("claude-desktop", "mcp-remote"):
        if sys.platform == "darwin":
            return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
        if sys.platform == "win32":
            return (
                Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / "Claude" / "claude_desktop_config.json"
            )
        return home / ".config" / "Claude" / "claude_desktop_config.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "windsurf":
        return home / ".codeium" / "windsurf" / "mcp_config.json"
    if client == "vscode":
        return Path.cwd() / ".vscode" / "mcp.json"  # the workspace's file
    return None


def concierge_command() -> list[str]:
    """An absolute command that starts this same installation of Concierge."""
    folder = Path(sys.executable).parent
    script = folder / ("concierge.exe" if sys.platform == "win32" else "concierge")
    if script.is_file():
        return [str(script)]
    return [str(Path(sys.executable).absolute()), "-m", "server.cli"]


def _source_env() -> dict[str, str]:
    """A source checkout run with PYTHONPATH (not installed) needs that path in the launched server too."""
    root = str(Path(__file__).resolve().parents[1])
    listed = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if any(Path(p).resolve() == Path(root) for p in listed):
        return {"PYTHONPATH": root}
    return {}


def _stdio_args(target: Target) -> list[str]:
    args = ["stdio"]
    if target.session_id:
        args += ["--session", target.session_id]
    elif target.user_id:
        args += ["--user-id", target.user_id, "--reuse"] + (["--toolkits", target.toolkits] if target.toolkits else [])
    else:
        raise ConfigError(
            "a stdio client needs --session ID, or --user-id (and optionally --toolkits) to create "
            "one session and reuse it at every launch"
        )
    config = ["--config", str(target.config_file.resolve())] if target.config_file else []
    return args + ["--data-dir", str(target.data_dir.resolve()), *config]


def entry(client: str, target: Target) -> dict[str, Any]:
    """The one server entry for `client`, as it goes under the client's root key."""
    if client == "claude-desktop":
        command = concierge_command()
        out: dict[str, Any] = {"command": command[0], "args": command[1:] + _stdio_args(target)}
        env = _source_env()
        return out | ({"env": env} if env else {})
    if client == "cursor":
        return {"url": target.session_url}
    if client == "vscode":
        return {"type": "http", "url": target.session_url}
    if client == "windsurf":
        return {"serverUrl": target.session_url}
    if client == "inspector":  # its CLI sends any other path to `/mcp`
        return {"type": "streamable-http", "url": target.session_url_ending_in_mcp}
    if client == "mcp-remote":  # stdio-only clients reaching the HTTP endpoint through the mcp-remote bridge
        npx = shutil.which("npx") or "npx"
        return {"command": npx, "args": ["-y", "mcp-remote", target.session_url]}
    raise ConfigError(f"unknown client {client!r}; one of: {', '.join(CLIENTS)}")


def usage(client: str, target: Target, name: str) -> str | None:
    """How to use the printed entry, where the client needs telling."""
    if client != "inspector":
        return None
    url = target.session_url_ending_in_mcp
    return (
        f"save it as FILE, then: npx @modelcontextprotocol/inspector --config FILE --server {name} (add --cli "
        "first and --method tools/list for its command line). Inspectors before 2.0 read only stdio servers from a "
        f"file; give them the URL: npx @modelcontextprotocol/inspector@0.15 --cli {url} --transport http "
        "--method tools/list"
    )


def root_key(client: str) -> str:
    return "servers" if client == "vscode" else "mcpServers"


def document(client: str, target: Target, name: str) -> dict[str, Any]:
    return {root_key(client): {name: entry(client, target)}}


def install(client: str, target: Target, name: str, config_file: Path) -> Path | None:
    """Merges the entry into `config_file` (other servers and settings kept); returns the backup made."""
    current: dict[str, Any] = {}
    backup = None
    if config_file.exists():
        try:
            current = json.loads(config_file.read_text(encoding="utf-8") or "{}")
        except ValueError as exc:
            raise ConfigError(f"{config_file} is not valid JSON ({exc}); fix or move it, then run this again") from None
        if not isinstance(current, dict):
            raise ConfigError(f"{config_file} does not hold a JSON object; fix or move it, then run this again")
        backup = config_file.with_name(f"{config_file.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(config_file, backup)
    servers = current.get(root_key(client))
    if servers is not None and not isinstance(servers, dict):
        raise ConfigError(f"{config_file}: {root_key(client)!r} is not a JSON object; fix it, then run this again")
    current[root_key(client)] = {**(servers or {}), name: entry(client, target)}
    config_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = config_file.with_name(config_file.name + ".tmp")
    tmp.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    tmp.replace(config_file)
    return backup
