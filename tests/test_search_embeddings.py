"""Issue 14: the OpenAI-compatible embeddings provider against a local stand-in speaking that wire format.

The stand-in serves `POST /v1/embeddings` as OpenAI documents it (list or string input, `data[].index`,
`usage`, `{"error": {...}}` bodies with 400/401/404). Its vectors are the packaged model's own
(all-MiniLM-L6-v2), precomputed for the texts these tests send (tests/standins/embedding_vectors.py):
the provider path must rank exactly as the packaged model does in-process, a stopped or hanging
provider must degrade to lexical ranking, and a restart must not embed the catalog again.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.catalog.catalog import Catalog
from server.catalog.embeddings import OpenAIEncoder, ProviderDown
from server.catalog.loader import BUILTIN_TOOLKITS
from server.catalog.model import Toolkit
from server.catalog.retrieval_set import load_builtin_set
from server.catalog.search import SearchIndex, embedded_text
from server.catalog.terms import words
from server.catalog.vector_cache import build_index_with_stored_vectors
from server.errors import ConfigError
from server.store import open_store, sqlite_url
from tests.live import LiveServer, ThreadedServer
from tests.mcp_helpers import call
from tests.standins.embedding_vectors import MODEL, QUERIES, FixtureVectors

KEY = "sk-test-key"
VECTORS = FixtureVectors()


def _covered(toolkits: list[Toolkit]) -> list[Toolkit]:
    """The built-in toolkits with only the tools whose text has a fixture vector (descriptions change)."""
    return [replace(tk, tools={s: t for s, t in tk.tools.items() if embedded_text(t) in VECTORS}) for tk in toolkits]


ALL = load_builtin_set().toolkits
TOOLKITS = [tk for tk in _covered(ALL) if tk.tools]


class StandIn:
    """The embeddings service: real vectors by text, request log, and a switch that makes it hang."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.hang = False  # while True, requests wait (a provider that accepts and never answers)
        self.server = ThreadedServer()
        self.server.serve(self._app)

    @property
    def url(self) -> str:
        return f"{self.server.url}/v1"

    def _app(self) -> Starlette:
        async def embeddings(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {KEY}":
                return _error(401, "Incorrect API key provided", "invalid_api_key")
            body = await request.json()
            if body.get("model") != MODEL:
                return _error(404, f"The model `{body.get('model')}` does not exist", "model_not_found")
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
                return _error(400, "'input' must be a non-empty string or array of strings", None)
            while self.hang:  # noqa: ASYNC110 - the switch is flipped from the test's thread
                await asyncio.sleep(0.05)
            self.requests.append(texts)
            rows = [VECTORS.vector(t) for t in texts]
            if any(r is None for r in rows):
                return _error(400, "this stand-in has no vector for that input", None)
            data = [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}  # type: ignore[union-attr]
                    for i, v in reversed(list(enumerate(rows)))]  # clients must order by `index`
            tokens = sum(len(words(t)) for t in texts)
            return JSONResponse({"object": "list", "data": data, "model": MODEL,
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

        return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])

    def stop(self) -> None:
        self.hang = False
        self.server.stop()


def _error(status: int, message: str, code: str | None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                   "code": code}}, status_code=status)


@pytest.fixture
def provider() -> Iterator[StandIn]:
    stand_in = StandIn()
    yield stand_in
    stand_in.stop()


def _ranking(index: SearchIndex, text: str) -> list[str]:
    return [h.slug for h in index.search_use_case(text).merged]


def test_the_fixture_covers_the_catalog() -> None:
    """Regenerate tests/data/search_vectors.npz when this fails (tool descriptions were edited)."""
    assert sum(len(tk.tools) for tk in TOOLKITS) >= 0.8 * sum(len(tk.tools) for tk in ALL)


def test_provider_ranks_as_the_packaged_model_does(provider: StandIn) -> None:
    remote = SearchIndex(TOOLKITS, semantic=OpenAIEncoder(provider.url, MODEL, KEY))
    packaged = SearchIndex(TOOLKITS, semantic=FixtureVectors())
    lexical = SearchIndex(TOOLKITS)
    assert remote.semantic and packaged.semantic
    corpus = provider.requests[:]
    assert sum(map(len, corpus)) == len(remote.tools) and max(map(len, corpus)) <= 64  # the catalog, in batches
    differs = 0
    for text in QUERIES:
        assert _ranking(remote, text) == _ranking(packaged, text), text
        differs += _ranking(remote, text) != _ranking(lexical, text)
    assert differs >= len(QUERIES) // 2  # the vectors take part in the ranking
    assert _ranking(remote, "sum of 17 and 25")[0].startswith("MATH_")


def test_stopped_provider_degrades_to_lexical_with_one_warning(
        provider: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    remote = SearchIndex(TOOLKITS, semantic=OpenAIEncoder(provider.url, MODEL, KEY, timeout=2))
    lexical = SearchIndex(TOOLKITS)
    provider.stop()
    with caplog.at_level(logging.WARNING, logger="server.catalog.search"):
        for text in QUERIES:
            assert _ranking(remote, text) == _ranking(lexical, text)
    warnings = [r.getMessage() for r in caplog.records if "embedding provider" in r.getMessage()]
    assert len(warnings) == 1 and MODEL in warnings[0] and "ConnectError" in warnings[0]


def test_a_hanging_provider_times_out_to_lexical(provider: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    remote = SearchIndex(TOOLKITS, semantic=OpenAIEncoder(provider.url, MODEL, KEY, timeout=0.5))
    lexical = SearchIndex(TOOLKITS)
    provider.hang = True
    with caplog.at_level(logging.WARNING, logger="server.catalog.search"):
        started = time.monotonic()
        assert _ranking(remote, QUERIES[0]) == _ranking(lexical, QUERIES[0])
        assert time.monotonic() - started < 10
    warnings = [r.getMessage() for r in caplog.records if "embedding provider" in r.getMessage()]
    assert len(warnings) == 1 and "Timeout" in warnings[0]


def test_provider_errors_are_clear(provider: StandIn) -> None:
    with pytest.raises(ProviderDown, match="401"):
        OpenAIEncoder(provider.url, MODEL, "sk-wrong").encode(["add 17 and 25"])
    with pytest.raises(ProviderDown, match="404"):
        OpenAIEncoder(provider.url, "no-such-model", KEY).encode(["add 17 and 25"])
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIEncoder("127.0.0.1:9/v1", MODEL)
    with pytest.raises(ConfigError, match="model"):
        OpenAIEncoder(provider.url, "")


def test_a_provider_down_at_start_still_builds_a_lexical_index(caplog: pytest.LogCaptureFixture) -> None:
    stand_in = StandIn()
    url = stand_in.url
    stand_in.stop()
    with caplog.at_level(logging.WARNING, logger="server.catalog.search"):
        index = SearchIndex(TOOLKITS, semantic=OpenAIEncoder(url, MODEL, KEY, timeout=2))
    assert not index.semantic
    assert index.search_use_case("add 17 and 25").merged[0].slug == "MATH_EVALUATE"
    assert sum("embedding provider" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.anyio
async def test_stored_vectors_spare_a_restart_the_catalog(provider: StandIn, tmp_path: Path) -> None:
    store = await open_store(sqlite_url(tmp_path / "c.db"))
    try:
        first = Catalog(TOOLKITS, semantic=OpenAIEncoder(provider.url, MODEL, KEY))
        assert await build_index_with_stored_vectors(first, store.vectors) == len(first.tools)
        asked = sum(map(len, provider.requests))
        again = Catalog(TOOLKITS, semantic=OpenAIEncoder(provider.url, MODEL, KEY))
        assert await build_index_with_stored_vectors(again, store.vectors) == 0
        assert sum(map(len, provider.requests)) == asked  # nothing embedded for the catalog
        assert again.index.semantic
        assert _ranking(again.index, QUERIES[2]) == _ranking(SearchIndex(TOOLKITS, semantic=FixtureVectors()),
                                                             QUERIES[2])
        provider.stop()  # down at start: the stored vectors still make a semantic index
        down = Catalog(TOOLKITS, semantic=OpenAIEncoder(provider.url, MODEL, KEY, timeout=1))
        assert await build_index_with_stored_vectors(down, store.vectors) == 0 and down.index.semantic
        assert _ranking(down.index, QUERIES[0]) == _ranking(SearchIndex(TOOLKITS), QUERIES[0])
    finally:
        await store.aclose()


@pytest.mark.anyio
async def test_a_server_restart_embeds_only_what_it_has_not_seen(provider: StandIn, tmp_path: Path) -> None:
    kits = tmp_path / "toolkits"
    for slug in ("math", "datetime"):
        shutil.copytree(BUILTIN_TOOLKITS / slug, kits / slug)
    search = {"semantic": "auto", "embeddings": "openai", "base_url": provider.url, "model": MODEL,
              "api_key": KEY, "embeddings_timeout_seconds": 5}
    server = LiveServer(tmp_path / "data", search=search, builtin_toolkits=False, toolkit_paths=[kits]).start()
    try:
        tools = sum(len(tk.tools) for tk in TOOLKITS if tk.slug in ("math", "datetime"))
        assert sum(map(len, provider.requests)) == tools
        server.restart()
        assert sum(map(len, provider.requests)) == tools
        session = server.create_session(toolkits=["math", "datetime"])
        async with Client(session["mcp"]["url"]) as client:
            found = await call(client, "COMPOSIO_SEARCH_TOOLS", {"queries": [{"use_case": "sum of 17 and 25"}]})
        assert found["data"]["results"][0]["primary_tool_slugs"][0].startswith("MATH_")
        assert provider.requests[-1] == ["sum of 17 and 25"]  # one round trip for the request
    finally:
        server.stop()


def test_config_picks_the_provider() -> None:
    from server.config import SearchConfig
    from server.runtime import semantic_option

    chosen = semantic_option(SearchConfig(embeddings="openai", base_url="http://127.0.0.1:9/v1", model=MODEL,
                                          api_key=KEY, embeddings_timeout_seconds=1))
    assert isinstance(chosen, OpenAIEncoder) and chosen.model == MODEL
    assert semantic_option(SearchConfig(semantic="off", embeddings="openai")) is False
    assert semantic_option(SearchConfig()) is None  # packaged extra when installed
    with pytest.raises(ConfigError, match="model"):
        semantic_option(SearchConfig(embeddings="openai", base_url="http://127.0.0.1:9/v1"))
