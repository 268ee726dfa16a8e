"""schemathesis against /api/v1/openapi.json of a live server, every check on (server errors,
conformance of status codes, content types, headers and bodies, acceptance of schema-valid data,
rejection of schema-invalid data, auth, stateful sequences): zero failures. A body that matches the
schema but cannot be done (an unknown toolkit name) is answered 422, which the document declares.

Every check schemathesis has, except its response-time limit: `--checks all` adds a 10 s limit per
response, which fails the run whenever the CI host stalls (once: a 38 s PUT of an empty file, answered
200, on a run whose whole coverage phase took 24 s; locally its slowest response is 0.12 s). Speed is
measured in bench/; a request that hangs still fails here, at `--request-timeout`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.live import API_KEY, LiveServer

# `--checks all` without max_response_time (not a choice of --exclude-checks)
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection,positive_data_acceptance,missing_required_header,"
          "unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability,ignored_auth,"
          "object_level_authorization")

CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"""


def test_schemathesis_finds_nothing(server: LiveServer, tmp_path: Path, soak: bool) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    examples = 100 if soak else 8
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
         f"{server.url}/api/v1/openapi.json", "-H", f"Authorization: Bearer {API_KEY}", "--checks", CHECKS,
         "--max-examples", str(examples), "--seed", "16", "--no-color", "--request-timeout", "30",
         # registering an upstream starts the operator's command or connects to its URL: fuzzing that would run
         # random programs; those routes have their own tests (tests/test_upstreams*.py)
         "--exclude-path-regex", "/upstreams"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) > 300, output[-2000:]
    assert "No issues found" in output or " 0 failures" in output or "failures" not in output.split("SUMMARY")[-1]
