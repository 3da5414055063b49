"""What a lint rule is, what it reports, and what it sees.

A rule is one function over a :class:`LintContext` that yields :class:`Hit` values (a location
relative to the schemas directory and one plain sentence); :func:`rule` registers it under its ID
with a one-line purpose, a severity and whether it runs by default. The engine turns hits into
:class:`LintFinding` objects located relative to the project root, the way every other
schemabus message is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from .. import diagnostics
from ..diagnostics import Diagnostic, Source, resolve_pointer
from ..diagnostics import Severity as Severity  # defined here before
from ..ir import Array, AvroType, Logical, Map, NamedRef, Project, Record, SchemaUse, Topic, Union


@dataclass(frozen=True)
class Hit:
    """One problem found by a rule: where (relative to the schemas directory) and what."""

    source: Source
    message: str  # one plain sentence: lowercase start, no trailing period, no location, no rule ID


Check = Callable[["LintContext"], Iterator[Hit]]


@dataclass(frozen=True)
class Rule(diagnostics.Rule):
    """A lint rule: its ID, purpose, severity, whether it runs by default, and its check."""

    severity: Severity  # "error": registries, brokers or Java's parser reject it; "warning": a convention
    default: bool  # enabled without configuration
    check: Check = field(repr=False, compare=False)


@dataclass(frozen=True)
class LintFinding:
    rule: Rule
    source: Source  # the file relative to the project root, and a JSON pointer into it
    message: str

    @property
    def rule_id(self) -> str:
        return self.rule.id

    def diagnostic(self) -> Diagnostic:
        severity = self.rule.severity
        return Diagnostic(self.rule.id, self.source, self.message, severity, about_rule=(("severity", severity),))

    def __str__(self) -> str:
        return str(self.diagnostic())


RULES: dict[str, Rule] = {}


def rule(id: str, purpose: str, *, severity: Severity = "warning", default: bool = True) -> Callable[[Check], Check]:
    """Declare a rule once, at import time of its module."""

    def register(check: Check) -> Check:
        if id in RULES:
            raise ValueError(f"lint rule {id} declared twice")
        RULES[id] = Rule(id, purpose, severity, default, check)
        return check

    return register


@dataclass(frozen=True)
class LintContext:
    """Everything a rule may look at; file names are relative to the schemas directory."""

    project: Project
    raw: dict[str, Any]  # every schema file as parsed JSON (the IR drops what was not written)
    namespace_prefix: str | None = None

    def records(self) -> Iterator[Record]:
        for n in self.project.named.values():
            if isinstance(n, Record):
                yield n

    @cached_property
    def live_topics(self) -> tuple[Topic, ...]:
        """The topics not marked ``deleted`` in the catalog."""
        return tuple(t for t in self.project.topics if not t.deleted)

    def topic_uses(self) -> Iterator[tuple[Topic, Literal["key", "value"], SchemaUse]]:
        for t in self.live_topics:
            if t.key is not None:
                yield t, "key", t.key
            yield t, "value", t.value

    def node_at(self, source: Source) -> Any:
        """The JSON value at a source's pointer, or None when there is none."""
        try:
            return resolve_pointer(self.raw.get(source.file), source.pointer)
        except LookupError:
            return None


def quoted(value: Any) -> str:
    """A JSON value as it is written in a schema, for messages (``"abc"``, ``3``, ``{"a": 1}``)."""
    return json.dumps(value, ensure_ascii=False)


def strip_logical(t: AvroType) -> AvroType:
    return t.base if isinstance(t, Logical) else t


def named_refs(t: AvroType) -> Iterator[NamedRef]:
    """The named types an Avro type uses directly (through arrays, maps and unions, not records)."""
    t = strip_logical(t)
    if isinstance(t, NamedRef):
        yield t
    elif isinstance(t, Array):
        yield from named_refs(t.items)
    elif isinstance(t, Map):
        yield from named_refs(t.values)
    elif isinstance(t, Union):
        for b in t.branches:
            yield from named_refs(b)
