"""Google Calendar hooks: a Google Meet link is asked for with one flag instead of a conferenceData request."""

from __future__ import annotations

import uuid
from typing import Any


def with_meet_link(arguments: dict[str, Any]) -> dict[str, Any]:
    """`add_google_meet: true` becomes the conferenceData create request Google wants (a fresh requestId per
    call, conferenceDataVersion=1 so the request is honoured)."""
    arguments = dict(arguments)
    if arguments.pop("add_google_meet", False):
        arguments["conferenceData"] = {"createRequest": {"requestId": uuid.uuid4().hex,
                                                         "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
    if "conferenceData" in arguments:
        arguments["conferenceDataVersion"] = 1
    return arguments


def expand_recurring(arguments: dict[str, Any]) -> dict[str, Any]:
    """Recurring meetings as their single occurrences unless asked otherwise: what "my agenda" means, and
    what ordering by start time needs."""
    return {"singleEvents": True} | arguments
