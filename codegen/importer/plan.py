"""What one ``schemabus import pydantic`` run writes, as a value: ``{path: text}`` and catalog entries.

A model imported for a topic (``--topic agent.lifecycle.created``) goes where the catalog's
conventions put it: ``agent/lifecycle/created.avsc``, namespace ``[prefix.]agent.lifecycle`` (lint's
SUBJECT_NAME and NAMESPACE_CONSISTENT). Without a topic it goes to ``snake_name.avsc`` in the
namespace given, else its module's name.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ..diagnostics import SchemaError, Source
from ..load.catalog import TOPIC_NAME
from ..naming import snake
from .avro_types import AvroTypes, own_doc
from .json_schema import registry_json_schema

Format = Literal["avro", "json"]
_SUFFIX = {"avro": ".avsc", "json": ".schema.json"}


@dataclass(frozen=True)
class Imported:
    """The files of one import (paths relative to the output directory, ``/``-separated), the
    catalog entry of each model imported for a topic, and the notes to show the user."""

    files: dict[str, str]
    entries: list[str]
    warnings: list[str]


def plan(
    models: Sequence[type[BaseModel]], topics: Sequence[str], fmt: Format, namespace: str | None, prefix: str = ""
) -> Imported:
    """Import ``models`` (each for the topic at its position in ``topics``, if any); ``prefix`` is
    where the output directory sits in the schemas directory, for the catalog's value paths."""
    if topics and len(topics) != len(models):
        raise SchemaError(Source("--topic"), f"give one --topic per model ({len(models)} models, {len(topics)} topics)")
    for topic in topics:
        if not TOPIC_NAME.fullmatch(topic):
            raise SchemaError(Source(topic), "a topic name is {domain}.{entity}.{action} (lowercase, snake_case)")
    pairs: list[tuple[type[BaseModel], str | None]] = [(m, topics[i] if topics else None) for i, m in enumerate(models)]
    paths = {model: _path(model, topic, fmt) for model, topic in pairs}
    if len(set(paths.values())) < len(paths):
        raise SchemaError(Source(", ".join(m.__qualname__ for m in models)), "two models would write one file")
    if fmt == "json":
        files = {paths[m]: _dump(registry_json_schema(m)) for m in models}
        warnings: list[str] = []
    else:
        files, warnings = _avro_files(pairs, paths, namespace)
    entries = [catalog_entry(t, prefix + paths[m], own_doc(m)) for m, t in pairs if t is not None]
    return Imported(files, entries, warnings)


def _path(model: type[BaseModel], topic: str | None, fmt: Format) -> str:
    stem = topic.replace(".", "/") if topic else snake(model.__name__)
    return stem + _SUFFIX[fmt]


def file_namespace(model: type[BaseModel], topic: str | None, namespace: str | None) -> str:
    if topic is None:
        return namespace or model.__module__
    directory = topic.rsplit(".", 1)[0]
    return f"{namespace}.{directory}" if namespace else directory


def _avro_files(
    pairs: list[tuple[type[BaseModel], str | None]], paths: dict[type[BaseModel], str], namespace: str | None
) -> tuple[dict[str, str], list[str]]:
    mapper = AvroTypes(fullnames={})
    for model, topic in pairs:  # every top-level model is named first: its own file defines it
        mapper.namespace = file_namespace(model, topic, namespace)
        mapper.claim(model)
    files: dict[str, dict[str, Any]] = {}
    for model, topic in pairs:
        mapper.namespace = file_namespace(model, topic, namespace)
        mapper.root = model
        definition = mapper.record(model)
        root = {"type": "record", "name": definition["name"], "namespace": mapper.namespace}
        files[paths[model]] = {**root, **definition}
    mapper.add_defaults()
    return {path: _dump(schema) for path, schema in files.items()}, mapper.warnings


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def catalog_entry(topic: str, value: str, doc: str) -> str:
    """The catalog table of ``topic`` (TOML; JSON's string escapes are TOML's too)."""
    lines = [f"[topics.{json.dumps(topic)}]", f"value = {json.dumps(value)}"]
    if doc:
        lines.append(f"doc = {json.dumps(doc.split(chr(10) + chr(10))[0].replace(chr(10), ' '))}")
    return "\n".join(lines) + "\n"


def add_entries(catalog: str, entries: Sequence[str], topics: Sequence[str], source: Source) -> str:
    """``catalog`` with ``entries`` appended; a topic the catalog has already is an error."""
    try:
        existing = tomllib.loads(catalog).get("topics", {})
    except tomllib.TOMLDecodeError as e:
        raise SchemaError(source, f"invalid TOML: {e}") from None
    for topic in topics:
        if topic in existing:
            raise SchemaError(source.at("topics", topic), "the catalog has this topic already")
    text = catalog if not catalog or catalog.endswith("\n") else catalog + "\n"
    return text + "".join("\n" + entry for entry in entries)
