"""An OpenAI Responses API agent loop on a Concierge session, with a scripted stand-in for the model.

    pip install -e . openai
    python examples/openai_responses.py

Starts a throwaway server, or uses $CONCIERGE_BASE_URL / $CONCIERGE_API_KEY. For a real model,
replace `ScriptedOpenAI()` by `openai.OpenAI()`: nothing else changes.
"""

from __future__ import annotations

import json
from typing import Any

from _support import USER_PROMPT, concierge_server, next_move, show
from openai.types.responses import Response

from server.client import Concierge


class ScriptedOpenAI:
    """Offers `client.responses.create(...)` like `openai.OpenAI`, answering from the script."""

    def __init__(self) -> None:
        self.responses = self
        self._turn = 0

    def create(self, *, model: str, input: list[Any], tools: list[dict[str, Any]]) -> Response:
        self._turn += 1
        outputs = [item["output"] for item in input if isinstance(item, dict)
                   and item.get("type") == "function_call_output"]
        move = next_move([t["name"] for t in tools], outputs)
        if move.tool:
            item: dict[str, Any] = {"type": "function_call", "id": f"fc_{self._turn}", "call_id": f"call_{self._turn}",
                                    "name": move.tool, "arguments": json.dumps(move.arguments), "status": "completed"}
        else:
            item = {"type": "message", "id": f"msg_{self._turn}", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": move.text, "annotations": []}]}
        return Response.model_validate({
            "id": f"resp_{self._turn}", "object": "response", "created_at": 0, "model": model, "output": [item],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": tools, "status": "completed",
        })


def main() -> None:
    with concierge_server() as (base_url, api_key), Concierge(base_url=base_url, api_key=api_key) as concierge:
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        client = ScriptedOpenAI()
        items: list[Any] = [{"role": "user", "content": USER_PROMPT}]
        show("user:", USER_PROMPT)
        while True:
            response = client.responses.create(model="gpt-4.1", input=items,
                                               tools=session.tools(provider="openai_responses"))
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                show("assistant:", response.output_text)
                return
            items += [item.model_dump(exclude_none=True) for item in response.output]
            for call in calls:
                show(f"model -> {call.name}", call.arguments)
            results = session.handle_tool_calls(response)
            for result in results:
                show("tool  <-", result["output"])
            items += results


if __name__ == "__main__":
    main()
