"""What the provider examples share: a Concierge server to talk to, and the script the fake model plays.

The "model" is scripted so the examples run offline and deterministically; everything between it and
Concierge (tool definitions, tool calls, tool results) is exactly what a real model would get.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

USER_PROMPT = "It's 9am on 27 November 2026 in New York. What time is it in Tokyo then?"
USE_CASE = "convert 9am New York time to Tokyo"
KNOWN_ARGUMENTS = {"time": "2026-11-27 09:00", "from_timezone": "New York", "to_timezone": "Tokyo"}
SEARCH = "COMPOSIO_SEARCH_TOOLS"
EXECUTE = "COMPOSIO_MULTI_EXECUTE_TOOL"


@contextmanager
def concierge_server() -> Iterator[tuple[str, str]]:
    """(base_url, api_key) of the server to use: $CONCIERGE_BASE_URL with $CONCIERGE_API_KEY if set,
    else a throwaway `concierge serve` on a free port with its own data dir, stopped afterwards."""
    if os.environ.get("CONCIERGE_BASE_URL"):
        yield os.environ["CONCIERGE_BASE_URL"], os.environ["CONCIERGE_API_KEY"]
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api_key = "ck_example_" + secrets.token_urlsafe(16)
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", data_dir, "--log-level", "warning"],
            env={**os.environ, "CONCIERGE_API_KEY": api_key}, stdout=subprocess.DEVNULL)
        try:
            _wait_until_up(base_url, process)
            yield base_url, api_key
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`concierge serve` exited with code {process.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"`concierge serve` did not come up at {base_url} within {timeout:g} s")


@dataclass
class Move:
    """The model's next turn: a tool call, or the final answer."""

    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


def next_move(offered_tools: Sequence[str], tool_outputs: Sequence[str]) -> Move:
    """The scripted model: search, then execute the found tool, then answer from its result.

    `offered_tools` are the names in the request's `tools`; `tool_outputs` the tool results so far,
    as the text the model sees. Like a real model it can only call tools it was offered.
    """
    if not tool_outputs:
        move = Move(tool=SEARCH, arguments={"queries": [{"use_case": USE_CASE}]})
    elif len(tool_outputs) == 1:
        move = Move(tool=EXECUTE, arguments={"tools": [{"tool_slug": _pick_tool(json.loads(tool_outputs[0])),
                                                        "arguments": KNOWN_ARGUMENTS}]})
    else:
        outcome = json.loads(tool_outputs[-1])
        if not outcome["successful"]:
            return Move(text=f"Sorry, that did not work: {outcome['error']}")
        converted = outcome["data"]["results"][0]["response"]["data"]
        return Move(text=f"9am in New York on 27 November 2026 is {converted['readable']} in Tokyo.")
    if move.tool not in offered_tools:
        raise RuntimeError(f"the model wants {move.tool} but was only offered {list(offered_tools)}")
    return move


def _pick_tool(search: dict[str, Any]) -> str:
    """The first tool found whose schema takes the arguments the model already knows."""
    data = search["data"]
    found = data["results"][0]
    for slug in found["primary_tool_slugs"] + found["related_tool_slugs"]:
        properties = data["tool_schemas"].get(slug, {}).get("input_schema", {}).get("properties", {})
        if set(KNOWN_ARGUMENTS) <= set(properties):
            return slug
    raise RuntimeError(f"no tool found for {USE_CASE!r}: {found}")


def show(direction: str, payload: Any) -> None:
    """One line of the transcript, cut short: the examples print what goes to and from the model."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    print(f"{direction} {text[:160]}{'…' if len(text) > 160 else ''}", flush=True)
