"""The Google and Microsoft Graph stand-ins serve only operations the providers publish: every route they
answer exists, with that method, in Google's discovery documents or in the Graph description."""

from __future__ import annotations

from functools import cache

import pytest

from server.catalog import api_specs, spec_check
from tests.standins.google import GoogleStandIn
from tests.standins.msgraph import GraphStandIn

SPECS = spec_check.specs_dir()
GOOGLE = {"/gmail/v1": "google/gmail.v1.json", "/calendar/v3": "google/calendar.v3.json",
          "/drive/v3": "google/drive.v3.json", "/v4": "google/sheets.v4.json"}
GRAPH_ONLY_DOCUMENTED = {("GET", "/v1.0/me")}  # the CSDL-derived subset has no bare /me


def google_routes() -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in GoogleStandIn().routes()]


def graph_routes() -> list[tuple[str, str]]:
    routes = [(method, path) for method, path, _ in GraphStandIn().routes()]
    return [route for route in routes if route not in GRAPH_ONLY_DOCUMENTED]


@cache
def spec(name: str) -> api_specs.ApiDescription:
    return api_specs.load(SPECS / name)


@pytest.mark.parametrize(("method", "path"), google_routes(), ids=lambda v: str(v))
def test_google_stand_in_routes_are_published_operations(method: str, path: str) -> None:
    prefix = next(p for p in GOOGLE if path.startswith(p + "/"))
    api = spec(GOOGLE[prefix])
    assert api.find(method, path) is not None, f"{method} {path} is not in {GOOGLE[prefix]}"


@pytest.mark.parametrize(("method", "path"), graph_routes(), ids=lambda v: str(v))
def test_graph_stand_in_routes_are_published_operations(method: str, path: str) -> None:
    api = spec("microsoft-graph/msgraph-v1.0-subset.json")
    assert api.find(method, path.removeprefix("/v1.0")) is not None, f"{method} {path} is not in the Graph subset"


def test_the_graph_exception_is_needed() -> None:
    served = {(method, path) for method, path, _ in GraphStandIn().routes()}
    api = spec("microsoft-graph/msgraph-v1.0-subset.json")
    assert served >= GRAPH_ONLY_DOCUMENTED
    assert all(api.find(method, path.removeprefix("/v1.0")) is None for method, path in GRAPH_ONLY_DOCUMENTED)
