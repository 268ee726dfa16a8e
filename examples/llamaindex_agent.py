"""LlamaIndex tools on a Concierge session, called in a loop driven by a scripted model.

    pip install -e . llama-index-core
    python examples/llamaindex_agent.py

`Concierge(provider="llamaindex")` makes `session.tools()` LlamaIndex `FunctionTool`s, usable by its
agents (`FunctionAgent(tools=..., llm=OpenAI(...))`, `ReActAgent`) or called directly, as here: the
scripted model picks the tool and arguments, `tool.call(**arguments)` runs it through the session.
"""

from __future__ import annotations

from _support import USER_PROMPT, concierge_server, next_move, show
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from server.client import Concierge


def main() -> None:
    with (concierge_server() as (base_url, api_key),
          Concierge(base_url=base_url, api_key=api_key, provider="llamaindex") as concierge):
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        tools: dict[str, FunctionTool] = {tool.metadata.get_name(): tool for tool in session.tools()}
        chat = [ChatMessage(role="user", content=USER_PROMPT)]
        show("user:", USER_PROMPT)
        while True:
            move = next_move(list(tools), [str(m.content) for m in chat if m.role == "tool"])
            if move.tool is None:
                show("assistant:", move.text or "")
                return
            show(f"model -> {move.tool}", move.arguments)
            output = tools[move.tool].call(**move.arguments)
            show("tool  <-", output.content)
            chat.append(ChatMessage(role="tool", content=output.content,
                                    additional_kwargs={"tool_call_id": f"call_{len(chat)}", "name": move.tool}))


if __name__ == "__main__":
    main()
