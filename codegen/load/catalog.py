"""Load the topic catalog (``schemas/catalog.toml``): topic names, key/value schemas and settings."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from ..compat.levels import LEVELS
from ..diagnostics import SchemaError, Source
from ..ir import (
    Array,
    AvroSchema,
    AvroType,
    Enum,
    Fixed,
    Logical,
    Map,
    NamedRef,
    NamedType,
    Primitive,
    Record,
    SchemaUse,
    Topic,
    Union,
)
from .topic_configs import CATALOG_KEYS, KAFKA_TOPIC_CONFIGS

TOPIC_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
COMPATIBILITY_LEVELS = LEVELS
CLEANUP_POLICIES = ("delete", "compact", "compact,delete", "delete,compact")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TOPIC_KEYS = {
    "key",
    "value",
    "partitions",
    "retention",
    "cleanup_policy",
    "compatibility",
    "doc",
    "deleted",
    "replication_factor",
    "configs",
}
_DEFAULT_KEYS = {"partitions", "retention", "cleanup_policy", "compatibility", "replication_factor", "configs"}
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


def parse_configs(value: Any, src: Source) -> tuple[dict[str, str], list[SchemaError]]:
    """A ``configs`` table: Kafka topic config name -> value (a string, integer, float or boolean,
    kept as the text Kafka shows: ``true``, ``1048576``). Unknown names are errors, as are the two the
    catalog sets with its own keys (``retention``, ``cleanup_policy``)."""
    if not isinstance(value, dict):
        return {}, [SchemaError(src, 'configs must be a table of Kafka topic configs ({ "segment.ms" = ... })')]
    out: dict[str, str] = {}
    errors: list[SchemaError] = []
    unknown = sorted(k for k in value if k not in KAFKA_TOPIC_CONFIGS)
    if unknown:
        names = ", ".join(_quoted(k) for k in unknown)
        errors.append(SchemaError(src, f"unknown Kafka topic config{'s' if len(unknown) > 1 else ''} {names}"))
    for k, v in value.items():
        if k in unknown:
            continue
        if k in CATALOG_KEYS:
            errors.append(SchemaError(src.at(k), f"set {_quoted(k)} with the topic's {CATALOG_KEYS[k]} key"))
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float | str):
            out[k] = str(v)
        else:
            errors.append(SchemaError(src.at(k), f"{_quoted(k)} must be a string, number or boolean"))
    return out, errors


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
    """Parse and validate the catalog; raise its first error (:func:`read_catalog` gives them all)."""
    topics, errors = read_catalog(file, text, schema_files)
    if errors:
        raise errors[0]
    return topics


def read_catalog(file: str, text: str, schema_files: set[str]) -> tuple[tuple[Topic, ...], list[SchemaError]]:
    """Parse and validate the catalog; ``schema_files`` are the schema paths (relative to the schemas
    dir). Returns the valid topics and every error found (each topic is checked, all its keys)."""
    src = Source(file)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return (), [SchemaError(src, f"invalid TOML: {e}")]
    except RecursionError:
        return (), [SchemaError(src, "invalid TOML: arrays or tables nest too deep to read")]
    errors: list[SchemaError] = []
    for k in sorted(set(doc) - {"defaults", "topics"}):
        errors.append(SchemaError(src.at(k), f'unknown key "{k}" (expected "defaults" and "topics")'))
    defaults = dict(DEFAULTS)
    given = doc.get("defaults", {})
    if not isinstance(given, dict):
        errors.append(SchemaError(src.at("defaults"), "[defaults] must be a table"))
        given = {}
    for k, v in given.items():
        if k not in _DEFAULT_KEYS:
            errors.append(SchemaError(src.at("defaults", k), f'unknown key "{k}" in [defaults]'))
        elif k == "configs":
            default_configs, config_errors = parse_configs(v, src.at("defaults", k))
            errors += config_errors
            defaults[k] = default_configs
        else:
            defaults[k] = v
    topics = doc.get("topics", {})
    if not isinstance(topics, dict) or not topics:
        errors.append(SchemaError(src.at("topics"), 'the catalog declares no topics ([topics."domain.entity.action"])'))
        return (), errors
    out = []
    for name, spec in topics.items():
        topic, topic_errors = _topic(name, spec, src.at("topics", name), defaults, schema_files)
        errors += topic_errors
        if topic is not None:
            out.append(topic)
    for t in out:
        if t.value.kind == "string":
            errors.append(SchemaError(t.source.at("value"), "a value must be a schema file"))
    return tuple(sorted((t for t in out if t.value.kind != "string"), key=lambda t: t.name)), errors


def _topic(
    name: str, spec: Any, tsrc: Source, defaults: dict[str, Any], schema_files: set[str]
) -> tuple[Topic | None, list[SchemaError]]:
    """One topic of the catalog, or None, and its errors."""
    errors: list[SchemaError] = []

    def check(run: Any) -> Any:
        try:
            return run()
        except SchemaError as e:
            errors.append(e)
            return None

    if not TOPIC_NAME.fullmatch(name):
        errors.append(
            SchemaError(
                tsrc, f"topic name {_quoted(name)} does not follow {{domain}}.{{entity}}.{{action}} (lowercase)"
            )
        )
    if not isinstance(spec, dict):
        return None, [*errors, SchemaError(tsrc, "a topic must be a table")]
    for k in spec:
        if k not in _TOPIC_KEYS:
            errors.append(
                SchemaError(tsrc.at(k), f'unknown key "{k}" (expected one of {", ".join(sorted(_TOPIC_KEYS))})')
            )
    s = {**defaults, **spec}
    if "value" not in spec:
        errors.append(SchemaError(tsrc, f"topic {_quoted(name)} needs a value schema"))
    partitions = s["partitions"]
    if not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1:
        errors.append(SchemaError(tsrc.at("partitions"), "partitions must be a positive integer"))
    compatibility = s["compatibility"]
    if compatibility not in COMPATIBILITY_LEVELS:
        errors.append(
            SchemaError(tsrc.at("compatibility"), f"compatibility must be one of {', '.join(COMPATIBILITY_LEVELS)}")
        )
    cleanup = s["cleanup_policy"]
    if cleanup not in CLEANUP_POLICIES:
        errors.append(
            SchemaError(tsrc.at("cleanup_policy"), f"cleanup_policy must be one of {', '.join(CLEANUP_POLICIES)}")
        )
    doc_line = spec.get("doc")
    if doc_line is not None and not isinstance(doc_line, str):
        errors.append(SchemaError(tsrc.at("doc"), "doc must be a string"))
    key = check(lambda: _schema_use(spec["key"], tsrc.at("key"), schema_files)) if "key" in spec else None
    value = check(lambda: _schema_use(spec["value"], tsrc.at("value"), schema_files)) if "value" in spec else None
    retention = check(lambda: parse_retention(s["retention"], tsrc.at("retention")))
    replication = s.get("replication_factor")
    if replication is not None and (
        not isinstance(replication, int) or isinstance(replication, bool) or replication < 1
    ):
        errors.append(SchemaError(tsrc.at("replication_factor"), "replication_factor must be a positive integer"))
    configs = dict(defaults.get("configs", {}))
    if "configs" in spec:
        own, config_errors = parse_configs(spec["configs"], tsrc.at("configs"))
        errors += config_errors
        configs.update(own)
    if errors or value is None:
        return None, errors
    topic = Topic(
        name=name,
        key=key,
        value=value,
        partitions=partitions,
        retention_ms=retention,
        cleanup_policy=cleanup,
        compatibility=compatibility,
        source=tsrc,
        doc=doc_line,
        deleted=bool(spec.get("deleted", False)),
        replication_factor=replication,
        configs=tuple(sorted(configs.items())),
    )
    return topic, []


def check_topic_types(
    topics: tuple[Topic, ...], avro: dict[str, AvroSchema], named: dict[str, NamedType]
) -> list[SchemaError]:
    """A topic's Avro key or value must be a record: the generated publishers and handlers, and the
    serdes, carry a model class. (An enum, a fixed, a union or a primitive file is refused here.)"""
    errors: list[SchemaError] = []
    for t in topics:
        for part, use in (("key", t.key), ("value", t.value)):
            if use is None or use.kind != "avro" or use.file not in avro:
                continue
            root = avro[use.file].root
            if isinstance(root, NamedRef) and isinstance(named.get(root.fullname), Record):
                continue
            errors.append(
                SchemaError(
                    t.source.at(part),
                    f"{use.file} is not a record: a topic's Avro {part} must be a record "
                    f"(its type is {_kind(root, named)})",
                )
            )
    return errors


def _kind(t: AvroType, named: dict[str, NamedType]) -> str:
    if isinstance(t, NamedRef):
        n = named.get(t.fullname)
        kind = "an enum" if isinstance(n, Enum) else "a fixed" if isinstance(n, Fixed) else "a record"
        return f"{kind} {_quoted(t.fullname)}"
    if isinstance(t, Union):
        return f"a union of {len(t.branches)} types"
    if isinstance(t, Primitive):
        return f"{_quoted(t.name)}"
    return {Array: "an array", Map: "a map", Logical: "a logical type"}.get(type(t), "not a record")


def _quoted(text: str) -> str:
    """``text`` in double quotes, as JSON writes it: every character of input shows, none breaks a line."""
    return json.dumps(text)
