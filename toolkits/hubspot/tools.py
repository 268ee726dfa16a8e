"""`prepare` hooks: flat property fields (email, dealname, ...) into HubSpot's `{"properties": {...}}` body, and a
note's target ids into v3 association objects with HubSpot's defined association type ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.errors import InvalidInput

# Everything else an object tool receives is a CRM property.
NOT_PROPERTIES = frozenset({"properties", "associations", "contactId", "companyId", "dealId"})
# HUBSPOT_DEFINED association type ids, note -> object (developers.hubspot.com, "Associations v4" type ids).
NOTE_TO = {"contact_ids": 202, "company_ids": 190, "deal_ids": 214}


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
    associations = [{"to": {"id": str(record)}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                            "associationTypeId": type_id}]}
                    for field, type_id in NOTE_TO.items() for record in arguments.get(field) or []]
    return {"properties": properties, "associations": associations}
