"""Google Sheets hooks: plain fields (a title, a list of ranges, find/replace text) become the nested request
objects the Sheets API takes, so an agent never has to write a batchUpdate request by hand for common jobs."""

from __future__ import annotations

from typing import Any

_SUMMARY_FIELDS = "spreadsheetId,spreadsheetUrl,properties(title,locale,timeZone),sheets(properties)"


def _pick(arguments: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: arguments[name] for name in names if name in arguments}


def new_spreadsheet(arguments: dict[str, Any]) -> dict[str, Any]:
    """{title, sheet_titles, locale, timeZone} -> a Spreadsheet resource."""
    body: dict[str, Any] = {"properties": _pick(arguments, ("title", "locale", "timeZone"))}
    titles = arguments.get("sheet_titles") or []
    if titles:
        body["sheets"] = [{"properties": {"title": str(title)}} for title in titles]
    return body


def summary_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """Without grid data, answer with the spreadsheet's title and tabs rather than every cell format."""
    if arguments.get("includeGridData"):
        return arguments
    return {"fields": _SUMMARY_FIELDS} | arguments


def data_filters(arguments: dict[str, Any]) -> dict[str, Any]:
    """A list of A1 ranges -> dataFilters (the POST form of batchGet, which takes ranges in a JSON body)."""
    rest = {k: v for k, v in arguments.items() if k != "ranges"}
    return rest | {"dataFilters": [{"a1Range": str(r)} for r in arguments.get("ranges") or []]}


def add_sheet(arguments: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = _pick(arguments, ("title", "index"))
    grid = {name: arguments[key] for key, name in (("rows", "rowCount"), ("columns", "columnCount"))
            if key in arguments}
    if grid:
        properties["gridProperties"] = grid
    return {"spreadsheetId": arguments["spreadsheetId"], "requests": [{"addSheet": {"properties": properties}}]}


def find_replace(arguments: dict[str, Any]) -> dict[str, Any]:
    request = _pick(arguments, ("find", "replacement", "matchCase", "matchEntireCell", "searchByRegex",
                                "includeFormulas", "sheetId"))
    if "sheetId" not in request:
        request["allSheets"] = True
    return {"spreadsheetId": arguments["spreadsheetId"], "requests": [{"findReplace": request}]}


def first_reply(data: Any) -> Any:
    """A batchUpdate answer for one request: that request's reply, with the spreadsheet id."""
    if isinstance(data, dict) and isinstance(data.get("replies"), list) and len(data["replies"]) == 1:
        reply = data["replies"][0]
        if isinstance(reply, dict) and len(reply) == 1:
            return {"spreadsheetId": data.get("spreadsheetId"), **next(iter(reply.values()))}
    return data


def insert_rows(arguments: dict[str, Any]) -> dict[str, Any]:
    """Appended rows are inserted (Sheets' own default, OVERWRITE, writes over whatever sits below the table)."""
    return {"insertDataOption": "INSERT_ROWS"} | arguments
