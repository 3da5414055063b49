"""Compatibility levels as Confluent Schema Registry defines them.

BACKWARD: consumers using the new schema can read data written with the previous one
(reader = new, writer = previous). FORWARD: consumers using the previous schema can read data
written with the new one (reader = previous, writer = new). FULL: both. ``*_TRANSITIVE``: against
every earlier version, not only the latest. NONE: no check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .findings import Finding, Incompatibility

LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

S = TypeVar("S")


@dataclass(frozen=True)
class Version(Generic[S]):
    """A schema version: a label for messages (a git ref, a registry version, a file) and the schema."""

    label: str
    schema: S


def pairs(level: str, new: Version[S], previous: Sequence[Version[S]]) -> list[tuple[Version[S], Version[S]]]:
    """The (reader, writer) pairs a level requires; ``previous`` is oldest first."""
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r} (expected one of {', '.join(LEVELS)})")
    if level == "NONE" or not previous:
        return []
    against = list(previous) if level.endswith("_TRANSITIVE") else [previous[-1]]
    base = level.removesuffix("_TRANSITIVE")
    out: list[tuple[Version[S], Version[S]]] = []
    # Newest first: the latest version's findings are the ones a user fixes first.
    for old in reversed(against):
        if base in ("BACKWARD", "FULL"):
            out.append((new, old))
        if base in ("FORWARD", "FULL"):
            out.append((old, new))
    return out


def check_level(
    level: str,
    new: Version[S],
    previous: Sequence[Version[S]],
    can_read: Callable[[S, S], list[Incompatibility]],
) -> list[Finding]:
    """Every finding of ``level`` for ``new`` against ``previous``; ``can_read(reader, writer)``
    returns why a reader cannot read a writer's data (empty when it can)."""
    findings: list[Finding] = []
    for reader, writer in pairs(level, new, previous):
        for incompatibility in can_read(reader.schema, writer.schema):
            findings.append(Finding(incompatibility, level, reader.label, writer.label))
    return findings
