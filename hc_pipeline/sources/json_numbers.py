"""JSON numbers past a float's range (`1e400`): valid JSON, kept as written instead of becoming `inf`.

Python's json reads them as float('inf'), which JSON cannot write back. `loads` keeps each one as a `LargeNumber`,
a float (infinite, so a numeric rule refuses it) whose text is the literal as sent; `dumps` writes that literal.
"""

import functools
import json
import math
import re
import uuid


class LargeNumber(float):
    """A JSON number that overflows a float: infinite as a number, its literal as text."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> "LargeNumber":
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def parse_float(text: str) -> float:
    """A JSON number with a fraction or an exponent; one past a float's range stays as written."""
    value = float(text)
    return LargeNumber(text) if math.isinf(value) else value


def loads(text: str, **hooks) -> object:
    """`json.loads` keeping out-of-range numbers as `LargeNumber`."""
    if not isinstance(text, str):
        return json.loads(text, parse_float=parse_float, **hooks)
    if text.startswith("\ufeff"):  # as json.loads refuses it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return decoder(**hooks).decode(text)


def dumps(value: object, **options) -> str:
    """`json.dumps` with `allow_nan=False` that writes a `LargeNumber` as its literal (any other inf still raises)."""
    try:
        return _encoder(**options).encode(value)
    except ValueError:
        pass  # an infinite float somewhere: written through a marker below
    marker = f"\x00{uuid.uuid4().hex}:"  # JSON escapes the NUL; the random part no string of the value holds
    text = json.dumps(_marked(value, marker), allow_nan=False, **options)
    quoted = re.escape(json.dumps(marker)[:-1])
    return re.sub(quoted + r'([-+.0-9eE]+)"', lambda found: found.group(1), text)


@functools.cache
def decoder(**hooks) -> json.JSONDecoder:
    """The decoder `loads` uses with these hooks, one per set of them."""
    # json.loads and json.dumps build a decoder or encoder per call when given options: most of a small record's time.
    return json.JSONDecoder(parse_float=parse_float, **hooks)


@functools.cache
def _encoder(**options) -> json.JSONEncoder:
    return json.JSONEncoder(allow_nan=False, **options)


def _marked(value: object, marker: str) -> object:
    """`value` with each LargeNumber replaced by the string marker + its literal."""
    if isinstance(value, LargeNumber):
        return marker + value.text
    if isinstance(value, dict):
        return {key: _marked(item, marker) for key, item in value.items()}
    if isinstance(value, list):
        return [_marked(item, marker) for item in value]
    return value
