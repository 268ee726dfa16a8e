"""Helpers in the sandbox (issue 4, must-show 2 and 3): tool calls in bulk through the session, offloaded
results, `invoke_llm` through the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from server.errors import ToolNotAllowed
from server.workbench import HELPERS_DOC
from tests.workbench_fixtures import workbench

REFUSED = "GMAIL_DELETE_ALL_MAIL"


class FakeExecutor:
    """Stands in for the server's executor: counts calls per session and refuses one slug like a filter."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    async def __call__(self, session_id: str, slug: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.calls[session_id, slug] += 1
        if slug == REFUSED:
            raise ToolNotAllowed(f"{slug} is not allowed in this session")
        await asyncio.sleep(0.001)
        return {"data": {"echo": arguments}, "error": None, "successful": True, "log_id": f"log_{self.calls.total()}"}




def test_200_tool_calls_in_one_cell_go_through_the_session_and_its_filter(tmp_path: Path) -> None:
    executor = FakeExecutor()
    code = """
results = [run_composio_tool("LOCAL_ECHO", {"i": i}) for i in range(100)]
results += run_tools([{"tool_slug": "LOCAL_ECHO", "arguments": {"i": i}} for i in range(100, 200)])
in_order = [result["data"]["echo"]["i"] for result, error in results] == list(range(200))
refused, why = run_composio_tool("GMAIL_DELETE_ALL_MAIL", {})
(sum(error is None for _, error in results), in_order, refused["successful"], why)
"""

    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", executor) as wb:
            run = await wb.run_python("sess_tools", code)
            assert run.error is None, run.error
            assert run.result == f"(200, True, False, '{REFUSED} is not allowed in this session')"

    asyncio.run(scenario())
    assert executor.calls == {("sess_tools", "LOCAL_ECHO"): 200, ("sess_tools", REFUSED): 1}


def test_an_offloaded_1mb_result_is_loaded_and_aggregated(tmp_path: Path) -> None:
    items = [{"id": i, "amount": i % 97, "owner": f"user{i % 13}", "note": "n" * 40} for i in range(11_000)]
    payload = json.dumps({"data": {"items": items}, "successful": True}).encode()
    assert 900_000 < len(payload) < 1_500_000

    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", FakeExecutor()) as wb:
            path = await wb.write_file("sess_a", "results/exec_0001.json", payload)
            assert path == wb.session_dir("sess_a") / "results" / "exec_0001.json"
            run = await wb.run_python(
                "sess_a",
                "import pandas as pd\n"
                "items = load_result('results/exec_0001.json')['data']['items']\n"
                "frame = pd.DataFrame(items)\n"
                "(len(items), int(frame.amount.sum()), int(frame.groupby('owner').amount.sum()['user3']))",
            )
            expected = (
                len(items),
                sum(i["amount"] for i in items),
                sum(i["amount"] for i in items if i["owner"] == "user3"),
            )
            assert run.error is None, run.error
            assert run.result == repr(expected)

    asyncio.run(scenario())


def test_list_files_and_tool_calls_from_the_shell(tmp_path: Path) -> None:
    executor = FakeExecutor()

    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", executor) as wb:
            await wb.write_file("sess_a", "data/in.csv", b"a,b\n1,2\n")
            listed = await wb.run_python("sess_a", "[p for p in list_files() if not p.startswith('outputs/')]")
            assert listed.result == "['data/in.csv']"
            shell = await wb.run_bash(
                "sess_a",
                "python3 -c \"from concierge_helpers import run_composio_tool as t\nprint(t('LOCAL_ECHO', {})[1])\"",
            )
            assert (shell.stdout, shell.exit_code) == ("None\n", 0)

    asyncio.run(scenario())
    assert executor.calls == {("sess_a", "LOCAL_ECHO"): 1}


def test_the_tool_channel_answers_bad_requests_with_an_error(tmp_path: Path) -> None:
    code = """
import os, socket
conn = socket.socket(socket.AF_UNIX)
conn.connect(os.environ["CONCIERGE_TOOL_SOCKET"])
conn.sendall(b"this is not json\\n")
answer = conn.makefile().readline()
conn.close()
deep = socket.socket(socket.AF_UNIX)
deep.connect(os.environ["CONCIERGE_TOOL_SOCKET"])
deep.sendall(b"[" * 200000 + b"]" * 200000 + b"\\n")
too_deep = deep.makefile().readline()
deep.close()
(answer, too_deep, run_composio_tool("", {})[1], run_composio_tool("X", [1])[1])
"""

    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", FakeExecutor()) as wb:
            run = await wb.run_python("sess_a", code)
            assert run.error is None, run.error
            answer, too_deep, empty_slug, bad_args = eval(run.result or "")
            for line in (answer, too_deep):  # nesting past the parser's limit is answered, not a server traceback
                assert json.loads(line)["successful"] is False
                assert "one JSON line" in json.loads(line)["error"]
            assert "non-empty string" in empty_slug and "JSON object" in bad_args

    asyncio.run(scenario())


def test_invoke_llm_without_an_endpoint_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with workbench(tmp_path / "workbench", FakeExecutor()) as wb:
            run = await wb.run_python("sess_a", "invoke_llm('hello')")
            assert run.result is not None and run.result.startswith("(None, 'invoke_llm is not configured")

    asyncio.run(scenario())


@contextlib.contextmanager
def fake_llm_endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            answer = {
                "choices": [{"message": {"role": "assistant", "content": "pong: " + body["messages"][0]["content"]}}]
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def test_invoke_llm_goes_through_the_server_and_the_key_stays_outside(tmp_path: Path) -> None:
    with fake_llm_endpoint() as (url, seen):

        async def scenario() -> None:
            settings = {"llm_base_url": url, "llm_model": "small-model", "llm_api_key": "sk-test-secret"}
            async with workbench(tmp_path / "workbench", FakeExecutor(), **settings) as wb:
                run = await wb.run_python(
                    "sess_a", "import os\n(invoke_llm('ping'), 'sk-test-secret' in repr(dict(os.environ)))"
                )
                assert run.result == "(('pong: ping', None), False)"

        asyncio.run(scenario())
    assert seen == [
        {
            "path": "/v1/chat/completions",
            "auth": "Bearer sk-test-secret",
            "body": {"model": "small-model", "messages": [{"role": "user", "content": "ping"}]},
        }
    ]


def test_helpers_doc_names_every_helper() -> None:
    for name in ("run_composio_tool", "run_tools", "list_files", "load_result", "invoke_llm"):
        assert f"{name}(" in HELPERS_DOC
