"""Errors as values with a location: ``schemas/agent/created.avsc#/fields/3/type: unknown type "strng"``;
and the findings of ``schemabus check`` and ``schemabus lint`` as one :class:`Diagnostic` type with one
:func:`render` for the text, JSON and GitHub Actions formats."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Severity = Literal["error", "warning"]


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


@dataclass(frozen=True)
class Rule:
    """What every rule of ``check`` and ``lint`` has: an ID and one line saying what it protects."""

    id: str
    purpose: str


@dataclass(frozen=True)
class Diagnostic:
    """One finding of a rule, as :func:`render` prints it.

    ``about_rule`` and ``context`` are extra JSON keys, after ``rule`` and after ``message``
    respectively; ``detail`` is one line of context for people (the text format's second line, the
    GitHub annotation's bracket); ``title`` is the GitHub annotation's title (the rule ID when empty).
    """

    rule_id: str
    source: Source
    message: str  # one plain sentence: no location, no rule ID
    severity: Severity = "error"
    about_rule: tuple[tuple[str, str], ...] = ()
    context: tuple[tuple[str, str], ...] = ()
    detail: str = ""
    title: str = ""

    def diagnostic(self) -> Diagnostic:
        return self

    def __str__(self) -> str:
        return f"{self.source}: {self.message} ({self.rule_id})"

    def as_json(self) -> dict[str, str]:
        return {
            "rule": self.rule_id,
            **dict(self.about_rule),
            "file": self.source.file,
            "pointer": self.source.pointer,
            "message": self.message,
            **dict(self.context),
        }

    def as_text(self) -> str:
        return f"{self}\n    {self.detail}" if self.detail else str(self)

    def as_github(self) -> str:
        """A workflow command; the bracket says where in the file (``schema`` for all of it) and the
        detail, and is left out when there is neither a pointer nor a detail."""
        where = f"#{self.source.pointer}" if self.source.pointer else "schema"
        notes = [where, self.detail] if self.detail else [where] if self.source.pointer else []
        message = self.message + (f" [{'; '.join(notes)}]" if notes else "")
        return (
            f"::{self.severity} file={github_escape(self.source.file, property_value=True)},"
            f"title={github_escape(self.title or self.rule_id, property_value=True)}::{github_escape(message)}"
        )


class Reportable(Protocol):
    """A finding of ``check`` (:class:`~schemabus.codegen.compat.findings.Finding`) or ``lint``
    (:class:`~schemabus.codegen.lint.base.LintFinding`), or a :class:`Diagnostic` itself."""

    def diagnostic(self) -> Diagnostic: ...


def render(findings: Iterable[Reportable], fmt: str) -> str:
    """The report in ``fmt`` ("text", "json" or "github"); '' for no findings in text/github."""
    diagnostics = [f.diagnostic() for f in findings]
    if fmt == "json":
        return json.dumps({"findings": [d.as_json() for d in diagnostics]}, indent=2) + "\n"
    return "".join((d.as_github() if fmt == "github" else d.as_text()) + "\n" for d in diagnostics)
