"""An Anthropic Messages API agent loop on a Concierge session, with a scripted stand-in for the model.

    pip install -e . anthropic
    python examples/anthropic_messages.py

Starts a throwaway server, or uses $CONCIERGE_BASE_URL / $CONCIERGE_API_KEY. For a real model,
replace `ScriptedAnthropic()` by `anthropic.Anthropic()`: nothing else changes.
"""

from __future__ import annotations

from typing import Any

from _support import USER_PROMPT, concierge_server, next_move, show
from anthropic.types import Message

from server.client import Concierge


class ScriptedAnthropic:
    """Offers `client.messages.create(...)` like `anthropic.Anthropic`, answering from the script."""

    def __init__(self) -> None:
        self.messages = self
        self._turn = 0

    def create(self, *, model: str, max_tokens: int, messages: list[dict[str, Any]],
               tools: list[dict[str, Any]]) -> Message:
        self._turn += 1
        outputs = [block["content"] for m in messages if m["role"] == "user" and isinstance(m["content"], list)
                   for block in m["content"] if block["type"] == "tool_result"]
        move = next_move([t["name"] for t in tools], outputs)
        content: list[dict[str, Any]] = []
        if move.tool:
            content.append({"type": "tool_use", "id": f"toolu_{self._turn}", "name": move.tool,
                            "input": move.arguments})
        else:
            content.append({"type": "text", "text": move.text})
        return Message.model_validate({
            "id": f"msg_{self._turn}", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "tool_use" if move.tool else "end_turn",
            "usage": {"input_tokens": 0, "output_tokens": 0},
        })


def main() -> None:
    with concierge_server() as (base_url, api_key), Concierge(base_url=base_url, api_key=api_key) as concierge:
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        client = ScriptedAnthropic()
        messages: list[dict[str, Any]] = [{"role": "user", "content": USER_PROMPT}]
        show("user:", USER_PROMPT)
        while True:
            response = client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=messages,
                                              tools=session.tools(provider="anthropic"))
            messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                              for b in response.content]})
            if response.stop_reason != "tool_use":
                show("assistant:", "".join(b.text for b in response.content if b.type == "text"))
                return
            for block in response.content:
                if block.type == "tool_use":
                    show(f"model -> {block.name}", block.input)
            results = session.handle_tool_calls(response)
            for block in results[0]["content"]:
                show("tool  <-", block["content"])
            messages += results


if __name__ == "__main__":
    main()
