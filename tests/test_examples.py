"""Issues 6 and 15: every provider and framework example runs as a script against a real server and
finishes the task."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import API_KEY, LiveServer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["openai_chat.py", "openai_responses.py", "anthropic_messages.py",
            # issue 15: the framework adapters
            "langchain_agent.py", "openai_agents.py", "gemini.py", "llamaindex_agent.py"]
ANSWER = "9am in New York on 27 November 2026 is Fri 27 Nov 2026, 11:00 PM JST in Tokyo."


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("examples") / "data").start()
    yield server
    server.stop()


def start_example(name: str, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    environ["CONCIERGE_SEARCH__SEMANTIC"] = "off"  # same ranking whether or not the semantic extra is installed
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, str(ROOT / "examples" / name)], env=environ | env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def transcript(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def test_examples_against_a_given_server(live: LiveServer) -> None:
    """All at once (they are independent scripts), each through search then execute."""
    running = [start_example(name, CONCIERGE_BASE_URL=live.url, CONCIERGE_API_KEY=API_KEY) for name in EXAMPLES]
    for name, process in zip(EXAMPLES, running, strict=True):
        text = transcript(process)
        assert text.splitlines()[-1] == f"assistant: {ANSWER}", name
        assert text.index("model -> COMPOSIO_SEARCH_TOOLS") < text.index("model -> COMPOSIO_MULTI_EXECUTE_TOOL"), name

    sessions = live.api("GET", "/sessions", params={"user_id": "user_123"}).json()["items"]
    assert len(sessions) == len(EXAMPLES)
    for session in sessions:  # each ran the tool on this server, once
        log = live.api("GET", f"/sessions/{session['id']}/executions").json()["items"]
        assert [(e["tool_slug"], e["status"]) for e in log] == [("DATETIME_CONVERT_TIMEZONE", "success")]


def test_example_starts_its_own_server() -> None:
    assert transcript(start_example("openai_chat.py")).splitlines()[-1] == f"assistant: {ANSWER}"
