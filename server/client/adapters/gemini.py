"""Google Gemini (google-genai): the session's tools as one `types.Tool` of function declarations.

Pass them as `GenerateContentConfig(tools=session.tools())`; the model's function calls go back
through `session.handle_tool_calls(response)`, which returns the `user` turn of function responses.
The tools' JSON Schemas go as `parameters_json_schema`, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.genai import types

from server.client.adapters import Runner
from server.client.models import ToolListingOut


def tools(listings: Sequence[ToolListingOut], runner: Runner) -> list[types.Tool]:
    declarations = [
        types.FunctionDeclaration(name=t.name, description=t.description, parameters_json_schema=t.input_schema)
        for t in listings
    ]
    return [types.Tool(function_declarations=declarations)]
