"""What only the async client has: concurrent calls on one client, its async lifecycle, and both
event loops anyio supports. Everything it shares with the sync client runs in test_client.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from server.client import AsyncConcierge, ToolResult
from tests.live import API_KEY, LiveServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    toolkits = Path(__file__).parent / "fixtures" / "toolkits"
    server = LiveServer(tmp_path_factory.mktemp("client_async") / "data", toolkit_paths=[toolkits]).start()
    yield server
    server.stop()


async def test_concurrent_calls_share_one_client(live: LiveServer) -> None:
    async with AsyncConcierge(live.url, API_KEY) as concierge:
        session = await concierge.create(user_id="user_1", toolkits=["demo"])
        results: dict[int, ToolResult] = {}

        async def run(i: int) -> None:
            slug, arguments = ("DEMO_SLEEP", {"ms": 200}) if i % 2 else ("DEMO_ECHO", {"text": str(i)})
            results[i] = await session.execute(slug, arguments)

        with anyio.fail_after(5):  # 10 sleeps of 0.2 s in well under 2 s: they overlapped
            start = anyio.current_time()
            async with anyio.create_task_group() as group:
                for i in range(20):
                    group.start_soon(run, i)
            assert anyio.current_time() - start < 1.5
        assert all(r.successful for r in results.values())
        assert len({r.log_id for r in results.values()}) == 20
        assert [results[i].data["text"] for i in range(0, 20, 2)] == [str(i) for i in range(0, 20, 2)]
    assert concierge._http.is_closed


async def test_handle_tool_calls_with_a_list_of_openai_tool_calls(live: LiveServer) -> None:
    async with AsyncConcierge(live.url, API_KEY) as concierge:
        session = await concierge.create(user_id="user_1", toolkits=["demo"])
        calls = [{"id": "call_1", "type": "function", "function": {
            "name": "COMPOSIO_MULTI_EXECUTE_TOOL",
            "arguments": '{"tools": [{"tool_slug": "DEMO_ECHO", "arguments": {"text": "a"}}]}'}},
            {"id": "call_2", "type": "function", "function": {"name": "COMPOSIO_SEARCH_TOOLS", "arguments": "{oops"}}]
        first, second = await session.handle_tool_calls(calls)
        assert first["role"] == "tool" and first["tool_call_id"] == "call_1" and '"successful":true' in first["content"]
        assert second["tool_call_id"] == "call_2" and "not valid JSON" in second["content"]
