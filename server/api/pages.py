"""The few HTML pages a person sees (Connect forms, success and error pages): self-contained, no
external assets, every dynamic value escaped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from starlette.responses import HTMLResponse

from server.catalog.toolkit_file import FieldSpec

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f7f9;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:12px;padding:2rem 2.2rem;
box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.3rem;margin:0 0 .6rem}p{line-height:1.5;color:#4a5263}
label{display:block;margin:1rem 0 .3rem;font-weight:600;font-size:.9rem}small{color:#6b7385}
input{width:100%;box-sizing:border-box;padding:.6rem .7rem;border:1px solid #c9ced8;border-radius:8px;font-size:1rem}
button{margin-top:1.4rem;width:100%;padding:.7rem;border:0;border-radius:8px;background:#2f5bea;color:#fff;
font-size:1rem;font-weight:600;cursor:pointer}.ok{color:#137333}.bad{color:#b3261e}
"""


def page(title: str, body: str, status: int = 200, tone: str = "") -> HTMLResponse:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><main><h1 class='{tone}'>{escape(title)}</h1>{body}</main>"
        f"</body></html>"
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        },
    )


def message_page(title: str, text: str, status: int = 200, tone: str = "") -> HTMLResponse:
    return page(title, f"<p>{escape(text)}</p>", status, tone)


def _linked(text: str) -> str:
    """Escaped text with its https:// addresses made into links (a provider's token settings page)."""
    return re.sub(
        r"(https://[^\s<>\"']+[^\s<>\"'.,;:)])", r"<a href='\1' target='_blank' rel='noopener'>\1</a>", escape(text)
    )


def form_page(
    app_name: str,
    action: str,
    state: str,
    fields: Sequence[FieldSpec],
    error: str | None = None,
    status: int = 200,
    help: str | None = None,
) -> HTMLResponse:
    inputs = "".join(
        f"<label for='{escape(f.name)}'>{escape(f.label)}</label>"
        + (f"<small>{escape(f.description)}</small>" if f.description else "")
        + f"<input id='{escape(f.name)}' name='{escape(f.name)}' type='{'password' if f.secret else 'text'}'"
        + (" required" if f.required else "")
        + " autocomplete='off'>"
        for f in fields
    )
    problem = f"<p class='bad'>{escape(error)}</p>" if error else ""
    body = (
        f"<p>Enter your {escape(app_name)} credentials. They are encrypted and used only for the tools "
        f"you run through this assistant.</p>"
        + (f"<p class='help'>Where do I get this? {_linked(help)}</p>" if help else "")
        + f"{problem}<form method=post action='{escape(action)}'>"
        f"<input type=hidden name=state value='{escape(state)}'>{inputs}<button type=submit>Connect</button>"
        "</form>"
    )
    return page(f"Connect {app_name}", body, status)
