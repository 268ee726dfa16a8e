"""An OpenAI Agents SDK agent on a Concierge session, with a scripted model in place of a real one.

    pip install -e . openai-agents
    python examples/openai_agents.py

`Concierge(provider="openai_agents")` makes `session.tools()` the SDK's `FunctionTool`s; the SDK's
runner calls them, and they run through the session. For a real model, drop `model=ScriptedModel()`
(the agent then uses the SDK's default OpenAI model).
"""

from __future__ import annotations

import json
from typing import Any

from _support import USER_PROMPT, concierge_server, next_move, show
from agents import Agent, FunctionTool, ModelResponse, Runner, Usage, set_tracing_disabled
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from server.client import Concierge


class ScriptedModel(Model):
    """An Agents SDK model answering from the script, in the Responses API's output items."""

    async def get_response(self, system_instructions: str | None, input: Any, model_settings: Any, tools: list[Any],
                           output_schema: Any, handoffs: list[Any], tracing: Any, **kwargs: Any) -> ModelResponse:
        items = [input] if isinstance(input, str) else input
        outputs = [str(i["output"]) for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
        if outputs:
            show("tool  <-", outputs[-1])
        move = next_move([t.name for t in tools if isinstance(t, FunctionTool)], outputs)
        turn = len(outputs) + 1
        output: list[Any]
        if move.tool:
            show(f"model -> {move.tool}", json.dumps(move.arguments))
            output = [ResponseFunctionToolCall(type="function_call", id=f"fc_{turn}", call_id=f"call_{turn}",
                                               name=move.tool, arguments=json.dumps(move.arguments))]
        else:
            output = [ResponseOutputMessage(type="message", id=f"msg_{turn}", role="assistant", status="completed",
                                            content=[ResponseOutputText(type="output_text", text=move.text or "",
                                                                        annotations=[])])]
        return ModelResponse(output=output, usage=Usage(), response_id=f"resp_{turn}")

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the scripted model does not stream")


def main() -> None:
    set_tracing_disabled(True)  # traces go to OpenAI's platform, which a scripted run has no key for
    with (concierge_server() as (base_url, api_key),
          Concierge(base_url=base_url, api_key=api_key, provider="openai_agents") as concierge):
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        agent = Agent(name="Assistant", instructions="Use the tools to answer.", tools=session.tools(),
                      model=ScriptedModel())
        show("user:", USER_PROMPT)
        result = Runner.run_sync(agent, USER_PROMPT)
        show("assistant:", result.final_output)


if __name__ == "__main__":
    main()
