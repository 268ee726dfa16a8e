"""The web pages people see (Connect pages, the admin console): server-rendered Jinja2 templates,
one stylesheet of our own, a CSRF token on every form and a strict Content-Security-Policy.

Use from a route handler:

    web = web_of(request)
    return web.render(request, "connect/form.html", {"app": ...}, csrf_purpose="connect:<id>")

and on POST: `form = await web.form(request, csrf_purpose="connect:<id>")` (raises `CsrfRefused`,
which `web.refused(request, exc)` turns into a page). Templates live in `server/web/templates/`,
extend `base.html` and put `{% include "_csrf.html" %}` in every form; `/static/<file>` serves
`server/web/static/`.
"""

from server.web.csrf import Csrf, CsrfRefused
from server.web.pages import Web, web_of

__all__ = ["Csrf", "CsrfRefused", "Web", "web_of"]
