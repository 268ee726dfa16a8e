"""The datetime toolkit, loaded with the real loader and called through its handlers."""

from __future__ import annotations

from typing import Any

import pytest

from server.errors import ToolError
from tests.toolkit_fixtures import handler_fixtures

toolkit, ctx, call = handler_fixtures("datetime")


def test_new_york_morning_is_late_evening_in_tokyo(call: Any) -> None:
    out = call("DATETIME_CONVERT_TIMEZONE", time="2026-11-27 09:00", from_timezone="America/New_York",
               to_timezone="Asia/Tokyo")
    assert out["result"] == "2026-11-27T23:00:00+09:00"
    assert out["timezone"] == "Asia/Tokyo"
    assert out["source"]["iso"] == "2026-11-27T09:00:00-05:00"
    assert out["day_shift"] == 0


@pytest.mark.parametrize(("source", "target", "expected"), [
    ("New York", "Tokyo", "2026-07-01T22:00:00+09:00"),  # EDT (-4) in July
    ("NYC", "tokyo", "2026-07-01T22:00:00+09:00"),
    ("PST", "London", "2026-07-01T17:00:00+01:00"),  # "PST" means Pacific time, so PDT in July; London is on BST
    ("UTC", "Asia/Kolkata", "2026-07-01T14:30:00+05:30"),
    ("UTC+2", "UTC", "2026-07-01T07:00:00+00:00"),
    ("Europe/Berlin", "Sydney", "2026-07-01T17:00:00+10:00"),
])
def test_zones_by_iana_name_city_abbreviation_and_offset(call: Any, source: str, target: str,
                                                         expected: str) -> None:
    out = call("DATETIME_CONVERT_TIMEZONE", time="2026-07-01 09:00", from_timezone=source, to_timezone=target)
    assert out["result"] == expected


def test_time_can_carry_its_own_zone_and_day_shift_is_reported(call: Any) -> None:
    out = call("DATETIME_CONVERT_TIMEZONE", time="Nov 27 2026 9pm EST", to_timezone="Tokyo")
    assert out["result"] == "2026-11-28T11:00:00+09:00"
    assert out["day_shift"] == 1
    assert "next day" in out["note"]


def test_convert_needs_a_source_zone_and_known_names(call: Any) -> None:
    with pytest.raises(ToolError, match="from_timezone"):
        call("DATETIME_CONVERT_TIMEZONE", time="9am", to_timezone="Tokyo")
    with pytest.raises(ToolError, match="Unknown time zone") as err:
        call("DATETIME_CONVERT_TIMEZONE", time="9am", from_timezone="Asia/Tokio", to_timezone="UTC")
    assert "Asia/Tokyo" in err.value.details["suggestions"]


def test_now_in_a_city(call: Any) -> None:
    out = call("DATETIME_NOW", timezone="Tokyo")
    assert out["timezone"] == "Asia/Tokyo"
    assert out["utc_offset"] == "+09:00"
    assert out["abbreviation"] == "JST"


def test_add_duration_clamps_months_and_respects_dst(call: Any) -> None:
    assert call("DATETIME_ADD_DURATION", start="2026-01-31", months=1)["result"] == "2026-02-28"
    assert call("DATETIME_ADD_DURATION", start="2024-01-31", months=1)["result"] == "2024-02-29"
    assert call("DATETIME_ADD_DURATION", start="2026-03-10", days=-10)["result"] == "2026-02-28"
    # New York springs forward at 02:00 on 2026-03-08: one real hour after 01:30 is 03:30 EDT ...
    hour = call("DATETIME_ADD_DURATION", start="2026-03-08 01:30", hours=1, timezone="America/New_York")
    assert hour["result"] == "2026-03-08T03:30:00-04:00"
    # ... while a calendar day keeps the wall-clock time.
    day = call("DATETIME_ADD_DURATION", start="2026-03-07 09:00", days=1, timezone="America/New_York")
    assert day["result"] == "2026-03-08T09:00:00-04:00"
    with pytest.raises(ToolError, match="non-zero"):
        call("DATETIME_ADD_DURATION", start="2026-01-01")


def test_difference_totals_and_breakdown(call: Any) -> None:
    out = call("DATETIME_DIFFERENCE", start="2026-01-01", end="2026-12-25")
    assert out["total_days"] == 358
    assert out["calendar"] == {"years": 0, "months": 11, "days": 24, "hours": 0, "minutes": 0, "seconds": 0}
    age = call("DATETIME_DIFFERENCE", start="1990-05-17", end="2026-11-27")
    assert (age["calendar"]["years"], age["calendar"]["months"], age["calendar"]["days"]) == (36, 6, 10)
    assert age["human"] == "36 years, 6 months and 10 days"
    exact = call("DATETIME_DIFFERENCE", start="2026-11-27 09:00", end="2026-11-28 17:30")
    assert exact["total_hours"] == 32.5
    assert exact["compared"] == "exact instants"
    backwards = call("DATETIME_DIFFERENCE", start="2026-12-25", end="2026-12-20")
    assert backwards["total_days"] == -5
    assert backwards["direction"] == "end is before start"


def test_difference_across_zones_counts_real_time(call: Any) -> None:
    out = call("DATETIME_DIFFERENCE", start="2026-11-27 09:00 New York", end="2026-11-27 23:00 Tokyo")
    assert out["total_seconds"] == 0


def test_day_of_week(call: Any) -> None:
    out = call("DATETIME_DAY_OF_WEEK", date="July 4 2027")
    assert (out["date"], out["weekday"], out["is_weekend"]) == ("2027-07-04", "Sunday", True)
    xmas = call("DATETIME_DAY_OF_WEEK", date="2026-12-25")
    assert (xmas["weekday"], xmas["iso_week"], xmas["quarter"], xmas["day_of_year"]) == ("Friday", 52, 4, 359)
    assert call("DATETIME_DAY_OF_WEEK", date="2028-02-10")["is_leap_year"] is True


@pytest.mark.parametrize(("text", "extra", "expected"), [
    ("next friday 3pm", {}, "2026-11-27T15:00:00+00:00"),  # reference is Wednesday 2026-11-25
    ("tomorrow at 9", {}, "2026-11-26T09:00:00+00:00"),
    ("in 2 weeks", {}, "2026-12-09"),
    ("3 days ago", {}, "2026-11-22"),
    ("last monday", {}, "2026-11-23"),
    ("27/11/2026", {"dayfirst": True}, "2026-11-27"),
    ("11/27/2026", {}, "2026-11-27"),
    ("03/04/2026", {"dayfirst": True}, "2026-04-03"),
    ("November 27th, 2026 3:30 PM", {}, "2026-11-27T15:30:00+00:00"),
    ("27 Nov 2026 09:00 PST", {}, "2026-11-27T09:00:00-08:00"),
    ("2026-11-27T09:00:00Z", {}, "2026-11-27T09:00:00+00:00"),
    ("1795737600", {}, "2026-11-27T00:00:00+00:00"),
    ("Fri, 27 Nov 2026 09:00:00 +0100", {}, "2026-11-27T09:00:00+01:00"),
    ("noon", {"timezone": "Europe/Paris"}, "2026-11-25T12:00:00+01:00"),
])
def test_parse_loose_dates(call: Any, text: str, extra: dict[str, Any], expected: str) -> None:
    out = call("DATETIME_PARSE", text=text, relative_to="2026-11-25 10:00", **extra)
    assert out["iso"] == expected


@pytest.mark.parametrize("text", ["not a date", "Feb 30 2026", "13/13/2026", "25pm"])
def test_parse_refuses_nonsense_with_a_hint(call: Any, text: str) -> None:
    with pytest.raises(ToolError):
        call("DATETIME_PARSE", text=text)


def test_list_timezones_by_city_region_and_offset(call: Any) -> None:
    tokyo = call("DATETIME_LIST_TIMEZONES", query="Tokyo")
    assert tokyo["timezones"][0]["timezone"] == "Asia/Tokyo"
    australia = {z["timezone"] for z in call("DATETIME_LIST_TIMEZONES", query="australia", limit=200)["timezones"]}
    assert {"Australia/Sydney", "Australia/Perth"} <= australia
    plus_nine = {z["timezone"] for z in call("DATETIME_LIST_TIMEZONES", query="UTC+9", limit=200)["timezones"]}
    assert "Asia/Tokyo" in plus_nine and "Europe/London" not in plus_nine


def test_business_days(call: Any) -> None:
    december = call("DATETIME_BUSINESS_DAYS", start="2026-12-01", end="2026-12-31",
                    holidays=["2026-12-25", "2026-12-26"])
    assert december["business_days"] == 22  # 23 weekdays minus Christmas (the 26th is a Saturday)
    assert december["holidays_skipped"] == 1
    week = call("DATETIME_BUSINESS_DAYS", start="2026-11-23", end="2026-11-27")
    assert week["business_days"] == 5
    assert call("DATETIME_BUSINESS_DAYS", start="2026-11-23", end="2026-11-27", include_end=False)["business_days"] == 4
    assert call("DATETIME_BUSINESS_DAYS", start="2026-11-27", end="2026-11-23")["business_days"] == -5
    gulf = call("DATETIME_BUSINESS_DAYS", start="2026-11-23", end="2026-11-29", weekend=["friday", "saturday"])
    assert gulf["business_days"] == 5


def test_add_business_days(call: Any) -> None:
    assert call("DATETIME_ADD_BUSINESS_DAYS", start="2026-11-27", days=10)["result"] == "2026-12-11"
    holidays = call("DATETIME_ADD_BUSINESS_DAYS", start="2026-12-24", days=3, holidays=["2026-12-25", "2027-01-01"])
    assert holidays["result"] == "2026-12-30"
    back = call("DATETIME_ADD_BUSINESS_DAYS", start="2026-11-30", days=-1)
    assert (back["result"], back["weekday"]) == ("2026-11-27", "Friday")
