"""Runs a declarative `http:` tool: arguments -> request, response -> result, errors named."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from server.catalog.model import Tool, Toolkit
from server.errors import ToolError, UpstreamError
from server.execute.credentials import Credential


def build_request(tool: Tool, toolkit: Toolkit, arguments: dict[str, Any], credential: Credential) -> httpx.Request:
    spec = tool.http
    assert spec is not None and toolkit.base_url
    used = set(spec.path_params)
    path = spec.path
    for name in spec.path_params:
        path = path.replace("{" + name + "}", quote(str(arguments[name]), safe=""))
    query = {name: _scalar(arguments[name]) for name in spec.query if name in arguments}
    headers = {header: str(arguments[name]) for name, header in spec.headers.items() if name in arguments}
    used |= set(spec.query) | set(spec.headers)
    body_names = [k for k in arguments if k not in used] if spec.body == "*" else (spec.body or [])
    body = {k: arguments[k] for k in body_names if k in arguments}
    headers = {**toolkit.default_headers, **headers, **credential.headers}
    query.update(credential.query)
    base = toolkit.base_url
    if "{" in base:
        try:
            base = base.format_map(credential.fields)
        except KeyError as exc:
            raise ToolError(f"{tool.slug}: the connected account lacks the field {exc.args[0]!r} that the "
                            "toolkit's base_url needs; reconnect it") from None
    url = base.rstrip("/") + path
    if spec.body is None or spec.method == "GET":
        return httpx.Request(spec.method, url, params=query, headers=headers)
    if spec.body_format == "form":
        return httpx.Request(spec.method, url, params=query, headers=headers, data=body)
    return httpx.Request(spec.method, url, params=query, headers=headers, json=body)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value


def _dig(data: Any, path: str | None) -> Any:
    for part in (path or "").split("."):
        if part and isinstance(data, dict):
            data = data.get(part)
    return data


def _provider_message(response: httpx.Response, body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                return value
    return response.reason_phrase or f"HTTP {response.status_code}"


async def send(client: httpx.AsyncClient, request: httpx.Request, max_bytes: int) -> tuple[httpx.Response, bytes]:
    response = await client.send(request, stream=True)
    try:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise UpstreamError(f"response from {request.url.host} is larger than {max_bytes} bytes",
                                    {"limit_bytes": max_bytes})
            chunks.append(chunk)
    finally:
        await response.aclose()
    return response, b"".join(chunks)


def interpret(tool: Tool, response: httpx.Response, raw: bytes) -> Any:
    """Map the provider's answer to data, or to a ToolError (4xx) / UpstreamError (5xx, 429)."""
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    status = response.status_code
    rate_limited = status == 403 and ("retry-after" in response.headers
                                      or response.headers.get("x-ratelimit-remaining") == "0")
    if status == 429 or status >= 500 or rate_limited:
        raise UpstreamError(f"{tool.slug}: provider answered {status}: {_provider_message(response, body)}",
                            {"status": status, "retry_after": response.headers.get("retry-after")})
    if status >= 400:
        raise ToolError(f"{tool.slug}: provider answered {status}: {_provider_message(response, body)}",
                        {"status": status})
    if isinstance(body, dict) and body.get("ok") is False and "error" in body:
        raise ToolError(f"{tool.slug}: provider error: {body['error']}", {"status": status})
    assert tool.http is not None
    data = _dig(body, tool.http.result_path)
    if tool.http.paginate == "link_header" and "next" in response.links:
        following = httpx.URL(response.links["next"].get("url", "")).params.get("page")
        return {"items": data, "has_more": True, "next_page": int(following) if following and following.isdigit()
                else None}
    return data
