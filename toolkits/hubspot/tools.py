"""`prepare` hooks: flat property fields (email, dealname, ...) into HubSpot's `{"properties": {...}}` body, and a
note's target ids into v3 association objects with HubSpot's defined association type ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.errors import InvalidInput

# Everything else an object tool receives is a CRM property.
NOT_PROPERTIES = frozenset({"properties", "associations", "contactId", "companyId", "dealId"})
# HUBSPOT_DEFINED association type ids, note/task -> object (developers.hubspot.com, "Associations v4" type ids).
NOTE_TO = {"contact_ids": 202, "company_ids": 190, "deal_ids": 214}
TASK_TO = {"contact_ids": 204, "company_ids": 192, "deal_ids": 216}


def prepare_object(arguments: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in arguments.items() if k in NOT_PROPERTIES}
    properties = dict(arguments.get("properties") or {})
    properties.update({k: v for k, v in arguments.items() if k not in NOT_PROPERTIES})
    if not properties:
        raise InvalidInput("give at least one property to set", {"field": "properties"})
    args["properties"] = properties
    return args


def prepare_note(arguments: dict[str, Any]) -> dict[str, Any]:
    timestamp = arguments.get("timestamp") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    properties = {"hs_note_body": arguments["body"], "hs_timestamp": timestamp}
    if arguments.get("hubspot_owner_id"):
        properties["hubspot_owner_id"] = arguments["hubspot_owner_id"]
    return {"properties": properties, "associations": _associations(arguments, NOTE_TO)}


def prepare_task(arguments: dict[str, Any]) -> dict[str, Any]:
    properties = {"hs_task_subject": arguments["subject"], "hs_timestamp": arguments["due"],
                  "hs_task_status": "NOT_STARTED", "hs_task_type": arguments.get("task_type") or "TODO"}
    for field, name in (("notes", "hs_task_body"), ("priority", "hs_task_priority"),
                        ("hubspot_owner_id", "hubspot_owner_id")):
        if arguments.get(field):
            properties[name] = arguments[field]
    return {"properties": properties, "associations": _associations(arguments, TASK_TO)}


def _associations(arguments: dict[str, Any], type_ids: dict[str, int]) -> list[dict[str, Any]]:
    """`contact_ids: ["151"]` -> v3 association objects with HubSpot's defined type id for that pair."""
    return [{"to": {"id": str(record)}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                   "associationTypeId": type_id}]}
            for field, type_id in type_ids.items() for record in arguments.get(field) or []]
