"""Module-scoped fixtures for calling a built-in toolkit's handlers directly, through the real loader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder
from server.catalog.model import Toolkit
from server.values import ToolContext

Caller = Callable[..., Any]


def handler_fixtures(name: str, settings: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
    """`toolkit`, `ctx` and `call` fixtures for one toolkit; a test module assigns all three."""

    @pytest.fixture(scope="module")
    def toolkit() -> Toolkit:
        return load_toolkit_folder(BUILTIN_TOOLKITS / name)

    @pytest.fixture(scope="module")
    def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolContext]:
        client = httpx.AsyncClient()  # offline tools never use it; one per module keeps the suite fast
        yield ToolContext("sess_test", "user_test", tmp_path_factory.mktemp("data"), client, settings or {})
        anyio.run(client.aclose)

    @pytest.fixture
    def call(toolkit: Toolkit, ctx: ToolContext) -> Caller:
        def run(slug: str, **arguments: Any) -> Any:
            return toolkit.tools[slug].handler(arguments, ctx)

        return run

    return toolkit, ctx, call
