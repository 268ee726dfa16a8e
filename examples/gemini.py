"""A Google Gemini (google-genai) function-calling loop on a Concierge session, with a scripted model.

    pip install -e . google-genai
    python examples/gemini.py

`Concierge(provider="gemini")` makes `session.tools()` a `types.Tool` of function declarations;
`session.handle_tool_calls(response)` runs the model's function calls and returns the function
responses to append. For a real model, replace `ScriptedGemini()` by `genai.Client()`.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from _support import USER_PROMPT, concierge_server, next_move, show
from google.genai import types

from server.client import Concierge


class ScriptedGemini:
    """Offers `client.models.generate_content(...)` like `genai.Client`, answering from the script."""

    def __init__(self) -> None:
        self.models = SimpleNamespace(generate_content=self._generate_content)

    def _generate_content(self, *, model: str, contents: list[Any],
                          config: types.GenerateContentConfig) -> types.GenerateContentResponse:
        turns = [types.Content.model_validate(c) if isinstance(c, dict) else c for c in contents]
        outputs = [json.dumps(next(iter(part.function_response.response.values())))
                   for turn in turns for part in turn.parts or []
                   if part.function_response is not None and part.function_response.response]
        offered = [d.name or "" for tool in config.tools or [] if isinstance(tool, types.Tool)
                   for d in tool.function_declarations or []]
        move = next_move(offered, outputs)
        part = (types.Part(function_call=types.FunctionCall(id=f"fc_{len(outputs) + 1}", name=move.tool,
                                                            args=move.arguments))
                if move.tool else types.Part(text=move.text))
        return types.GenerateContentResponse(candidates=[types.Candidate(
            content=types.Content(role="model", parts=[part]), finish_reason=types.FinishReason.STOP)])


def main() -> None:
    with (concierge_server() as (base_url, api_key),
          Concierge(base_url=base_url, api_key=api_key, provider="gemini") as concierge):
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        client = ScriptedGemini()
        config = types.GenerateContentConfig(tools=session.tools())
        contents: list[Any] = [types.Content(role="user", parts=[types.Part(text=USER_PROMPT)])]
        show("user:", USER_PROMPT)
        while True:
            response = client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
            if not response.function_calls:
                show("assistant:", response.text or "")
                return
            for call in response.function_calls:
                show(f"model -> {call.name}", call.args)
            contents.append(response.candidates[0].content)  # type: ignore[index]
            results = session.handle_tool_calls(response)
            for part in results[0]["parts"]:
                show("tool  <-", part["function_response"]["response"])
            contents.extend(results)


if __name__ == "__main__":
    main()
