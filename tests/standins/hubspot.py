"""A local stand-in for api.hubapi.com (CRM v3 objects, search, owners, pipelines; v4 default associations)
for tests of toolkits/hubspot.

HubSpot publishes no description we may use, so this follows its documentation: records are
`{id, properties, createdAt, updatedAt, archived}` with string property values and a default property set
per object type; lists and searches page with `limit`/`after` and answer `paging.next.after`; search takes
`filterGroups` (OR of ANDed filters), `query`, `sorts`, `properties`; errors are
`{"status": "error", "message", "correlationId", "category"}` (401 INVALID_AUTHENTICATION, 404
OBJECT_NOT_FOUND, 409 CONFLICT for a duplicate contact email, 400 VALIDATION_ERROR for unknown
properties); the secondly limit is a 429 with `errorType: RATE_LIMIT` and no Retry-After (`rate_limit_next`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.standins.work_base import ApiError, Handler, WorkStandIn, bearer

DEFAULTS = {"contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
            "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
            "deals": ["amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                      "hs_object_id", "pipeline"],
            "notes": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
            "tasks": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id", "hs_task_subject"]}
KNOWN = {"contacts": {"phone", "company", "jobtitle", "lifecyclestage", "hubspot_owner_id", "city"},
         "companies": {"industry", "city", "country", "phone", "hubspot_owner_id", "numberofemployees"},
         "deals": {"hubspot_owner_id"}, "notes": {"hs_note_body", "hs_timestamp", "hubspot_owner_id"},
         "tasks": {"hs_timestamp", "hs_task_status", "hs_task_type", "hs_task_body", "hs_task_priority",
                   "hubspot_owner_id"}}
# HUBSPOT_DEFINED type ids for note -> contact/company/deal and the default pairs of v4 associations
NOTE_TYPES = {202: "contacts", 190: "companies", 214: "deals"}
TASK_TYPES = {204: "contacts", 192: "companies", 216: "deals"}
DEFAULT_TYPES = {("contacts", "companies"): 279, ("companies", "contacts"): 280, ("deals", "contacts"): 3,
                 ("contacts", "deals"): 4, ("deals", "companies"): 341, ("companies", "deals"): 342}


def hubspot_error(status: int, category: str, message: str, **extra: Any) -> ApiError:
    return ApiError(status, {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                             "category": category, **extra})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class HubSpotStandIn(WorkStandIn):
    def __init__(self, tokens: Mapping[str, str], verify: Callable[[str], Mapping[str, Any] | None] | None = None
                 ) -> None:
        """`tokens`: private app token -> portal user; `verify`: OAuth access token -> {"user": ...} or None."""
        super().__init__()
        self.tokens, self.verify = dict(tokens), verify
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in DEFAULTS}
        self.associations: list[tuple[str, str, str, str, int]] = []
        self._next = 150
        self.owners = [{"id": str(400 + i), "email": f"rep{i}@acme.example", "firstName": f"Rep{i}", "lastName": "Doe",
                        "userId": 9000 + i, "createdAt": _now(), "updatedAt": _now(), "archived": False,
                        "teams": [{"id": "1", "name": "Sales", "primary": True}]} for i in range(1, 4)]
        for i in range(1, 8):
            self._create("contacts", {"email": f"person{i}@example.com", "firstname": f"Person{i}",
                                      "lastname": "Smith" if i % 2 else "Jones",
                                      "lifecyclestage": "lead" if i <= 4 else "customer"})
        self._create("companies", {"name": "Acme Corp", "domain": "acme.example", "city": "Berlin"})
        for i, stage in enumerate(["appointmentscheduled", "closedwon", "closedlost"], start=1):
            self._create("deals", {"dealname": f"Deal {i}", "amount": str(5000 * i), "pipeline": "default",
                                   "dealstage": stage})

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/crm/v3/objects/{kind}", self.list_objects),
                ("POST", "/crm/v3/objects/{kind}", self.create_object),
                ("POST", "/crm/v3/objects/{kind}/search", self.search),
                ("GET", "/crm/v3/objects/{kind}/{id}", self.get_object),
                ("PATCH", "/crm/v3/objects/{kind}/{id}", self.update_object),
                ("DELETE", "/crm/v3/objects/{kind}/{id}", self.archive_object),
                ("PUT", "/crm/v4/objects/{kind}/{id}/associations/default/{to_kind}/{to_id}", self.associate),
                ("GET", "/crm/v4/objects/{kind}/{id}/associations/{to_kind}", self.list_associations),
                ("GET", "/crm/v3/owners", self.list_owners), ("GET", "/crm/v3/pipelines/{kind}", self.pipelines)]

    def principal(self, request: Request) -> str | None:
        token = bearer(request)
        if not token:
            return None
        if token in self.tokens:
            return self.tokens[token]
        info = self.verify(token) if self.verify else None
        return str(info["user"]) if info else None

    def unauthorized(self, request: Request) -> ApiError:
        return hubspot_error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports "
                             "OAuth 2.0 authentication and you can find more details at "
                             "https://developers.hubspot.com/docs/methods/auth/oauth-overview")

    def not_found(self, request: Request) -> ApiError:
        return ApiError(404, {"status": "error", "message": "Resource not found", "correlationId": str(uuid.uuid4()),
                              "category": "OBJECT_NOT_FOUND"})

    def rate_limit_next(self, times: int = 1) -> None:
        self.fail_next(429, hubspot_error(429, "RATE_LIMITS", "You have reached your secondly limit.",
                                          errorType="RATE_LIMIT", policyName="SECONDLY", groupName="publicapi").body,
                       {"X-HubSpot-RateLimit-Secondly": "10", "X-HubSpot-RateLimit-Secondly-Remaining": "0"}, times)

    # records -------------------------------------------------------------------------------------------------------

    def _kind(self, request: Request, key: str = "kind") -> str:
        kind = request.path_params[key]
        if kind not in self.objects:
            raise hubspot_error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {kind}")
        return kind

    def _check(self, kind: str, properties: Any) -> dict[str, str | None]:
        if not isinstance(properties, dict):
            raise hubspot_error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1: properties must be an object")
        allowed = set(DEFAULTS[kind]) | KNOWN[kind]
        bad = [name for name in properties if name not in allowed]
        if bad:
            detail = [{"isValid": False, "message": f'Property "{n}" does not exist', "error": "PROPERTY_DOESNT_EXIST",
                       "name": n, "localizedErrorMessage": f'Property "{n}" does not exist'} for n in bad]
            raise hubspot_error(400, "VALIDATION_ERROR", f"Property values were not valid: {json.dumps(detail)}")
        return {k: None if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in properties.items()}

    def _create(self, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
        values = self._check(kind, properties)
        if kind == "contacts" and values.get("email"):
            taken = next((r for r in self.objects[kind].values() if r["properties"].get("email") == values["email"]),
                         None)
            if taken is not None:
                raise hubspot_error(409, "CONFLICT", f"Contact already exists. Existing ID: {taken['id']}")
        self._next += 1
        record_id, now = str(self._next), _now()
        record = {"id": record_id, "properties": {"createdate": now, "hs_object_id": record_id,
                                                  "lastmodifieddate": now, "hs_lastmodifieddate": now, **values},
                  "createdAt": now, "updatedAt": now, "archived": False}
        self.objects[kind][record_id] = record
        return record

    def _record(self, kind: str, record_id: str, id_property: str | None = None) -> dict[str, Any]:
        if id_property == "email" and kind == "contacts":
            found = next((r for r in self.objects[kind].values() if r["properties"].get("email") == record_id), None)
        else:
            found = self.objects[kind].get(record_id)
        if found is None or found["archived"]:
            raise hubspot_error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                                context={"id": [record_id]})
        return found

    def _view(self, kind: str, record: dict[str, Any], wanted: list[str] | None,
              associations: list[str] | None = None) -> dict[str, Any]:
        names = wanted or DEFAULTS[kind]
        out = {**record, "properties": {n: record["properties"].get(n) for n in names}}
        if associations:
            linked: dict[str, Any] = {}
            here = (kind, record["id"])
            for to_kind in associations:
                ids = [t for (fk, f, tk, t, _) in self.associations if (fk, f) == here and tk == to_kind]
                ids += [f for (fk, f, tk, t, _) in self.associations if (tk, t) == here and fk == to_kind]
                if ids:
                    linked[to_kind] = {"results": [{"id": i, "type": f"{kind[:-1]}_to_{to_kind[:-1]}"} for i in ids]}
            if linked:
                out["associations"] = linked
        return out

    def _page(self, kind: str, records: list[dict[str, Any]], limit: Any, after: Any, wanted: list[str] | None,
              maximum: int, total: bool = False) -> Response:
        try:
            size, start = int(limit or 10), int(after or 0)
        except ValueError:
            raise hubspot_error(400, "VALIDATION_ERROR", "Invalid limit or after") from None
        if not 1 <= size <= maximum:
            raise hubspot_error(400, "VALIDATION_ERROR", f"limit must be between 1 and {maximum}")
        chunk = records[start:start + size]
        body: dict[str, Any] = {"results": [self._view(kind, r, wanted) for r in chunk]}
        if total:
            body = {"total": len(records), **body}
        if start + size < len(records):
            body["paging"] = {"next": {"after": str(start + size),
                                       "link": f"{self.url}/crm/v3/objects/{kind}?after={start + size}"}}
        return JSONResponse(body)

    # endpoints -----------------------------------------------------------------------------------------------------

    async def list_objects(self, request: Request, who: str) -> Response:
        kind, q = self._kind(request), request.query_params
        archived = q.get("archived") == "true"
        records = [r for r in self.objects[kind].values() if r["archived"] == archived]
        return self._page(kind, records, q.get("limit"), q.get("after"), _names(q.get("properties")), 100)

    async def create_object(self, request: Request, who: str) -> Response:
        kind = self._kind(request)
        body = await _json(request)
        targets = []
        for link in body.get("associations") or []:
            for spec in link.get("types") or []:
                to_kind = {"notes": NOTE_TYPES, "tasks": TASK_TYPES}.get(kind, {}).get(spec.get("associationTypeId"))
                if spec.get("associationCategory") != "HUBSPOT_DEFINED" or to_kind is None:
                    raise hubspot_error(400, "VALIDATION_ERROR", f"invalid association type {spec}")
                targets.append((to_kind, self._record(to_kind, str(link["to"]["id"]))["id"],
                                spec["associationTypeId"]))
        record = self._create(kind, body.get("properties") or {})
        self.associations += [(kind, record["id"], to_kind, to_id, type_id) for to_kind, to_id, type_id in targets]
        return JSONResponse(self._view(kind, record, list(record["properties"])), status_code=201)

    async def search(self, request: Request, who: str) -> Response:
        kind = self._kind(request)
        body = await _json(request)
        groups = body.get("filterGroups") or []
        words = str(body.get("query") or "").lower()
        records = [r for r in self.objects[kind].values() if not r["archived"]
                   and (not groups or any(all(_passes(r, f) for f in g.get("filters") or []) for g in groups))
                   and (not words or any(words in str(v).lower() for v in r["properties"].values()))]
        for sort in reversed(body.get("sorts") or []):
            name = str(sort.get("propertyName"))
            records.sort(key=lambda r: str(r["properties"].get(name) or ""),
                         reverse=sort.get("direction") == "DESCENDING")
        return self._page(kind, records, body.get("limit"), body.get("after"), body.get("properties"), 200, total=True)

    async def get_object(self, request: Request, who: str) -> Response:
        kind, q = self._kind(request), request.query_params
        record = self._record(kind, request.path_params["id"], q.get("idProperty"))
        return JSONResponse(self._view(kind, record, _names(q.get("properties")), _names(q.get("associations"))))

    async def update_object(self, request: Request, who: str) -> Response:
        kind = self._kind(request)
        record = self._record(kind, request.path_params["id"])
        values = self._check(kind, (await _json(request)).get("properties"))
        record["properties"].update(values)
        record["updatedAt"] = record["properties"]["lastmodifieddate"] = _now()
        return JSONResponse(self._view(kind, record, list(values) + ["hs_object_id"]))

    async def archive_object(self, request: Request, who: str) -> Response:
        kind = self._kind(request)
        self._record(kind, request.path_params["id"])["archived"] = True
        return Response(status_code=204)

    async def associate(self, request: Request, who: str) -> Response:
        kind, to_kind = self._kind(request), self._kind(request, "to_kind")
        source = self._record(kind, request.path_params["id"])["id"]
        target = self._record(to_kind, request.path_params["to_id"])["id"]
        type_id = DEFAULT_TYPES.get((kind, to_kind))
        if type_id is None:
            raise hubspot_error(400, "VALIDATION_ERROR", f"No default association between {kind} and {to_kind}")
        self.associations.append((kind, source, to_kind, target, type_id))
        now = _now()
        return JSONResponse({"status": "COMPLETE", "results": [
            {"from": {"id": source}, "to": {"id": target},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}}],
            "startedAt": now, "completedAt": now})

    async def list_associations(self, request: Request, who: str) -> Response:
        kind, to_kind = self._kind(request), self._kind(request, "to_kind")
        here = (kind, self._record(kind, request.path_params["id"])["id"])
        found: dict[str, list[int]] = {}
        for fk, f, tk, t, type_id in self.associations:
            if (fk, f) == here and tk == to_kind:
                found.setdefault(t, []).append(type_id)
            elif (tk, t) == here and fk == to_kind:
                found.setdefault(f, []).append(type_id)
        rows = [{"toObjectId": int(i), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": t,
                                                             "label": None} for t in types]}
                for i, types in found.items()]
        size, start = int(request.query_params.get("limit") or 500), int(request.query_params.get("after") or 0)
        body: dict[str, Any] = {"results": rows[start:start + size]}
        if start + size < len(rows):
            body["paging"] = {"next": {"after": str(start + size)}}
        return JSONResponse(body)

    async def list_owners(self, request: Request, who: str) -> Response:
        q = request.query_params
        owners = [o for o in self.owners if q.get("email") in (None, o["email"])]
        size, start = int(q.get("limit") or 100), int(q.get("after") or 0)
        body: dict[str, Any] = {"results": owners[start:start + size]}
        if start + size < len(owners):
            body["paging"] = {"next": {"after": str(start + size)}}
        return JSONResponse(body)

    async def pipelines(self, request: Request, who: str) -> Response:
        if request.path_params["kind"] != "deals":
            return JSONResponse({"results": []})
        stages = [("appointmentscheduled", "Appointment Scheduled", "0.2"), ("closedwon", "Closed Won", "1.0"),
                  ("closedlost", "Closed Lost", "0.0")]
        return JSONResponse({"results": [{"id": "default", "label": "Sales Pipeline", "displayOrder": 0,
                                          "archived": False, "stages": [
            {"id": sid, "label": label, "displayOrder": i, "archived": False,
             "metadata": {"isClosed": str(sid.startswith("closed")).lower(), "probability": prob}}
            for i, (sid, label, prob) in enumerate(stages)]}]})


def _names(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


def _passes(record: dict[str, Any], rule: dict[str, Any]) -> bool:
    value = record["properties"].get(rule.get("propertyName", ""))
    wanted = rule.get("value")
    op = rule.get("operator")
    if op == "HAS_PROPERTY":
        return value is not None
    if op == "NOT_HAS_PROPERTY":
        return value is None
    if op == "IN":
        return value in (rule.get("values") or [])
    if value is None:
        return False
    if op in ("GT", "GTE", "LT", "LTE"):
        try:
            a, b = float(value), float(str(wanted))
        except (TypeError, ValueError):
            return False
        return {"GT": a > b, "GTE": a >= b, "LT": a < b, "LTE": a <= b}[op]
    if op == "CONTAINS_TOKEN":
        return str(wanted).lower().strip("*") in value.lower()
    if op in ("EQ", "NEQ"):
        return (value.lower() == str(wanted).lower()) == (op == "EQ")
    raise hubspot_error(400, "VALIDATION_ERROR", f"Unsupported operator {op}")


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise hubspot_error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1") from None
    if not isinstance(body, dict):
        raise hubspot_error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
    return body
