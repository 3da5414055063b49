"""Lint rules for the topic catalog: topic names and the subjects derived from them."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Hit, LintContext, rule

_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_MAX_TOPIC_LENGTH = 249  # Kafka's limit (org.apache.kafka.common.internals.Topic)


@rule(
    "TOPIC_NAME",
    "A topic name is {domain}.{entity}.{action}, each part snake_case (no leading, trailing or doubled "
    "underscore), within Kafka's 249 characters.",
)
def topic_name(ctx: LintContext) -> Iterator[Hit]:
    for t in ctx.live_topics:
        # The catalog loader already rejects names that are not three lowercase parts.
        for label, part in zip(("domain", "entity", "action"), t.name.split(".")):
            if not _SNAKE.fullmatch(part):
                yield Hit(t.source, f'{label} "{part}" of topic "{t.name}" is not snake_case')
        if len(t.name) > _MAX_TOPIC_LENGTH:
            yield Hit(t.source, f'topic name "{t.name}" is longer than Kafka\'s {_MAX_TOPIC_LENGTH} characters')


@rule(
    "TOPIC_NAME_COLLISION",
    'No two topic names differ only in "." versus "_" (Kafka refuses to create the second: they share metric names).',
    severity="error",
)
def topic_name_collision(ctx: LintContext) -> Iterator[Hit]:
    first: dict[str, str] = {}
    for t in sorted(ctx.live_topics, key=lambda t: t.name):
        key = t.name.replace(".", "_")
        if key in first:
            yield Hit(t.source, f'topic "{t.name}" collides with topic "{first[key]}" in Kafka\'s metric names')
        else:
            first[key] = t.name


def _stem(file: str) -> tuple[str, str]:
    """``("agent/lifecycle/created", ".avsc")`` for ``agent/lifecycle/created.avsc``."""
    for suffix in (".avsc", ".schema.json", ".json"):
        if file.endswith(suffix):
            return file[: -len(suffix)], suffix
    return file, ""


@rule(
    "SUBJECT_NAME",
    "The schema of subject {topic}-value is {domain}/{entity}/{action}.avsc (or .schema.json), that of "
    "{topic}-key {domain}/{entity}/{action}_key.avsc, so a subject's schema file follows from its name.",
)
def subject_name(ctx: LintContext) -> Iterator[Hit]:
    for t, part, use in ctx.topic_uses():
        if use.file is None:
            continue  # a plain string key has no subject
        stem, suffix = _stem(use.file)
        expected = t.name.replace(".", "/") + ("_key" if part == "key" else "")
        if stem != expected:
            subject = t.key_subject if part == "key" else t.value_subject
            yield Hit(
                t.source.at(part),
                f'subject "{subject}" has schema file "{use.file}", expected "{expected}{suffix}"',
            )
