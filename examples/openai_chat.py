"""An OpenAI Chat Completions agent loop on a Concierge session, with a scripted stand-in for the model.

    pip install -e . openai
    python examples/openai_chat.py

Starts a throwaway server, or uses $CONCIERGE_BASE_URL / $CONCIERGE_API_KEY. For a real model,
replace `ScriptedOpenAI()` by `openai.OpenAI()`: nothing else changes.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from _support import USER_PROMPT, concierge_server, next_move, show
from openai.types.chat import ChatCompletion

from server.client import Concierge


class ScriptedOpenAI:
    """Offers `client.chat.completions.create(...)` like `openai.OpenAI`, answering from the script."""

    def __init__(self) -> None:
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))
        self._turn = 0

    def _create(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatCompletion:
        self._turn += 1
        outputs = [m["content"] for m in messages if m["role"] == "tool"]
        move = next_move([t["function"]["name"] for t in tools], outputs)
        message: dict[str, Any] = {"role": "assistant", "content": move.text}
        if move.tool:
            message["tool_calls"] = [{"id": f"call_{self._turn}", "type": "function",
                                      "function": {"name": move.tool, "arguments": json.dumps(move.arguments)}}]
        return ChatCompletion.model_validate({
            "id": f"chatcmpl-{self._turn}", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if move.tool else "stop"}],
        })


def main() -> None:
    with concierge_server() as (base_url, api_key), Concierge(base_url=base_url, api_key=api_key) as concierge:
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        client = ScriptedOpenAI()
        messages: list[dict[str, Any]] = [{"role": "user", "content": USER_PROMPT}]
        show("user:", USER_PROMPT)
        while True:
            response = client.chat.completions.create(model="gpt-4.1", messages=messages,
                                                      tools=session.tools(provider="openai"))
            message = response.choices[0].message
            messages.append(message.model_dump(exclude_none=True))
            if not message.tool_calls:
                show("assistant:", message.content or "")
                return
            for call in message.tool_calls:
                show(f"model -> {call.function.name}", call.function.arguments)
            results = session.handle_tool_calls(response)
            for result in results:
                show("tool  <-", result["content"])
            messages.extend(results)


if __name__ == "__main__":
    main()
