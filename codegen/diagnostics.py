"""Errors as values with a location: ``schemas/agent/created.avsc#/fields/3/type: unknown type "strng"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def pointer(*parts: str | int) -> str:
    """Build an RFC 6901 JSON pointer from path parts (``pointer("fields", 3)`` is ``/fields/3``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve_pointer(document: Any, fragment: str) -> Any:
    """The value at JSON pointer ``fragment`` (``""`` is the whole document); LookupError if none."""
    if not fragment:
        return document
    if not fragment.startswith("/"):
        raise LookupError(f"#{fragment} is not a JSON pointer")
    value = document
    for raw in fragment[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LookupError(f"nothing at #{fragment}")
    return value


@dataclass(frozen=True, slots=True)
class Source:
    """Where a schema element comes from: a file (relative to the project) and a JSON pointer into it."""

    file: str
    pointer: str = ""

    def at(self, *parts: str | int) -> Source:
        return Source(self.file, self.pointer + pointer(*parts))

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}" if self.pointer else self.file


class SchemaError(Exception):
    """A user mistake in a schema, the catalog or the configuration; printed without a traceback."""

    def __init__(self, source: Source, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class SchemaErrors(Exception):
    """Several schema errors found in one run; each is reported."""

    def __init__(self, errors: list[SchemaError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def one_line(text: str) -> str:
    """``text`` with every character that could end or hide a line shown as its escape (``\\n``,
    ``\\u2028``, ...), so an error about a hostile file or name stays one line."""
    return "".join(c if c == "\t" or c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    code = ord(c)
    return {"\n": "\\n", "\r": "\\r"}.get(c) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def github_escape(text: str, property_value: bool = False) -> str:
    """``text`` for a GitHub Actions workflow command (``::error file=...,title=...::message``): % and
    line breaks are escaped everywhere, ":" and "," in properties (``property_value``) too."""
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        out = out.replace(":", "%3A").replace(",", "%2C")
    return out
