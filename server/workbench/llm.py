"""The server side of `invoke_llm`: one OpenAI-compatible chat completion, made outside the sandbox."""

from __future__ import annotations

import httpx

from server.errors import UpstreamError
from server.tls import client_tls

_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class LlmClient:
    """POSTs `{base_url}/chat/completions` (e.g. base_url `https://api.openai.com/v1`).

    The API key stays here: the sandbox only sends a prompt over its tool channel.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(timeout=_TIMEOUT, verify=client_tls())

    async def complete(self, prompt: str) -> str:
        body = {"model": self._model, "messages": [{"role": "user", "content": prompt}]}
        try:
            response = await self._http.post(self._url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the LLM endpoint could not be reached: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise UpstreamError(f"the LLM endpoint answered HTTP {response.status_code}")
        try:
            return str(response.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            raise UpstreamError("the LLM endpoint's answer is not a chat completion") from None

    async def aclose(self) -> None:
        await self._http.aclose()
