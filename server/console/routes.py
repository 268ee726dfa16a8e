"""The console's route table, mounted at /admin by the app."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from server.console import views


def console_routes() -> list[BaseRoute]:
    return [Route("/admin", views.overview, methods=["GET"]), Mount("/admin", routes=_PAGES)]


_PAGES: list[BaseRoute] = [
    Route("/", views.overview, methods=["GET"]),
    Route("/live", views.live, methods=["GET"]),
    Route("/login", views.login_form, methods=["GET"]),
    Route("/login", views.login_submit, methods=["POST"]),
    Route("/logout", views.logout, methods=["POST"]),
    Route("/sessions", views.sessions, methods=["GET"]),
    Route("/sessions/{session_id}", views.session_detail, methods=["GET"]),
    Route("/accounts", views.accounts, methods=["GET"]),
    Route("/accounts/{account_id}/revoke", views.revoke, methods=["POST"]),
    Route("/auth-configs", views.auth_configs, methods=["GET"]),
    Route("/tools", views.tools, methods=["GET"]),
    Route("/audit", views.audit, methods=["GET"]),
]

PATHS = ["/admin" + r.path for r in _PAGES if isinstance(r, Route)]  # route templates for metrics
