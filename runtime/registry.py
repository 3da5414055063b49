"""The schema registry as the runtime needs it, and the id cache every bus shares.

:class:`SchemaRegistry` is the small protocol a registry client implements (the in-memory one in
:mod:`schemabus.runtime.testing`, a Confluent-API client for real deployments). :class:`SchemaIds`
asks it once per subject and schema and caches the answer: a warm publisher never calls the registry.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Literal, Protocol

__all__ = [
    "IdMode",
    "SchemaIds",
    "SchemaNotRegisteredError",
    "SchemaRegistry",
    "SchemaVersion",
    "canonical_schema",
    "version_for",
]

IdMode = Literal["register", "lookup"]
# A version of a subject to look a schema up as: a version number, or the newest ("latest").
SchemaVersion = int | Literal["latest"]


class SchemaNotRegisteredError(LookupError):
    """The schema is not registered under the subject, and this bus may not register it."""


class SchemaRegistry(Protocol):
    def register_schema(self, subject: str, schema: str, schema_type: str) -> int:
        """Register (or find) ``schema`` under ``subject``; return its global id."""
        ...

    def lookup_schema(self, subject: str, schema: str, schema_type: str) -> int:
        """The id of ``schema`` if it is a version of ``subject``; raise SchemaNotRegisteredError if not."""
        ...

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        """``(schema_type, schema_text)`` of a global id; raise KeyError when unknown."""
        ...

    def lookup_version(self, subject: str, version: SchemaVersion, schema: str, schema_type: str) -> int:
        """The id of version ``version`` of ``subject``, which must hold ``schema`` (an equivalent
        text); raise SchemaNotRegisteredError when there is no such version or it holds another schema."""
        ...


def canonical_schema(text: str) -> str:
    """Whitespace-insensitive form used to compare schema texts."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def version_for(versions: Mapping[str, SchemaVersion], subject: str) -> SchemaVersion | None:
    """The version ``subject`` is pinned to: its own entry, else the ``"*"`` entry, else none."""
    return versions.get(subject, versions.get("*"))


class SchemaIds:
    """Schema ids by (subject, schema), and writer schemas by id, each fetched once.

    ``mode="register"`` registers on first use (development); ``mode="lookup"`` only looks the
    schema up, for production where CI registered every schema beforehand. In lookup mode,
    ``versions`` may pin subjects to a version (a number, or ``"latest"``; the key ``"*"`` stands for
    every subject not listed): the schema is then looked up as that version, and a version holding
    another schema than the one the code was generated from is refused (stale or unexpected code).
    """

    def __init__(
        self, registry: SchemaRegistry, mode: IdMode = "register", versions: Mapping[str, SchemaVersion] | None = None
    ) -> None:
        if versions and mode != "lookup":
            raise ValueError("schema versions are pinned in lookup mode only (schema_ids='lookup')")
        self.registry = registry
        self.mode = mode
        self.versions: dict[str, SchemaVersion] = dict(versions or {})
        self._ids: dict[tuple[str, str], int] = {}
        self._by_id: dict[int, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def id_for(self, subject: str, schema: str, schema_type: str) -> int:
        key = (subject, schema)
        found = self._ids.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._ids:
                if self.mode == "register":
                    self._ids[key] = self.registry.register_schema(subject, schema, schema_type)
                else:
                    version = version_for(self.versions, subject)
                    if version is None:
                        self._ids[key] = self.registry.lookup_schema(subject, schema, schema_type)
                    else:
                        self._ids[key] = self.registry.lookup_version(subject, version, schema, schema_type)
                self._by_id.setdefault(self._ids[key], (schema_type, schema))
            return self._ids[key]

    def known_id(self, subject: str, schema: str) -> int | None:
        """The cached id, without asking the registry."""
        return self._ids.get((subject, schema))

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        found = self._by_id.get(schema_id)
        if found is None:
            found = self.registry.schema_by_id(schema_id)
            self._by_id[schema_id] = found
        return found
