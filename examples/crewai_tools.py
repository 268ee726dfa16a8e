"""CrewAI tools on a Concierge session, called in a loop driven by a scripted model.

    pip install -e . crewai    # in its own venv: crewai pins mcp<2, which Concierge's server cannot use
    python examples/crewai_tools.py

`Concierge(provider="crewai")` makes `session.tools()` CrewAI `BaseTool`s, for `Agent(tools=...)` or
called directly, as here: the scripted model picks the tool and arguments, `tool.run(**arguments)`
runs it through the session. Needs a running server ($CONCIERGE_BASE_URL, $CONCIERGE_API_KEY) when
the venv has no Concierge server installed.
"""

from __future__ import annotations

from _support import USER_PROMPT, concierge_server, next_move, show
from crewai.tools import BaseTool

from server.client import Concierge


def main() -> None:
    with (concierge_server() as (base_url, api_key),
          Concierge(base_url=base_url, api_key=api_key, provider="crewai") as concierge):
        session = concierge.create(user_id="user_123", toolkits=["datetime"])
        tools: dict[str, BaseTool] = {tool.name: tool for tool in session.tools()}
        outputs: list[str] = []
        show("user:", USER_PROMPT)
        while True:
            move = next_move(list(tools), outputs)
            if move.tool is None:
                show("assistant:", move.text or "")
                return
            show(f"model -> {move.tool}", move.arguments)
            outputs.append(tools[move.tool].run(**move.arguments))
            show("tool  <-", outputs[-1])


if __name__ == "__main__":
    main()
