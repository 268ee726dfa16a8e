"""A local OpenAI-compatible embeddings service for `bench/search_latency.py --openai-standin`.

Answers `POST /v1/embeddings` in the OpenAI wire format with 384-dimension vectors (the packaged
model's size) hashed from the words of each text: the latency of a remote provider's round trip and
of the ranking around it, without a model or the network.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.catalog.terms import words

MODEL = "hashed-384"
DIMENSION = 384


def _vector(text: str) -> list[float]:
    out = np.zeros(DIMENSION, np.float32)
    for word in words(text):
        out[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIMENSION] += 1.0
    norm = float(np.linalg.norm(out)) or 1.0
    return (out / norm).tolist()


async def _embeddings(request: Request) -> JSONResponse:
    body = await request.json()
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(texts)]
    tokens = sum(len(words(t)) for t in texts)
    return JSONResponse({"object": "list", "data": data, "model": MODEL,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def start() -> tuple[str, uvicorn.Server]:
    """The service on a free loopback port, in a daemon thread; returns its API root and the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    app = Starlette(routes=[Route("/v1/embeddings", _embeddings, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1", server
