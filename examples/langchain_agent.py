"""A LangChain tool-calling loop on a Concierge session, with a scripted chat model in place of a real one.

    pip install -e . langchain-core
    python examples/langchain_agent.py

`Concierge(provider="langchain")` makes `session.tools()` LangChain `StructuredTool`s; invoking one
runs it through the session. The same tools work in LangGraph (`ToolNode`, `create_react_agent`).
For a real model, replace `ScriptedChatModel()` by e.g. `ChatOpenAI(model="gpt-4.1")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from _support import USER_PROMPT, concierge_server, next_move, show
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from server.client import Concierge


class ScriptedChatModel(BaseChatModel):
    """A LangChain chat model that answers from the script; `bind_tools` works as with real models."""

    offered: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return self.model_copy(update={"offered": [convert_to_openai_tool(t)["function"]["name"] for t in tools]})

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        outputs = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
        move = next_move(self.offered, outputs)
        calls = [{"name": move.tool, "args": move.arguments, "id": f"call_{len(outputs) + 1}"}] if move.tool else []
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=move.text or "", tool_calls=calls))])


def main() -> None:
    with (concierge_server() as (base_url, api_key),
          Concierge(base_url=base_url, api_key=api_key, provider="langchain") as concierge):
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        tools = {tool.name: tool for tool in session.tools()}
        model = ScriptedChatModel().bind_tools(list(tools.values()))
        messages: list[BaseMessage] = [HumanMessage(USER_PROMPT)]
        show("user:", USER_PROMPT)
        while True:
            reply = model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                show("assistant:", str(reply.content))
                return
            for call in reply.tool_calls:
                show(f"model -> {call['name']}", call["args"])
                result = tools[call["name"]].invoke(call)  # a ToolMessage answering this call
                show("tool  <-", result.content)
                messages.append(result)


if __name__ == "__main__":
    main()
