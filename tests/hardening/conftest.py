"""Shared options of the hardening suite: `--soak` turns the bounded load test into the long one."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False,
                     help="hardening: run the load test at full size (200 clients x 60 s, then a 10-minute soak)")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    # the option exists only when this folder (or a file in it) is named on the command line
    return bool(request.config.getoption("--soak", default=False))
