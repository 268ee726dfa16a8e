"""Date and time tools: current time, time-zone conversion, date arithmetic and loose date parsing.

Agents are asked things like "9am New York to Tokyo" or "10 business days from next friday", so every
date argument goes through one forgiving parser and every zone through one resolver that knows IANA
names, city and country names, abbreviations (PST, CET, IST) and UTC offsets. Only the standard
library is used; zone rules come from `zoneinfo` (system database or the `tzdata` package).
"""

from __future__ import annotations

import calendar
import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from server.errors import ToolError
from server.values import ToolContext

# What people type -> IANA zone. Abbreviations map to the region's zone (so "PST" in July gives
# Pacific *daylight* time, which is what people mean); the answer always names the zone used.
_ZONE_ALIASES: dict[str, str] = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC", "universal": "UTC", "coordinated universal": "UTC",
    "est": "America/New_York", "edt": "America/New_York", "et": "America/New_York", "eastern": "America/New_York",
    "cst": "America/Chicago", "cdt": "America/Chicago", "ct": "America/Chicago", "central": "America/Chicago",
    "mst": "America/Denver", "mdt": "America/Denver", "mt": "America/Denver", "mountain": "America/Denver",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "pt": "America/Los_Angeles",
    "pacific": "America/Los_Angeles", "akst": "America/Anchorage", "akdt": "America/Anchorage",
    "alaska": "America/Anchorage", "hst": "Pacific/Honolulu", "hawaii": "Pacific/Honolulu",
    "ast": "America/Halifax", "atlantic": "America/Halifax", "nst": "America/St_Johns",
    "bst": "Europe/London", "uk": "Europe/London", "britain": "Europe/London", "england": "Europe/London",
    "united kingdom": "Europe/London", "scotland": "Europe/London", "wales": "Europe/London",
    "ireland": "Europe/Dublin", "wet": "Europe/Lisbon", "west": "Europe/Lisbon", "portugal": "Europe/Lisbon",
    "cet": "Europe/Paris", "cest": "Europe/Paris", "france": "Europe/Paris", "germany": "Europe/Berlin",
    "munich": "Europe/Berlin", "frankfurt": "Europe/Berlin", "hamburg": "Europe/Berlin", "cologne": "Europe/Berlin",
    "spain": "Europe/Madrid", "barcelona": "Europe/Madrid", "italy": "Europe/Rome", "milan": "Europe/Rome",
    "netherlands": "Europe/Amsterdam", "belgium": "Europe/Brussels", "switzerland": "Europe/Zurich",
    "geneva": "Europe/Zurich", "austria": "Europe/Vienna", "poland": "Europe/Warsaw", "krakow": "Europe/Warsaw",
    "czechia": "Europe/Prague", "sweden": "Europe/Stockholm", "norway": "Europe/Oslo", "denmark": "Europe/Copenhagen",
    "finland": "Europe/Helsinki", "eet": "Europe/Athens", "eest": "Europe/Athens", "greece": "Europe/Athens",
    "romania": "Europe/Bucharest", "ukraine": "Europe/Kyiv", "kiev": "Europe/Kyiv", "turkey": "Europe/Istanbul",
    "msk": "Europe/Moscow", "st petersburg": "Europe/Moscow", "saint petersburg": "Europe/Moscow",
    "israel": "Asia/Jerusalem", "tel aviv": "Asia/Jerusalem", "egypt": "Africa/Cairo",
    "gst": "Asia/Dubai", "uae": "Asia/Dubai", "abu dhabi": "Asia/Dubai", "saudi arabia": "Asia/Riyadh",
    "pkt": "Asia/Karachi", "pakistan": "Asia/Karachi", "lahore": "Asia/Karachi", "islamabad": "Asia/Karachi",
    "ist": "Asia/Kolkata", "india": "Asia/Kolkata", "mumbai": "Asia/Kolkata", "bombay": "Asia/Kolkata",
    "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata",
    "hyderabad": "Asia/Kolkata", "chennai": "Asia/Kolkata", "pune": "Asia/Kolkata", "nepal": "Asia/Kathmandu",
    "bangladesh": "Asia/Dhaka", "ict": "Asia/Bangkok", "thailand": "Asia/Bangkok", "vietnam": "Asia/Ho_Chi_Minh",
    "hanoi": "Asia/Ho_Chi_Minh", "saigon": "Asia/Ho_Chi_Minh", "wib": "Asia/Jakarta", "indonesia": "Asia/Jakarta",
    "bali": "Asia/Makassar", "sgt": "Asia/Singapore", "malaysia": "Asia/Kuala_Lumpur",
    "philippines": "Asia/Manila", "pht": "Asia/Manila", "hkt": "Asia/Hong_Kong", "china": "Asia/Shanghai",
    "beijing": "Asia/Shanghai", "shenzhen": "Asia/Shanghai", "guangzhou": "Asia/Shanghai",
    "taiwan": "Asia/Taipei", "jst": "Asia/Tokyo", "japan": "Asia/Tokyo", "osaka": "Asia/Tokyo",
    "kyoto": "Asia/Tokyo", "kst": "Asia/Seoul", "korea": "Asia/Seoul", "south korea": "Asia/Seoul",
    "busan": "Asia/Seoul", "aest": "Australia/Sydney", "aedt": "Australia/Sydney", "canberra": "Australia/Sydney",
    "acst": "Australia/Adelaide", "acdt": "Australia/Adelaide", "awst": "Australia/Perth",
    "nzst": "Pacific/Auckland", "nzdt": "Pacific/Auckland", "new zealand": "Pacific/Auckland",
    "wellington": "Pacific/Auckland", "sast": "Africa/Johannesburg", "south africa": "Africa/Johannesburg",
    "cape town": "Africa/Johannesburg", "eat": "Africa/Nairobi", "kenya": "Africa/Nairobi",
    "wat": "Africa/Lagos", "nigeria": "Africa/Lagos", "brt": "America/Sao_Paulo", "brazil": "America/Sao_Paulo",
    "rio": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo", "art": "America/Argentina/Buenos_Aires",
    "argentina": "America/Argentina/Buenos_Aires", "mexico": "America/Mexico_City", "colombia": "America/Bogota",
    "peru": "America/Lima", "chile": "America/Santiago",
    "nyc": "America/New_York", "new york city": "America/New_York", "manhattan": "America/New_York",
    "brooklyn": "America/New_York", "boston": "America/New_York", "washington": "America/New_York",
    "washington dc": "America/New_York", "dc": "America/New_York", "philadelphia": "America/New_York",
    "miami": "America/New_York", "atlanta": "America/New_York", "orlando": "America/New_York",
    "charlotte": "America/New_York", "pittsburgh": "America/New_York", "ottawa": "America/Toronto",
    "montreal": "America/Toronto", "chicago": "America/Chicago", "dallas": "America/Chicago",
    "houston": "America/Chicago", "austin": "America/Chicago", "san antonio": "America/Chicago",
    "minneapolis": "America/Chicago", "nashville": "America/Chicago", "new orleans": "America/Chicago",
    "st louis": "America/Chicago", "kansas city": "America/Chicago", "salt lake city": "America/Denver",
    "calgary": "America/Edmonton", "sf": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
    "bay area": "America/Los_Angeles", "silicon valley": "America/Los_Angeles", "san jose": "America/Los_Angeles",
    "la": "America/Los_Angeles", "seattle": "America/Los_Angeles", "san diego": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles", "portland": "America/Los_Angeles",
}
_ZONE_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
                 "Indian/", "Pacific/")
_OFFSET_RE = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$")
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name} | {
    name.lower(): i for i, name in enumerate(calendar.month_abbr) if name} | {"sept": 9}
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)} | {
    name.lower(): i for i, name in enumerate(calendar.day_abbr)} | {"tues": 1, "thur": 3, "thurs": 3}
_WEEKDAY_NAMES = [name.lower() for name in calendar.day_name]
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_UNIT_NAMES = {"second": "seconds", "sec": "seconds", "s": "seconds", "minute": "minutes", "min": "minutes",
               "hour": "hours", "hr": "hours", "h": "hours", "day": "days", "d": "days", "week": "weeks",
               "wk": "weeks", "w": "weeks", "fortnight": "fortnights", "month": "months", "mo": "months",
               "year": "years", "yr": "years", "y": "years"}
_UNIT_PAIR = re.compile(r"\b(\d+|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s*([a-z]+)\b")
_CLOCK_RE = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?:\s*([ap])\.?m\.?)?(?!\w)")
_HOUR_AMPM_RE = re.compile(r"\b(\d{1,2})\s*([ap])\.?m\.?(?!\w)")
_AT_HOUR_RE = re.compile(r"\bat\s+(\d{1,2})$")
_DATE_HINT = ("Write dates like '2026-11-27', '2026-11-27 09:30', 'Nov 27 2026 9am', '27/11/2026', "
              "'tomorrow 3pm', 'next friday', 'in 3 days' or '2 weeks ago'.")


# ---------------------------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------------------------

def _key(text: str) -> str:
    """Lower-case, accent-free, single-spaced form used to compare zone names people type."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[\s_]+", " ", ascii_text.strip().lower()).strip(" .,")


@cache
def _zone_index() -> dict[str, str]:
    """Every key a zone can be found by: full IANA names, their city part, then the aliases."""
    index: dict[str, str] = {}
    names = sorted(z for z in available_timezones() if z not in {"localtime", "Factory"})
    for name in names:
        index.setdefault(_key(name), name)
    for name in names:
        if name.startswith(_ZONE_REGIONS):
            index.setdefault(_key(name.rsplit("/", 1)[1]), name)
    index.update(_ZONE_ALIASES)  # "EST" means Eastern Time to people, not the fixed-offset legacy zone
    return index


def _format_offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _lookup_zone(name: str) -> tuple[tzinfo, str] | None:
    key = _key(name)
    if not key:
        return None
    if (m := _OFFSET_RE.match(key)) is not None:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes >= 60:
            return None
        delta = timedelta(hours=hours, minutes=minutes) * (1 if m.group(1) == "+" else -1)
        return timezone(delta), f"UTC{_format_offset(delta)}"
    index = _zone_index()
    for candidate in (key, re.sub(r"\s+(standard |daylight |summer )?time$", "", key)):
        if candidate in index:
            return ZoneInfo(index[candidate]), index[candidate]
    return None


def resolve_zone(name: str) -> tuple[tzinfo, str]:
    """IANA name, city, country, abbreviation or UTC offset -> (tzinfo, canonical name); ToolError if unknown."""
    found = _lookup_zone(name)
    if found is not None:
        return found
    index = _zone_index()
    close = difflib.get_close_matches(_key(name), list(index), n=5, cutoff=0.7)
    suggestions = list(dict.fromkeys(index[c] for c in close))
    raise ToolError(
        f"Unknown time zone {name!r}. Use an IANA name like 'America/New_York', a city like 'Tokyo', an "
        "abbreviation like 'PST' or an offset like 'UTC+5:30' (DATETIME_LIST_TIMEZONES searches them).",
        details={"timezone": name, "suggestions": suggestions},
    )


# ---------------------------------------------------------------------------------------------
# Loose date parsing
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Parsed:
    value: datetime  # always aware
    has_time: bool
    zone: str
    explicit_zone: bool = False  # the text itself fixed the instant (offset, zone name, timestamp, "now")


def _attach(naive: datetime, zone: tzinfo) -> datetime:
    """Attach a zone, moving times that fall in a daylight-saving gap forward as clocks do."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


def _offset_name(value: datetime) -> str:
    return "UTC" if not value.utcoffset() else f"UTC{_format_offset(value.utcoffset())}"


def _two_digit_year(year: int) -> int:
    return year + (2000 if year < 70 else 1900) if year < 100 else year


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(_two_digit_year(year), month, day)
    except ValueError as exc:
        raise ToolError(f"{text!r} is not a valid date: {exc}.", details={"input": text}) from None


def _extract_time(text: str) -> tuple[time | None, str]:
    """Find a clock time ('09:30', '9am', '9:30 p.m.', 'noon', 'at 9') and return it with the rest."""
    for word, value in (("noon", time(12)), ("midday", time(12)), ("midnight", time(0))):
        if re.search(rf"\b{word}\b", text):
            return value, re.sub(rf"\b{word}\b", " ", text)
    for regex in (_CLOCK_RE, _HOUR_AMPM_RE, _AT_HOUR_RE):
        m = regex.search(text)
        if m is None:
            continue
        hour = int(m.group(1))
        minute = int(m.group(2)) if regex is _CLOCK_RE else 0
        second = int(m.group(3) or 0) if regex is _CLOCK_RE else 0
        micro = int((m.group(4) or "0").ljust(6, "0")) if regex is _CLOCK_RE else 0
        ampm = m.group(5) if regex is _CLOCK_RE else (m.group(2) if regex is _HOUR_AMPM_RE else None)
        if ampm:
            if not 1 <= hour <= 12:
                raise ToolError(f"{m.group(0).strip()!r} is not a valid 12-hour time.", details={"input": text})
            hour = hour % 12 + (12 if ampm == "p" else 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ToolError(f"{m.group(0).strip()!r} is not a valid time of day.", details={"input": text})
        return time(hour, minute, second, micro), text[: m.start()] + " " + text[m.end():]
    return None, text


def _relative_offset(text: str) -> dict[str, int] | None:
    """'in 3 days', '2 weeks ago', '+90 minutes', '1 year and 2 months from now' -> signed unit counts."""
    sign = 0
    body = text
    if m := re.match(r"^(in\b|\+|-)\s*", body):
        sign = -1 if m.group(1) == "-" else 1
        body = body[m.end():]
    if m := re.search(r"\s*(ago|before now|earlier|from now|from today|later|hence|after now)$", body):
        sign = -1 if m.group(1) in {"ago", "before now", "earlier"} else 1
        body = body[: m.start()]
    if sign == 0 or not body:
        return None
    counts: dict[str, int] = {}
    position = 0
    for pair in _UNIT_PAIR.finditer(body):
        if body[position: pair.start()].strip(" ,").removeprefix("and").strip():
            return None
        unit = _UNIT_NAMES.get(pair.group(2)) or _UNIT_NAMES.get(pair.group(2).rstrip("s"))
        if unit is None:
            return None
        amount = _NUMBER_WORDS.get(pair.group(1)) or int(pair.group(1))
        counts[unit] = counts.get(unit, 0) + sign * amount
        position = pair.end()
    if position == 0 or body[position:].strip():
        return None
    if "fortnights" in counts:
        counts["weeks"] = counts.get("weeks", 0) + 2 * counts.pop("fortnights")
    return counts


def add_months(value: datetime, months: int) -> datetime:
    """Calendar month arithmetic that clamps the day (Jan 31 + 1 month = Feb 28/29)."""
    year, month = divmod(value.month - 1 + months, 12)
    year += value.year
    if not 1 <= year <= 9999:
        raise ToolError("The result is outside the supported years 1-9999.", details={"months": months})
    return value.replace(year=year, month=month + 1, day=min(value.day, calendar.monthrange(year, month + 1)[1]))


def shift(value: datetime, counts: dict[str, int]) -> datetime:
    """Add calendar units on the wall clock (a day stays a day across DST) and clock units in real time."""
    try:
        zone = value.tzinfo
        local = value.replace(tzinfo=None)
        local = add_months(local, 12 * counts.get("years", 0) + counts.get("months", 0))
        local += timedelta(weeks=counts.get("weeks", 0), days=counts.get("days", 0))
        result = _attach(local, zone) if zone is not None else local
        exact = timedelta(hours=counts.get("hours", 0), minutes=counts.get("minutes", 0),
                          seconds=counts.get("seconds", 0))
        if exact and zone is not None:
            return (result.astimezone(UTC) + exact).astimezone(zone)
        return result + exact
    except OverflowError:
        raise ToolError("The result is outside the supported years 1-9999.", details=dict(counts)) from None


def _relative_date(words: str, today: date) -> date | None:
    """today / tomorrow / next friday / last week / this monday -> a date, or None if not relative."""
    fixed = {"today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "yesterday": -1,
             "day after tomorrow": 2, "day before yesterday": -2}
    if words in fixed:
        return today + timedelta(days=fixed[words])
    m = re.fullmatch(r"(?:(next|last|this|coming|previous|past)\s+)?([a-z]+)", words)
    if m is None:
        return None
    which, name = m.group(1), m.group(2)
    if name in _WEEKDAYS:
        ahead = (_WEEKDAYS[name] - today.weekday()) % 7
        if which == "next":
            return today + timedelta(days=ahead or 7)
        if which in {"last", "previous", "past"}:
            return today - timedelta(days=(today.weekday() - _WEEKDAYS[name]) % 7 or 7)
        return today + timedelta(days=ahead)
    if which is not None and name in {"week", "month", "year"}:
        step = {"next": 1, "coming": 1, "this": 0}.get(which, -1)
        moved = shift(datetime.combine(today, time()), {f"{name}s": step})
        return moved.date()
    return None


def _absolute_date(words: str, today: date, dayfirst: bool, text: str) -> date | None:
    """Numeric (2026-11-27, 27/11/2026, 11/27) and month-name (Nov 27 2026, 27th of November) dates."""
    if m := re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", words):
        return _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)), text)
    if m := re.fullmatch(r"(\d{4})[-/](\d{1,2})", words):
        return _make_date(int(m.group(1)), int(m.group(2)), 1, text)
    if m := re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{2}|\d{4}))?", words):
        first, second = int(m.group(1)), int(m.group(2))
        year = int(m.group(3)) if m.group(3) else today.year
        day_first = first > 12 or (dayfirst and second <= 12)
        day, month = (first, second) if day_first else (second, first)
        return _make_date(year, month, day, text)
    tokens = re.findall(r"[a-z]+|\d+", words)
    months = [t for t in tokens if t in _MONTHS]
    if len(months) != 1:
        return None
    numbers: list[int] = []
    for i, token in enumerate(tokens):
        if token.isdigit():
            numbers.append(int(token))
        elif token in {"st", "nd", "rd", "th"} and i > 0 and tokens[i - 1].isdigit():
            continue
        elif token not in _MONTHS and token not in _WEEKDAYS and token not in {"of", "the", "on", "at", "in"}:
            return None
    year = next((n for n in numbers if n > 31), None)
    days = [n for n in numbers if n <= 31]
    if year is None and len(days) == 2:
        year = days.pop()  # "Nov 27 26": the last small number is a two-digit year
    if len(days) > 1:
        return None
    return _make_date(year if year is not None else today.year, _MONTHS[months[0]], days[0] if days else 1, text)


def parse_loose(text: str, zone: tzinfo, zone_name: str, ref: datetime | None = None,
                dayfirst: bool = False) -> Parsed:
    """Parse what a person would type as a date/time; a zone named in the text wins over `zone`."""
    raw = text.strip()
    if not raw:
        raise ToolError("The date is empty. " + _DATE_HINT, details={"input": text})
    ref = (ref or datetime.now(UTC)).astimezone(zone)
    if re.fullmatch(r"[+-]?\d{9,13}(\.\d+)?", raw):  # Unix timestamp (seconds, or milliseconds)
        seconds = float(raw) / (1000 if abs(float(raw)) >= 1e11 else 1)
        return Parsed(datetime.fromtimestamp(seconds, UTC).astimezone(zone), True, zone_name, True)
    try:
        if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", raw):
            return Parsed(_attach(datetime.combine(date.fromisoformat(raw), time()), zone), False, zone_name)
        iso = datetime.fromisoformat(raw)
        if iso.tzinfo is not None:
            return Parsed(iso, True, _offset_name(iso), True)
        return Parsed(_attach(iso, zone), True, zone_name)
    except ValueError:
        pass
    if re.match(r"^(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}", raw, re.I):
        try:  # RFC 2822, as in e-mail and HTTP headers
            rfc = parsedate_to_datetime(raw)
            if rfc.tzinfo is not None:
                return Parsed(rfc, True, _offset_name(rfc), True)
            return Parsed(_attach(rfc, zone), True, zone_name)
        except (TypeError, ValueError, IndexError):
            pass

    s = re.sub(r"[,]+", " ", raw.lower()).strip()
    words = s.split()
    explicit = False
    for size in range(min(4, len(words)), 0, -1):  # a zone at the end: "9am New York", "3pm PST"
        tail = " ".join(words[-size:])
        if re.fullmatch(r"[a-z][\w ./'+-]*|[+-]\d{1,2}(?::?\d{2})?", tail) and (found := _lookup_zone(tail)):
            zone, zone_name = found
            explicit = True
            ref = ref.astimezone(zone)
            s = re.sub(r"\s+(in|at)$", "", " ".join(words[:-size]))
            break
    clock, rest = _extract_time(s)
    rest = re.sub(r"\b(at|on|the)\b", " ", rest)
    rest = re.sub(r"\s+", " ", rest).strip(" .")
    today = ref.date()

    if rest in {"now", "right now", "current time"} and clock is None:
        return Parsed(ref, True, zone_name, True)
    if (counts := _relative_offset(rest)) is not None:
        base = ref if clock is None else _attach(datetime.combine(today, clock), zone)
        has_time = clock is not None or any(counts.get(u) for u in ("hours", "minutes", "seconds"))
        if not has_time:
            base = _attach(datetime.combine(today, time()), zone)
        return Parsed(shift(base, counts), has_time, zone_name, explicit)
    day = today if not rest else _relative_date(rest, today) or _absolute_date(rest, today, dayfirst, raw)
    if day is None:
        raise ToolError(f"Could not understand the date {text!r}. " + _DATE_HINT, details={"input": text})
    return Parsed(_attach(datetime.combine(day, clock or time()), zone), clock is not None, zone_name, explicit)


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

def _zone_arg(arguments: dict[str, Any], name: str = "timezone", default: str = "UTC") -> tuple[tzinfo, str]:
    return resolve_zone(arguments.get(name) or default)


def _parse_arg(arguments: dict[str, Any], name: str, zone: tzinfo, zone_name: str,
               default: str = "now") -> Parsed:
    return parse_loose(str(arguments.get(name) or default), zone, zone_name,
                       dayfirst=bool(arguments.get("dayfirst", False)))


def describe(value: datetime, zone_name: str, has_time: bool = True) -> dict[str, Any]:
    """The fields every answer carries for one instant: ISO, parts, zone, offset and Unix time."""
    if has_time:
        readable = value.strftime("%a %d %b %Y, %I:%M %p ") + (value.tzname() or "")
    else:
        readable = value.strftime("%A, %d %B %Y")
    return {
        "iso": value.isoformat(timespec="seconds") if has_time else value.date().isoformat(),
        "date": value.date().isoformat(),
        "time": value.strftime("%H:%M:%S") if has_time else None,
        "weekday": value.strftime("%A"),
        "timezone": zone_name,
        "utc_offset": _format_offset(value.utcoffset()),
        "abbreviation": value.tzname(),
        "unix_timestamp": int(value.timestamp()),
        "readable": readable.replace(" 0", " "),
    }


def _parse_day(arguments: dict[str, Any], name: str, zone: tzinfo, zone_name: str, default: str = "today") -> date:
    return _parse_arg(arguments, name, zone, zone_name, default).value.date()


def _weekend(arguments: dict[str, Any]) -> set[int]:
    return {_WEEKDAY_NAMES.index(d) for d in arguments.get("weekend", ["saturday", "sunday"])}


def _holidays(arguments: dict[str, Any], zone: tzinfo, zone_name: str) -> set[date]:
    return {parse_loose(str(h), zone, zone_name).value.date() for h in arguments.get("holidays", [])}


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------

def now(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Current date and time in one zone."""
    zone, zone_name = _zone_arg(arguments)
    return describe(datetime.now(UTC).astimezone(zone), zone_name)


def convert_timezone(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """A wall-clock time in one zone expressed in another ("9am New York" -> Tokyo)."""
    text = str(arguments.get("time") or "now")
    source_arg = arguments.get("from_timezone")
    target, target_name = resolve_zone(arguments["to_timezone"])
    source, source_name = resolve_zone(source_arg) if source_arg else (UTC, "UTC")
    parsed = parse_loose(text, source, source_name, dayfirst=bool(arguments.get("dayfirst", False)))
    if not source_arg and not parsed.explicit_zone:
        raise ToolError("Say which time zone the time is in: pass `from_timezone` (e.g. 'America/New_York', "
                        "'London', 'PST') or put it in the time ('9am EST').", details={"time": text})
    converted = parsed.value.astimezone(target)
    day_shift = (converted.date() - parsed.value.date()).days
    result = describe(converted, target_name)
    when = {1: "the next day", -1: "the previous day", 0: "the same day"}.get(day_shift, f"{day_shift:+d} days")
    return {
        "input": {"time": text, "from_timezone": source_arg, "to_timezone": arguments["to_timezone"]},
        "source": describe(parsed.value, parsed.zone),
        "result": result.pop("iso"),
        **result,
        "day_shift": day_shift,
        "note": f"{when} in the target zone",
    }


def add_duration(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Date arithmetic: add or subtract years, months, weeks, days, hours, minutes and seconds."""
    zone, zone_name = _zone_arg(arguments)
    start = _parse_arg(arguments, "start", zone, zone_name)
    units = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
    counts = {u: int(arguments.get(u, 0)) for u in units}
    if not any(counts.values()):
        raise ToolError("Give at least one non-zero amount (years, months, weeks, days, hours, minutes, seconds); "
                        "use negative numbers to subtract.", details={"arguments": arguments})
    has_time = start.has_time or any(counts[u] for u in ("hours", "minutes", "seconds"))
    result = describe(shift(start.value, counts), start.zone, has_time)
    return {
        "start": describe(start.value, start.zone, has_time)["iso"],
        "added": {u: n for u, n in counts.items() if n},
        "result": result.pop("iso"),
        **result,
    }


def _human(parts: dict[str, int]) -> str:
    words = [f"{n} {unit[:-1]}{'' if n == 1 else 's'}" for unit, n in parts.items() if n]
    if not words:
        return "no time"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def difference(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Elapsed time between two dates/times, as totals and as a years/months/days breakdown.

    When either side is a plain date the comparison is by calendar day, so "days until 2026-12-25"
    gives whole days rather than a fraction that depends on the current hour.
    """
    zone, zone_name = _zone_arg(arguments)
    start = _parse_arg(arguments, "start", zone, zone_name)
    end = _parse_arg(arguments, "end", zone, zone_name)
    a, b = start.value, end.value.astimezone(start.value.tzinfo)
    by_date = not (start.has_time and end.has_time)
    if by_date:
        a = _attach(datetime.combine(a.date(), time()), a.tzinfo)
        b = _attach(datetime.combine(b.date(), time()), a.tzinfo)
    seconds = (b - a).total_seconds()
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    local_a, local_b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    months = (local_b.year - local_a.year) * 12 + local_b.month - local_a.month
    if add_months(local_a, months) > local_b:
        months -= 1
    rest = local_b - add_months(local_a, months)
    parts = {"years": months // 12, "months": months % 12, "days": rest.days, "hours": rest.seconds // 3600,
             "minutes": rest.seconds % 3600 // 60, "seconds": rest.seconds % 60}
    return {
        "start": describe(start.value, start.zone, start.has_time)["iso"],
        "end": describe(end.value, end.zone, end.has_time)["iso"],
        "compared": "calendar dates" if by_date else "exact instants",
        "direction": "end is after start" if seconds > 0 else "end is before start" if seconds < 0 else "same",
        "total_seconds": int(seconds),
        "total_minutes": round(seconds / 60, 2),
        "total_hours": round(seconds / 3600, 4),
        "total_days": round(seconds / 86400, 4),
        "total_weeks": round(seconds / 604800, 4),
        "calendar": {k: sign * v for k, v in parts.items()},
        "human": _human(parts) + ("" if sign > 0 else " (end is before start)"),
    }


def day_of_week(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Weekday and calendar facts (ISO week, day of year, quarter, weekend, leap year) for a date."""
    zone, zone_name = _zone_arg(arguments)
    day = _parse_day(arguments, "date", zone, zone_name)
    iso = day.isocalendar()
    return {
        "date": day.isoformat(),
        "weekday": day.strftime("%A"),
        "iso_weekday": iso.weekday,
        "iso_week": iso.week,
        "iso_year": iso.year,
        "day_of_year": day.timetuple().tm_yday,
        "quarter": (day.month - 1) // 3 + 1,
        "is_weekend": day.weekday() >= 5,
        "is_leap_year": calendar.isleap(day.year),
        "days_in_month": calendar.monthrange(day.year, day.month)[1],
    }


def parse(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """A loose date string ('next friday 3pm', '27/11/2026', 'in 2 weeks') -> ISO 8601."""
    zone, zone_name = _zone_arg(arguments)
    ref = None
    if arguments.get("relative_to"):
        ref = parse_loose(str(arguments["relative_to"]), zone, zone_name).value
    parsed = parse_loose(str(arguments["text"]), zone, zone_name, ref, bool(arguments.get("dayfirst", False)))
    return {"input": arguments["text"], "has_time": parsed.has_time,
            **describe(parsed.value, parsed.zone, parsed.has_time)}


def list_timezones(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """IANA zones matching a city, region, abbreviation or UTC offset, with their current offset."""
    query = str(arguments["query"])
    limit = int(arguments.get("limit", 25))
    key = _key(query)
    now_utc = datetime.now(UTC)
    index = _zone_index()
    matches: dict[str, str] = {}
    offset = _lookup_zone(query) if _OFFSET_RE.match(key) else None
    if offset is not None:
        wanted = now_utc.astimezone(offset[0]).utcoffset()
        for name in sorted(set(index.values())):
            if now_utc.astimezone(ZoneInfo(name)).utcoffset() == wanted:
                matches.setdefault(name, "current UTC offset")
    else:
        if key in index:
            matches[index[key]] = f"'{query}' is a known name for this zone"
        for alias, name in sorted(index.items()):
            if key in alias:
                matches.setdefault(name, f"matches '{alias}'")
    zones = []
    for name, why in list(matches.items())[:limit]:
        local = now_utc.astimezone(ZoneInfo(name))
        zones.append({"timezone": name, "utc_offset": _format_offset(local.utcoffset()),
                      "abbreviation": local.tzname(), "local_time": local.isoformat(timespec="minutes"),
                      "matched": why})
    return {"query": query, "count": len(matches), "timezones": zones, "truncated": len(matches) > limit}


def _business_days_between(start: date, end: date, weekend: set[int], holidays: set[date],
                           include_end: bool) -> tuple[int, int, int]:
    """(business days, weekend days, holidays skipped) in [start, end] or [start, end)."""
    business = weekend_days = skipped = 0
    for offset in range((end - start).days + (1 if include_end else 0)):  # no `end + 1 day`: 9999-12-31 has none
        day = start + timedelta(days=offset)
        if day.weekday() in weekend:
            weekend_days += 1
        elif day in holidays:
            skipped += 1
        else:
            business += 1
    return business, weekend_days, skipped


def business_days(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Working days between two dates, skipping weekends and the given holidays."""
    zone, zone_name = _zone_arg(arguments)
    start = _parse_day(arguments, "start", zone, zone_name)
    end = _parse_day(arguments, "end", zone, zone_name)
    include_end = bool(arguments.get("include_end", True))
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    if (end - start).days > 366 * 200:
        raise ToolError("The range is longer than 200 years.", details={"start": str(start), "end": str(end)})
    weekend = _weekend(arguments)
    holidays = _holidays(arguments, zone, zone_name)
    business, weekend_days, skipped = _business_days_between(start, end, weekend, holidays, include_end)
    return {
        "start": start.isoformat(), "end": end.isoformat(),
        "business_days": sign * business,
        "calendar_days": (end - start).days + (1 if include_end else 0),
        "weekend_days": weekend_days,
        "holidays_skipped": skipped,
        "counted": "start and end dates included" if include_end else "start included, end excluded",
    }


def add_business_days(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """The date N working days after (or before) a date, skipping weekends and holidays."""
    zone, zone_name = _zone_arg(arguments)
    start = _parse_day(arguments, "start", zone, zone_name)
    days = int(arguments["days"])
    weekend = _weekend(arguments)
    if len(weekend) == 7:
        raise ToolError("Every day is marked as weekend, so there are no business days.", details={})
    holidays = _holidays(arguments, zone, zone_name)
    step = timedelta(days=1 if days >= 0 else -1)
    day = start
    remaining = abs(days)
    try:
        while remaining:
            day += step
            if day.weekday() not in weekend and day not in holidays:
                remaining -= 1
    except OverflowError:
        raise ToolError("The result is outside the supported years 1-9999.", details={"days": days}) from None
    return {"start": start.isoformat(), "business_days": days, "result": day.isoformat(),
            "weekday": day.strftime("%A"), "calendar_days": (day - start).days}
