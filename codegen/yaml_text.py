"""JSON data (dicts, lists, strings, numbers, booleans, null) as YAML text, deterministically.

One small emitter instead of a YAML library: the documents schemabus writes hold nothing but JSON
data, so block mappings and sequences, double-quoted strings and a plain key where one is safe are
enough. The text reads the same in YAML 1.1 (PyYAML) and 1.2 readers; keys keep their order.
"""

from __future__ import annotations

import math
import re
from typing import Any

# A key written without quotes: it cannot read as anything but this string in YAML 1.1 or 1.2.
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def dump(data: Any) -> str:
    """``data`` as a YAML document ending in a newline."""
    if isinstance(data, dict | list) and data:
        return "".join(f"{line}\n" for line in _block(data, 0))
    return _scalar(data) + "\n"


def _block(data: dict[str, Any] | list[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    items = data.items() if isinstance(data, dict) else ((None, v) for v in data)
    for key, value in items:
        head = f"{pad}{_key(key)}:" if isinstance(data, dict) else f"{pad}-"
        if isinstance(value, dict | list) and value:
            if isinstance(data, list):
                # "- " then the first line of the nested block on the same line, the rest indented.
                nested = _block(value, indent + 2)
                lines.append(f"{head} {nested[0].lstrip()}")
                lines.extend(nested[1:])
            else:
                lines.append(head)
                lines.extend(_block(value, indent + 2))
        else:
            lines.append(f"{head} {_scalar(value)}")
    return lines


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a mapping key must be a string, not {type(key).__name__}")
    if _PLAIN_KEY.fullmatch(key) and key.lower() not in _RESERVED:
        return key
    return _quoted(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _quoted(value)
    if value == {}:
        return "{}"
    if value == []:
        return "[]"
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    # YAML 1.1 reads a float only with a dot (and a signed exponent, which repr writes): 1e-05 -> 1.0e-05
    if "." not in text:
        mantissa, e, exponent = text.partition("e")
        text = f"{mantissa}.0{e}{exponent}"
    return text


def _quoted(text: str) -> str:
    """A double-quoted scalar: printable characters as they are, every other one escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'
