"""Issue 14: the OpenAI-compatible embeddings provider against a local stand-in speaking that wire format.

The stand-in serves `POST /v1/embeddings` as OpenAI documents it (list input, `data[].index`,
`usage`, `{"error": {...}}` bodies with 401/404). Its vectors come from a hashed bag-of-words model,
not the packaged MiniLM (torch is not part of the test install); the test checks that the provider
path ranks exactly as the same model does in-process, and that a stopped provider degrades.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.catalog.embeddings import OpenAIEncoder, ProviderDown
from server.catalog.retrieval_set import load_builtin_set
from server.catalog.search import SearchIndex
from server.catalog.terms import words
from server.errors import ConfigError
from tests.live import ThreadedServer

MODEL = "hashed-bow-256"
KEY = "sk-test-key"
BUILTIN = load_builtin_set()
QUERIES = ["add 17 and 25", "post in #general that the deploy is done", "what's on my google calendar tomorrow",
           "find the Q3 budget doc in my google drive and email it to Bob"]


class HashedBagOfWords:
    """A small deterministic embedding model: word hashes into 256 dimensions, unit length."""

    model = MODEL
    dimension = 256

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    encode_corpus = encode


def _app(requests: list[int]) -> Starlette:
    model = HashedBagOfWords()

    async def embeddings(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                           "param": None, "code": "invalid_api_key"}}, status_code=401)
        body = await request.json()
        if body.get("model") != MODEL:
            return JSONResponse({"error": {"message": f"The model `{body.get('model')}` does not exist",
                                           "type": "invalid_request_error", "param": None,
                                           "code": "model_not_found"}}, status_code=404)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        requests.append(len(texts))
        vectors = model.encode(texts)
        data = [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                for i, v in reversed(list(enumerate(vectors)))]  # order by `index`, not by position
        tokens = sum(len(words(t)) for t in texts)
        return JSONResponse({"object": "list", "data": data, "model": MODEL,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])


@pytest.fixture
def provider() -> Iterator[tuple[ThreadedServer, list[int]]]:
    requests: list[int] = []
    server = ThreadedServer()
    server.serve(lambda: _app(requests))
    yield server, requests
    server.stop()


def test_provider_ranks_as_the_model_does_in_process(provider: tuple[ThreadedServer, list[int]]) -> None:
    server, requests = provider
    remote = SearchIndex(BUILTIN.toolkits, semantic=OpenAIEncoder(f"{server.url}/v1", MODEL, KEY))
    local = SearchIndex(BUILTIN.toolkits, semantic=HashedBagOfWords())
    assert remote.semantic and local.semantic
    assert sum(requests) == len(remote.tools) and max(requests) <= 64  # the catalog, in batches
    for text in QUERIES:
        assert ([h.slug for h in remote.search_use_case(text).merged]
                == [h.slug for h in local.search_use_case(text).merged]), text


def test_stopped_provider_degrades_to_lexical_with_one_warning(
        provider: tuple[ThreadedServer, list[int]], caplog: pytest.LogCaptureFixture) -> None:
    server, _ = provider
    remote = SearchIndex(BUILTIN.toolkits, semantic=OpenAIEncoder(f"{server.url}/v1", MODEL, KEY, timeout=2))
    lexical = SearchIndex(BUILTIN.toolkits)
    server.stop()
    with caplog.at_level(logging.WARNING, logger="server.catalog.search"):
        for text in QUERIES:
            assert ([h.slug for h in remote.search_use_case(text + " please").merged]
                    == [h.slug for h in lexical.search_use_case(text + " please").merged])
    warnings = [r for r in caplog.records if "embedding provider" in r.getMessage()]
    assert len(warnings) == 1 and MODEL in warnings[0].getMessage()
    assert "ConnectError" in warnings[0].getMessage()


def test_provider_errors_are_clear(provider: tuple[ThreadedServer, list[int]]) -> None:
    server, _ = provider
    with pytest.raises(ProviderDown, match="401"):
        OpenAIEncoder(f"{server.url}/v1", MODEL, "sk-wrong").encode(["hello"])
    with pytest.raises(ProviderDown, match="404"):
        OpenAIEncoder(f"{server.url}/v1", "no-such-model", KEY).encode(["hello"])
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIEncoder("127.0.0.1:9/v1", MODEL)
    with pytest.raises(ConfigError, match="model"):
        OpenAIEncoder(f"{server.url}/v1", "")


def test_a_provider_down_at_start_still_builds_a_lexical_index(caplog: pytest.LogCaptureFixture) -> None:
    server = ThreadedServer()
    server.serve(lambda: _app([]))
    url = server.url
    server.stop()
    with caplog.at_level(logging.WARNING, logger="server.catalog.search"):
        index = SearchIndex(BUILTIN.toolkits, semantic=OpenAIEncoder(f"{url}/v1", MODEL, KEY, timeout=2))
    assert not index.semantic
    assert index.search_use_case("add 17 and 25").merged[0].slug == "MATH_EVALUATE"
    assert sum("embedding provider" in r.getMessage() for r in caplog.records) == 1


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
