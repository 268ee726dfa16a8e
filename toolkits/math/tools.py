"""Math tools: a safe calculator, unit conversion, statistics, percentages and number bases.

The calculator walks the parsed expression tree itself instead of calling `eval`, and checks the size
of every intermediate integer, so `9**9**9` or `factorial(10**6)` are refused in microseconds rather
than pinning a worker thread. Only the standard library is used.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import statistics
from collections.abc import Callable
from typing import Any

from server.errors import ToolError
from server.values import ToolContext

MAX_EXPRESSION_CHARS = 2000
MAX_INT_BITS = 10_000  # about 3,000 decimal digits: room for big factorials, far from a memory hazard
MAX_DEPTH = 200

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau, "phi": (1 + 5 ** 0.5) / 2}


def _bounded_int_arg(limit: int, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an integer function whose cost explodes with its argument (factorial, comb)."""
    def wrapped(*args: Any) -> Any:
        if any(isinstance(a, int | float) and abs(a) > limit for a in args):
            raise ToolError(f"{fn.__name__}() arguments are limited to {limit} here.", details={"args": list(args)})
        return fn(*args)
    wrapped.__name__ = fn.__name__
    return wrapped


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "cbrt": math.cbrt, "exp": math.exp,
    "ln": math.log, "log": math.log, "log10": math.log10,
    "log2": math.log2, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
    "degrees": math.degrees, "radians": math.radians, "floor": math.floor, "ceil": math.ceil, "trunc": math.trunc,
    "hypot": math.hypot, "gcd": math.gcd, "lcm": math.lcm, "factorial": _bounded_int_arg(1000, math.factorial),
    "comb": _bounded_int_arg(5000, math.comb), "perm": _bounded_int_arg(5000, math.perm),
}


def _check_size(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"The result is too large (over {MAX_INT_BITS} bits); this calculator keeps numbers "
                        "to about 3,000 digits.", details={"bits": value.bit_length()})
    return value


def _power(base: Any, exponent: Any) -> Any:
    """`**` with the result size estimated before computing, so huge powers fail fast."""
    if (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
            and exponent * math.log2(abs(base)) > MAX_INT_BITS):
        raise ToolError(f"{base}**{exponent} is too large to compute (over {MAX_INT_BITS} bits).",
                        details={"base": base, "exponent": exponent})
    return base ** exponent


class _Evaluator:
    def __init__(self, variables: dict[str, float]) -> None:
        self.names = _CONSTANTS | variables

    def eval(self, node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ToolError("The expression is nested too deeply.", details={"max_depth": MAX_DEPTH})
        match node:
            case ast.Expression(body=body):
                return self.eval(body, depth + 1)
            case ast.Constant(value=value) if isinstance(value, int | float) and not isinstance(value, bool):
                return _check_size(value)
            case ast.Name(id=name):
                if name not in self.names:
                    raise ToolError(f"Unknown name {name!r}. Known constants: {', '.join(_CONSTANTS)}; pass others "
                                    "in `variables`.", details={"name": name})
                return self.names[name]
            case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
                return _UNARY[type(op)](self.eval(operand, depth + 1))
            case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
                a, b = self.eval(left, depth + 1), self.eval(right, depth + 1)
                fn = _power if isinstance(op, ast.Pow) else _BINARY[type(op)]
                return _check_size(fn(a, b))
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
                values = [self.eval(a, depth + 1) for a in args]
                return _check_size(_FUNCTIONS[name](*values))
            case ast.Call():
                raise ToolError(f"Only these functions are available: {', '.join(sorted(_FUNCTIONS))}.",
                                details={"expression_part": ast.unparse(node)})
        raise ToolError(f"Unsupported syntax {ast.unparse(node)!r}: use numbers, + - * / // % ** ^, parentheses, "
                        "constants and functions.", details={"node": type(node).__name__})


def _number(value: Any) -> dict[str, Any]:
    """A result as JSON number plus exact text (big integers lose precision in JSON readers)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return {"result": int(value), "result_text": str(int(value))}
    if isinstance(value, float):  # 15 significant digits hide binary noise: 0.1 + 0.2 -> 0.3
        return {"result": float(f"{value:.15g}"), "result_text": f"{value:.15g}"}
    return {"result": value, "result_text": str(value)}


def evaluate(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Evaluate an arithmetic expression without `eval`."""
    expression = str(arguments["expression"])
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"The expression is longer than {MAX_EXPRESSION_CHARS} characters.", details={})
    variables = {str(k): v for k, v in (arguments.get("variables") or {}).items()}
    source = expression.replace("^", "**").replace("×", "*").replace("÷", "/").replace("−", "-")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"Could not read the expression: {exc.msg} (near column {exc.offset}).",
                        details={"expression": expression}) from None
    except (RecursionError, MemoryError):
        raise ToolError("The expression is nested too deeply.", details={"expression": expression}) from None
    try:
        value = _Evaluator(variables).eval(tree)
    except ZeroDivisionError:
        raise ToolError("Division by zero.", details={"expression": expression}) from None
    except OverflowError:
        raise ToolError("The result is too large for a floating-point number.",
                        details={"expression": expression}) from None
    except (ValueError, TypeError) as exc:
        raise ToolError(f"Math error: {exc}.", details={"expression": expression}) from None
    if isinstance(value, complex):
        raise ToolError("The result is a complex number, which this calculator does not return.",
                        details={"expression": expression})
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("The result is not a finite number.", details={"expression": expression})
    precision = arguments.get("precision")
    if precision is not None and isinstance(value, float):
        value = round(value, int(precision))
    return {"expression": expression, **_number(value)}


# ---------------------------------------------------------------------------------------------
# Units: each unit is a factor to the category's base unit (temperature is handled apart).
# ---------------------------------------------------------------------------------------------

_INCH = 0.0254
_LB = 0.45359237
_US_GALLON = 3.785411784
_UNITS: dict[str, dict[str, float]] = {
    "length": {  # metres
        "nm": 1e-9, "nanometer": 1e-9, "um": 1e-6, "µm": 1e-6, "micrometer": 1e-6, "micron": 1e-6,
        "mm": 1e-3, "millimeter": 1e-3, "cm": 1e-2, "centimeter": 1e-2, "dm": 0.1, "m": 1.0, "meter": 1.0,
        "km": 1000.0, "kilometer": 1000.0, "in": _INCH, "inch": _INCH, '"': _INCH, "ft": 12 * _INCH,
        "foot": 12 * _INCH, "feet": 12 * _INCH, "'": 12 * _INCH, "yd": 36 * _INCH, "yard": 36 * _INCH,
        "mi": 63360 * _INCH, "mile": 63360 * _INCH, "nmi": 1852.0, "nautical mile": 1852.0,
        "au": 149_597_870_700.0, "light year": 9_460_730_472_580_800.0, "ly": 9_460_730_472_580_800.0,
    },
    "mass": {  # kilograms
        "ug": 1e-9, "µg": 1e-9, "microgram": 1e-9, "mg": 1e-6, "milligram": 1e-6, "g": 1e-3, "gram": 1e-3,
        "kg": 1.0, "kilogram": 1.0, "kilo": 1.0, "t": 1000.0, "tonne": 1000.0, "metric ton": 1000.0,
        "lb": _LB, "lbs": _LB, "pound": _LB, "oz": _LB / 16, "ounce": _LB / 16, "st": 14 * _LB, "stone": 14 * _LB,
        "ton": 2000 * _LB, "short ton": 2000 * _LB, "us ton": 2000 * _LB, "long ton": 2240 * _LB,
        "ct": 2e-4, "carat": 2e-4,
    },
    "volume": {  # litres
        "ml": 1e-3, "milliliter": 1e-3, "cl": 1e-2, "centiliter": 1e-2, "dl": 0.1, "deciliter": 0.1, "l": 1.0,
        "liter": 1.0, "m3": 1000.0, "cubic meter": 1000.0, "cm3": 1e-3, "cc": 1e-3, "cubic centimeter": 1e-3,
        "mm3": 1e-6, "tsp": _US_GALLON / 768, "teaspoon": _US_GALLON / 768, "tbsp": _US_GALLON / 256,
        "tablespoon": _US_GALLON / 256, "fl oz": _US_GALLON / 128, "fluid ounce": _US_GALLON / 128,
        "cup": _US_GALLON / 16, "pt": _US_GALLON / 8, "pint": _US_GALLON / 8, "qt": _US_GALLON / 4,
        "quart": _US_GALLON / 4, "gal": _US_GALLON, "gallon": _US_GALLON, "us gallon": _US_GALLON,
        "imperial gallon": 4.54609, "uk gallon": 4.54609, "imperial pint": 0.56826125, "uk pint": 0.56826125,
        "ft3": 28.316846592, "cubic foot": 28.316846592, "cubic feet": 28.316846592, "in3": 0.016387064,
        "cubic inch": 0.016387064, "barrel": 158.987294928, "bbl": 158.987294928,
    },
    "area": {  # square metres
        "mm2": 1e-6, "cm2": 1e-4, "m2": 1.0, "sq m": 1.0, "square meter": 1.0, "sqm": 1.0, "km2": 1e6,
        "sq km": 1e6, "square kilometer": 1e6, "ha": 1e4, "hectare": 1e4, "in2": _INCH ** 2, "sq in": _INCH ** 2,
        "square inch": _INCH ** 2, "ft2": (12 * _INCH) ** 2, "sq ft": (12 * _INCH) ** 2, "sqft": (12 * _INCH) ** 2,
        "square foot": (12 * _INCH) ** 2, "square feet": (12 * _INCH) ** 2, "yd2": (36 * _INCH) ** 2,
        "sq yd": (36 * _INCH) ** 2, "square yard": (36 * _INCH) ** 2, "acre": 4046.8564224, "ac": 4046.8564224,
        "mi2": (63360 * _INCH) ** 2, "sq mi": (63360 * _INCH) ** 2, "square mile": (63360 * _INCH) ** 2,
    },
    "time": {  # seconds
        "ns": 1e-9, "nanosecond": 1e-9, "us": 1e-6, "µs": 1e-6, "microsecond": 1e-6, "ms": 1e-3,
        "millisecond": 1e-3, "s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
        "hr": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0, "wk": 604800.0, "week": 604800.0,
        "fortnight": 1209600.0, "month": 2629746.0, "yr": 31556952.0, "year": 31556952.0,
        "decade": 315569520.0, "century": 3155695200.0,
    },
    "data size": {  # bytes
        "bit": 0.125, "b": 1.0, "byte": 1.0, "kb": 1e3, "kilobyte": 1e3, "mb": 1e6, "megabyte": 1e6, "gb": 1e9,
        "gigabyte": 1e9, "tb": 1e12, "terabyte": 1e12, "pb": 1e15, "petabyte": 1e15, "kib": 2.0 ** 10,
        "kibibyte": 2.0 ** 10, "mib": 2.0 ** 20, "mebibyte": 2.0 ** 20, "gib": 2.0 ** 30, "gibibyte": 2.0 ** 30,
        "tib": 2.0 ** 40, "tebibyte": 2.0 ** 40, "pib": 2.0 ** 50, "kilobit": 125.0, "kbit": 125.0,
        "megabit": 125e3, "mbit": 125e3, "gigabit": 125e6, "gbit": 125e6, "terabit": 125e9, "tbit": 125e9,
    },
    "data rate": {  # bytes per second
        "bps": 0.125, "bit/s": 0.125, "kbps": 125.0, "kbit/s": 125.0, "mbps": 125e3, "mbit/s": 125e3,
        "gbps": 125e6, "gbit/s": 125e6, "b/s": 1.0, "byte/s": 1.0, "kb/s": 1e3, "kbyte/s": 1e3, "mb/s": 1e6,
        "mbyte/s": 1e6, "gb/s": 1e9, "gbyte/s": 1e9, "mib/s": 2.0 ** 20, "gib/s": 2.0 ** 30,
    },
    "speed": {  # metres per second
        "m/s": 1.0, "meters per second": 1.0, "mps": 1.0, "km/h": 1 / 3.6, "kmh": 1 / 3.6, "kph": 1 / 3.6,
        "kilometers per hour": 1 / 3.6, "mph": 0.44704, "miles per hour": 0.44704, "knot": 1852 / 3600,
        "kn": 1852 / 3600, "kt": 1852 / 3600, "ft/s": 0.3048, "fps": 0.3048, "feet per second": 0.3048,
        "speed of light": 299_792_458.0,
    },
    "energy": {  # joules
        "j": 1.0, "joule": 1.0, "kj": 1e3, "kilojoule": 1e3, "mj": 1e6, "megajoule": 1e6, "cal": 4.184,
        "calorie": 4.184, "kcal": 4184.0, "kilocalorie": 4184.0, "wh": 3600.0, "watt hour": 3600.0,
        "kwh": 3.6e6, "kilowatt hour": 3.6e6, "mwh": 3.6e9, "btu": 1055.05585262, "ev": 1.602176634e-19,
        "electronvolt": 1.602176634e-19, "therm": 105_480_400.0,
    },
    "pressure": {  # pascals
        "pa": 1.0, "pascal": 1.0, "hpa": 100.0, "kpa": 1e3, "mpa": 1e6, "bar": 1e5, "mbar": 100.0,
        "millibar": 100.0, "atm": 101325.0, "atmosphere": 101325.0, "psi": 6894.757293168,
        "mmhg": 133.322387415, "torr": 101325 / 760, "inhg": 3386.389,
    },
}
# Where lower-casing would swap bits for bytes, the exact spelling decides first.
_CASE_SENSITIVE = {"Mb": ("data size", 125e3), "Gb": ("data size", 125e6), "Kb": ("data size", 125.0),
                   "Tb": ("data size", 125e9), "MB/s": ("data rate", 1e6), "Mb/s": ("data rate", 125e3),
                   "GB/s": ("data rate", 1e9), "Gb/s": ("data rate", 125e6)}
_TEMPERATURES = {"c": "celsius", "celsius": "celsius", "centigrade": "celsius", "f": "fahrenheit",
                 "fahrenheit": "fahrenheit", "k": "kelvin", "kelvin": "kelvin", "r": "rankine", "rankine": "rankine"}
_TO_KELVIN: dict[str, Callable[[float], float]] = {
    "celsius": lambda v: v + 273.15, "fahrenheit": lambda v: (v - 32) * 5 / 9 + 273.15,
    "kelvin": lambda v: v, "rankine": lambda v: v * 5 / 9,
}
_FROM_KELVIN: dict[str, Callable[[float], float]] = {
    "celsius": lambda k: k - 273.15, "fahrenheit": lambda k: (k - 273.15) * 9 / 5 + 32,
    "kelvin": lambda k: k, "rankine": lambda k: k * 9 / 5,
}


def _normalise_unit(unit: str) -> str:
    """'Degrees Celsius' -> 'celsius', 'km²' -> 'km2', 'Kilometres' -> 'kilometers'."""
    text = unit.strip().lower().replace("²", "2").replace("³", "3").replace("°", "").replace("sq.", "sq")
    text = text.replace("metre", "meter").replace("litre", "liter")
    text = re.sub(r"^degrees? ", "", re.sub(r"\s+", " ", text))
    return text.strip()


def _find_unit(unit: str) -> tuple[str, str, float | None]:
    """-> (category, canonical name, factor to base); factor is None for temperatures."""
    if unit.strip() in _CASE_SENSITIVE:
        category, factor = _CASE_SENSITIVE[unit.strip()]
        return category, unit.strip(), factor
    key = _normalise_unit(unit)
    candidates = [key, key.removesuffix("s"), key.removesuffix("es"), key.replace("feet", "foot")]
    for candidate in candidates:
        if candidate in _TEMPERATURES:
            return "temperature", _TEMPERATURES[candidate], None
        for category, table in _UNITS.items():
            if candidate in table:
                return category, candidate, table[candidate]
    known = {c: sorted({k for k in t if len(k) <= 6})[:12] for c, t in _UNITS.items()}
    raise ToolError(f"Unknown unit {unit!r}.", details={"unit": unit, "examples_by_category": known,
                                                        "temperature": sorted(set(_TEMPERATURES))})


def convert_units(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Convert a value between two units of the same kind."""
    value = float(arguments["value"])
    from_category, from_name, from_factor = _find_unit(str(arguments["from_unit"]))
    to_category, to_name, to_factor = _find_unit(str(arguments["to_unit"]))
    if from_category != to_category:
        raise ToolError(f"Cannot convert {from_category} ({arguments['from_unit']}) to {to_category} "
                        f"({arguments['to_unit']}).", details={"from": from_category, "to": to_category})
    if from_factor is None or to_factor is None:
        kelvin = _TO_KELVIN[from_name](value)
        if kelvin < 0:
            raise ToolError("That temperature is below absolute zero.", details={"value": value, "unit": from_name})
        result = _FROM_KELVIN[to_name](kelvin)
    else:
        result = value * from_factor / to_factor
    precision = int(arguments.get("precision", 6))
    rounded = float(f"{result:.{precision}g}") if result and abs(result) < 1e-4 else round(result, precision)
    return {"value": value, "from_unit": arguments["from_unit"], "to_unit": arguments["to_unit"],
            "category": from_category, "result": rounded, "exact": result,
            "text": f"{value:.10g} {arguments['from_unit']} = {rounded:.10g} {arguments['to_unit']}"}


# ---------------------------------------------------------------------------------------------
# Statistics, percentages, bases
# ---------------------------------------------------------------------------------------------

def _percentile(ordered: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (the default of numpy and spreadsheets' PERCENTILE)."""
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _clean(value: float, digits: int = 10) -> float | int:
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() and abs(rounded) < 2 ** 53 else rounded


def describe_numbers(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Descriptive statistics of a list of numbers."""
    numbers = [float(n) for n in arguments["numbers"]]
    if not all(math.isfinite(n) for n in numbers):
        raise ToolError("All numbers must be finite.", details={})
    try:
        result = _statistics(numbers, arguments.get("percentiles", [25, 50, 75, 90, 95, 99]))
    except OverflowError:
        result = None
    if result is None or not all(math.isfinite(v) for v in _floats(result)):
        raise ToolError("These numbers are too large for statistics in double precision (a sum or variance "
                        "overflows, e.g. near 1e308): scale them down first (divide by a power of ten).",
                        details={"largest": max(abs(n) for n in numbers)})
    return result


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


def _statistics(numbers: list[float], percentiles: list[float]) -> dict[str, Any]:
    ordered = sorted(numbers)
    count = len(numbers)
    mean = statistics.fmean(numbers)
    modes = statistics.multimode(numbers)
    result: dict[str, Any] = {
        "count": count,
        "sum": _clean(math.fsum(numbers)),
        "mean": _clean(mean),
        "median": _clean(statistics.median(ordered)),
        "mode": [_clean(m) for m in modes] if len(modes) < count or count == 1 else [],
        "min": _clean(ordered[0]),
        "max": _clean(ordered[-1]),
        "range": _clean(ordered[-1] - ordered[0]),
        "stdev_sample": _clean(statistics.stdev(numbers)) if count > 1 else None,
        "stdev_population": _clean(statistics.pstdev(numbers)),
        "variance_sample": _clean(statistics.variance(numbers)) if count > 1 else None,
        "variance_population": _clean(statistics.pvariance(numbers)),
        "percentiles": {f"p{p:g}": _clean(_percentile(ordered, float(p))) for p in percentiles},
        "iqr": _clean(_percentile(ordered, 75) - _percentile(ordered, 25)),
    }
    return result


def percentage_change(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Percent increase or decrease from an old value to a new one."""
    old, new = float(arguments["old_value"]), float(arguments["new_value"])
    if old == 0:
        raise ToolError("The old value is 0, so a percentage change is undefined.", details={"old_value": old})
    change = new - old
    percent = change / abs(old) * 100
    direction = "increase" if change > 0 else "decrease" if change < 0 else "no change"
    return {"old_value": _clean(old), "new_value": _clean(new), "change": _clean(change),
            "percent_change": _clean(percent, 4), "direction": direction, "ratio": _clean(new / old, 6),
            "text": f"{direction} of {abs(percent):.2f}%" if change else "no change"}


def percent_of(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Either "what is P% of W" or "P is what percent of W"."""
    whole = float(arguments["whole"])
    if "percent" in arguments:
        percent = float(arguments["percent"])
        part = whole * percent / 100
        return {"percent": _clean(percent), "whole": _clean(whole), "part": _clean(part),
                "text": f"{percent:g}% of {whole:g} is {_clean(part)}"}
    if whole == 0:
        raise ToolError("The whole is 0, so the part cannot be expressed as a percentage of it.", details={})
    part = float(arguments["part"])
    percent = part / whole * 100
    return {"part": _clean(part), "whole": _clean(whole), "percent": _clean(percent, 4),
            "text": f"{part:g} is {percent:.4g}% of {whole:g}"}


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIXES = {"0x": 16, "0b": 2, "0o": 8}


def _to_base(number: int, base: int) -> str:
    if number == 0:
        return "0"
    digits = []
    n = abs(number)
    while n:
        n, r = divmod(n, base)
        digits.append(_DIGITS[r])
    return ("-" if number < 0 else "") + "".join(reversed(digits))


def convert_base(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Integer base conversion (binary, octal, decimal, hex or any base 2-36)."""
    text = str(arguments["value"]).strip().lower().replace("_", "").replace(" ", "")
    negative = text.startswith("-")
    body = text.lstrip("+-")
    base = arguments.get("from_base")
    prefix = body[:2]
    if prefix in _PREFIXES and (base is None or base == _PREFIXES[prefix]):
        base, body = _PREFIXES[prefix], body[2:]
    base = int(base or 10)
    try:
        number = int(body, base)
    except ValueError:
        raise ToolError(f"{arguments['value']!r} is not a valid base-{base} integer (digits allowed: "
                        f"{_DIGITS[:base]}).", details={"value": arguments["value"], "from_base": base}) from None
    number = -number if negative else number
    to_base = int(arguments.get("to_base", 10))
    return {"value": arguments["value"], "from_base": base, "to_base": to_base,
            "result": _to_base(number, to_base), "decimal": str(number), "binary": _to_base(number, 2),
            "octal": _to_base(number, 8), "hexadecimal": _to_base(number, 16)}
