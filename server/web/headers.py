"""Security headers for every HTML response: a strict CSP (no scripts at all, styles only from our
own stylesheet, forms only back to us), no framing, no referrer, no caching."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """`form_targets`: URLs a form on the page may end up at (Chrome applies `form-action` to the
    redirects after a submit too, e.g. to an OAuth provider or the app's callback)."""
    extra = sorted({o for o in (origin(u) for u in form_targets) if o})
    return "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self'",
            "form-action " + " ".join(["'self'", *extra]),
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def security_headers(form_targets: Iterable[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(form_targets),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
