"""The TLS context the process's outgoing HTTP clients share."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_tls() -> ssl.SSLContext:
    """What httpx builds for every client it makes (its CA bundle; `SSL_CERT_FILE` and `SSL_CERT_DIR`
    honoured), built once: reading the CA bundle costs tens of milliseconds per client."""
    return httpx.create_ssl_context()
