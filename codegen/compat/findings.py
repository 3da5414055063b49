"""What a compatibility check reports: findings with a rule ID and a location."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import diagnostics
from ..diagnostics import Diagnostic, Source


@dataclass(frozen=True)
class Rule(diagnostics.Rule):
    """A compatibility rule: its ID (as Avro's ``SchemaIncompatibilityType`` or Confluent's JSON
    Schema ``Difference.Type`` names it), one line saying what it protects and the schema format."""

    format: str  # "AVRO" or "JSON"


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader schema cannot read what a writer schema wrote.

    ``source`` points into the schema whose element causes it (for a field the reader lacks a
    default for, the reader's field; for a removed enum symbol, the writer's enum), ``message`` is
    one plain sentence without the location or the rule ID.
    """

    rule: Rule
    source: Source
    message: str


@dataclass(frozen=True)
class Finding:
    """An incompatibility found while checking a level between two versions of a subject."""

    incompatibility: Incompatibility
    level: str
    reader_version: str  # e.g. "working tree", "HEAD~1", "v3", a file name
    writer_version: str
    notes: tuple[str, ...] = field(default=())

    @property
    def rule_id(self) -> str:
        return self.incompatibility.rule.id

    def diagnostic(self) -> Diagnostic:
        i = self.incompatibility
        return Diagnostic(
            i.rule.id,
            i.source,
            i.message,
            about_rule=(("format", i.rule.format),),
            context=(("level", self.level), ("reader", self.reader_version), ("writer", self.writer_version)),
            detail=f"{self.level}: reader {self.reader_version}, writer {self.writer_version}",
            title=f"{i.rule.id} ({self.level})",
        )

    def __str__(self) -> str:
        return str(self.diagnostic())


RULES: dict[str, Rule] = {}


def rule(id: str, format: str, purpose: str) -> Rule:
    """Declare a rule once, at import time of its module; IDs are unique per format."""
    key = f"{format}:{id}"
    if key in RULES:
        raise ValueError(f"rule {key} declared twice")
    RULES[key] = r = Rule(id=id, purpose=purpose, format=format)
    return r


Checker = Callable[..., list[Incompatibility]]
