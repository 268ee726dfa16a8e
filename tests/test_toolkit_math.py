"""The math toolkit: safe evaluation, units, statistics, percentages, bases."""

from __future__ import annotations

import time
from typing import Any

import jsonschema
import pytest

from server.catalog.model import Toolkit
from server.errors import ToolError
from tests.toolkit_fixtures import handler_fixtures

toolkit, ctx, call = handler_fixtures("math")


@pytest.mark.parametrize(("expression", "expected"), [
    ("(1250 * 1.08) / 12", 112.5),
    ("2^10", 1024),
    ("2**64", 18446744073709551616),
    ("7 // 2 + 7 % 2", 4),
    ("sqrt(16) + log(1000, 10) + log2(8)", 10),
    ("round(pi, 4)", 3.1416),
    ("max(3, 9, 4) - min(3, 9, 4)", 6),
    ("factorial(10) / comb(5, 2)", 362880),
    ("0.1 + 0.2", 0.3),
    ("-(-3) * 2", 6),
])
def test_evaluate(call: Any, expression: str, expected: float) -> None:
    assert call("MATH_EVALUATE", expression=expression)["result"] == pytest.approx(expected)


def test_evaluate_variables_and_precision(call: Any) -> None:
    out = call("MATH_EVALUATE", expression="price * qty * (1 - discount)",
               variables={"price": 19.99, "qty": 3, "discount": 0.15}, precision=2)
    assert out["result"] == 50.97


def test_big_integers_keep_exact_text(call: Any) -> None:
    out = call("MATH_EVALUATE", expression="2**200")
    assert out["result_text"] == str(2**200)


@pytest.mark.parametrize("expression", ["9**9**9", "10**100000", "factorial(100000)", "(10**3000)*(10**3000)",
                                        "2.0**100000"])
def test_huge_results_are_refused_fast(call: Any, expression: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ToolError, match="too large|limited"):
        call("MATH_EVALUATE", expression=expression)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(("expression", "message"), [
    ("1/0", "Division by zero"),
    ("sqrt(-1)", "domain"),
    ("__import__('os').system('true')", "functions"),
    ("().__class__.__bases__", "Unsupported"),
    ("open('/etc/passwd')", "functions"),
    ("x + 1", "Unknown name"),
    ("2 +* 3", "Could not read"),
    ("(" * 300 + "1" + ")" * 300, "nested"),
    ("'a' * 3", "Unsupported"),
    ("lambda: 1", "Unsupported"),
    ("(-8) ** (1/3)", "complex"),
])
def test_evaluate_refuses_bad_input_without_eval(call: Any, expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("MATH_EVALUATE", expression=expression)


@pytest.mark.parametrize(("value", "source", "target", "expected"), [
    (26.2, "miles", "km", 42.164813),
    (350, "F", "C", 176.666667),
    (100, "°C", "°F", 212),
    (0, "K", "celsius", -273.15),
    (10, "lbs", "kg", 4.535924),
    (2, "cups", "ml", 473.176473),
    (1000, "sq ft", "m2", 92.903040),
    (1, "acre", "hectares", 0.404686),
    (90, "minutes", "hours", 1.5),
    (1, "GiB", "MB", 1073.741824),
    (8, "Mb", "MB", 1),
    (8, "MB", "Mb", 64),
    (100, "Mbps", "MB/s", 12.5),
    (60, "mph", "km/h", 96.56064),
    (1, "kWh", "MJ", 3.6),
    (1, "atm", "psi", 14.695949),
    (5, "feet", "inches", 60),
    (1, "Kilometres", "metres", 1000),
])
def test_convert_units(call: Any, value: float, source: str, target: str, expected: float) -> None:
    out = call("MATH_CONVERT_UNITS", value=value, from_unit=source, to_unit=target)
    assert out["result"] == pytest.approx(expected, rel=1e-6)


def test_convert_units_errors(call: Any) -> None:
    with pytest.raises(ToolError, match="Cannot convert mass"):
        call("MATH_CONVERT_UNITS", value=1, from_unit="kg", to_unit="m")
    with pytest.raises(ToolError, match="Unknown unit"):
        call("MATH_CONVERT_UNITS", value=1, from_unit="smoots", to_unit="m")
    with pytest.raises(ToolError, match="absolute zero"):
        call("MATH_CONVERT_UNITS", value=-300, from_unit="C", to_unit="F")


def test_statistics(call: Any) -> None:
    out = call("MATH_STATISTICS", numbers=[2, 4, 4, 4, 5, 5, 7, 9], percentiles=[25, 50, 90])
    assert (out["count"], out["sum"], out["mean"], out["median"]) == (8, 40, 5, 4.5)
    assert out["mode"] == [4]
    assert (out["min"], out["max"], out["range"]) == (2, 9, 7)
    assert out["stdev_population"] == 2
    assert out["stdev_sample"] == pytest.approx((32 / 7) ** 0.5)
    assert out["percentiles"] == {"p25": 4, "p50": 4.5, "p90": pytest.approx(7.6)}


def test_statistics_of_one_value(call: Any) -> None:
    out = call("MATH_STATISTICS", numbers=[42])
    assert out["stdev_sample"] is None and out["stdev_population"] == 0 and out["percentiles"]["p99"] == 42


def test_percentages(call: Any) -> None:
    growth = call("MATH_PERCENTAGE_CHANGE", old_value=80000, new_value=95000)
    assert (growth["percent_change"], growth["direction"], growth["change"]) == (18.75, "increase", 15000)
    assert call("MATH_PERCENTAGE_CHANGE", old_value=20, new_value=15)["percent_change"] == -25
    with pytest.raises(ToolError, match="undefined"):
        call("MATH_PERCENTAGE_CHANGE", old_value=0, new_value=5)
    assert call("MATH_PERCENT_OF", percent=15, whole=240)["part"] == 36
    assert call("MATH_PERCENT_OF", part=45, whole=60)["percent"] == 75


def test_percent_of_schema_wants_exactly_one_of_percent_or_part(toolkit: Toolkit) -> None:
    schema = toolkit.tools["MATH_PERCENT_OF"].input_schema
    jsonschema.validate({"percent": 10, "whole": 5}, schema)
    for bad in ({"whole": 5}, {"percent": 10, "part": 1, "whole": 5}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"value": "0xff"}, "255"),
    ({"value": "255", "to_base": 2}, "11111111"),
    ({"value": "255", "to_base": 16}, "ff"),
    ({"value": "-1011", "from_base": 2}, "-11"),
    ({"value": "zz", "from_base": 36}, "1295"),
    ({"value": "1_000_000", "to_base": 16}, "f4240"),
])
def test_convert_base(call: Any, arguments: dict[str, Any], expected: str) -> None:
    assert call("MATH_CONVERT_BASE", **arguments)["result"] == expected


def test_convert_base_rejects_bad_digits(call: Any) -> None:
    with pytest.raises(ToolError, match="base-2"):
        call("MATH_CONVERT_BASE", value="102", from_base=2)
