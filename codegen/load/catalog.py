"""Load the topic catalog (``schemas/catalog.toml``): topic names, key/value schemas and settings."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from ..compat.levels import LEVELS
from ..diagnostics import SchemaError, Source
from ..ir import SchemaUse, Topic

TOPIC_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
COMPATIBILITY_LEVELS = LEVELS
CLEANUP_POLICIES = ("delete", "compact", "compact,delete", "delete,compact")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TOPIC_KEYS = {"key", "value", "partitions", "retention", "cleanup_policy", "compatibility", "doc", "deleted"}
_DEFAULT_KEYS = {"partitions", "retention", "cleanup_policy", "compatibility"}
DEFAULTS: dict[str, Any] = {"partitions": 3, "retention": "7d", "cleanup_policy": "delete", "compatibility": "BACKWARD"}


def parse_retention(value: Any, src: Source) -> int:
    """``"7d"`` -> 604800000; ``"infinite"`` -> -1 (Kafka's retention.ms for no limit)."""
    if value == "infinite":
        return -1
    if isinstance(value, str):
        m = re.fullmatch(r"(\d+)\s*(ms|s|m|h|d)", value.strip())
        if m:
            return int(m.group(1)) * _UNITS[m.group(2)]
    raise SchemaError(src, f'retention must be a number with a unit (ms, s, m, h, d) or "infinite", not {value!r}')


def _schema_use(value: Any, src: Source, schema_files: set[str]) -> SchemaUse:
    if value == "string":
        return SchemaUse("string")
    if not isinstance(value, str):
        raise SchemaError(src, '"string" or a schema file path relative to the schemas directory')
    if value not in schema_files:
        raise SchemaError(src, f"no schema file {value!r} in the schemas directory")
    if value.endswith(".avsc"):
        return SchemaUse("avro", value)
    return SchemaUse("json", value)


def load_catalog(file: str, text: str, schema_files: set[str]) -> tuple[Topic, ...]:
    """Parse and validate the catalog; ``schema_files`` are the schema paths (relative to the schemas dir)."""
    src = Source(file)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SchemaError(src, f"invalid TOML: {e}") from None
    unknown = sorted(set(doc) - {"defaults", "topics"})
    if unknown:
        raise SchemaError(src.at(unknown[0]), f'unknown key "{unknown[0]}" (expected "defaults" and "topics")')
    defaults = dict(DEFAULTS)
    for k, v in doc.get("defaults", {}).items():
        if k not in _DEFAULT_KEYS:
            raise SchemaError(src.at("defaults", k), f'unknown key "{k}" in [defaults]')
        defaults[k] = v
    topics = doc.get("topics", {})
    if not isinstance(topics, dict) or not topics:
        raise SchemaError(src.at("topics"), 'the catalog declares no topics ([topics."domain.entity.action"])')
    out = []
    for name, spec in topics.items():
        tsrc = src.at("topics", name)
        if not TOPIC_NAME.fullmatch(name):
            raise SchemaError(tsrc, f'topic name "{name}" does not follow {{domain}}.{{entity}}.{{action}} (lowercase)')
        if not isinstance(spec, dict):
            raise SchemaError(tsrc, "a topic must be a table")
        for k in spec:
            if k not in _TOPIC_KEYS:
                raise SchemaError(tsrc.at(k), f'unknown key "{k}" (expected one of {", ".join(sorted(_TOPIC_KEYS))})')
        s = {**defaults, **spec}
        if "value" not in spec:
            raise SchemaError(tsrc, f'topic "{name}" needs a value schema')
        partitions = s["partitions"]
        if not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1:
            raise SchemaError(tsrc.at("partitions"), "partitions must be a positive integer")
        compatibility = s["compatibility"]
        if compatibility not in COMPATIBILITY_LEVELS:
            raise SchemaError(
                tsrc.at("compatibility"), f"compatibility must be one of {', '.join(COMPATIBILITY_LEVELS)}"
            )
        cleanup = s["cleanup_policy"]
        if cleanup not in CLEANUP_POLICIES:
            raise SchemaError(tsrc.at("cleanup_policy"), f"cleanup_policy must be one of {', '.join(CLEANUP_POLICIES)}")
        doc_line = spec.get("doc")
        if doc_line is not None and not isinstance(doc_line, str):
            raise SchemaError(tsrc.at("doc"), "doc must be a string")
        out.append(
            Topic(
                name=name,
                key=_schema_use(spec["key"], tsrc.at("key"), schema_files) if "key" in spec else None,
                value=_schema_use(spec["value"], tsrc.at("value"), schema_files),
                partitions=partitions,
                retention_ms=parse_retention(s["retention"], tsrc.at("retention")),
                cleanup_policy=cleanup,
                compatibility=compatibility,
                source=tsrc,
                doc=doc_line,
                deleted=bool(spec.get("deleted", False)),
            )
        )
    if any(t.value.kind == "string" for t in out):
        bad = next(t for t in out if t.value.kind == "string")
        raise SchemaError(bad.source.at("value"), "a value must be a schema file")
    return tuple(sorted(out, key=lambda t: t.name))
