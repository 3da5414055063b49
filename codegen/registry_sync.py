"""The catalog and a Confluent-API schema registry: register every subject, or check against it.

Subjects are ``{topic}-key`` / ``{topic}-value``. An Avro schema that uses named types defined in
other files is registered with references: each such file is registered first under the full name
of its top-level type, and the referencing schema names it (Confluent's schema references). JSON
Schema files are registered as one self-contained document (referenced files embedded under
``$defs`` by their ``$id``), which every registry resolves the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .compat.avro_rules import AvroVersion
from .compat.avro_rules import can_read as avro_can_read
from .compat.findings import Finding
from .compat.json_rules import JsonVersion
from .compat.json_rules import can_read as json_can_read
from .compat.levels import Version, check_level
from .diagnostics import SchemaError, Source
from .ir import NamedRef, Project, SchemaUse
from .load.avro import canonical_json, load_avro_files
from .options import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from schemabus.runtime.registry_client import ConfluentRegistry

T = TypeVar("T")

ENV_REGISTRY = "SCHEMABUS_REGISTRY_URL"
ENV_BASIC_AUTH = "SCHEMABUS_REGISTRY_BASIC_AUTH"  # "user:password"


class RegistryError(SchemaError):
    """The registry refused a request (or its configuration is wrong); printed as an error (exit 2).

    An unreachable registry raises the runtime's RegistryUnavailableError instead (one line naming the
    registry, the request, how long it was tried and the last error; exit 2 as well)."""

    def __init__(self, message: str) -> None:
        super().__init__(Source("registry"), message)


_REQUEST_TIMEOUT = 10.0  # one HTTP request at most (and at most the whole --timeout)


def client(url: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> ConfluentRegistry:
    """The registry at ``url`` (default: ``$SCHEMABUS_REGISTRY_URL``), with basic auth from
    ``$SCHEMABUS_REGISTRY_BASIC_AUTH`` ("user:password"); an unreachable registry is retried for
    ``timeout`` seconds."""
    from schemabus.runtime.config import RegistryConfig
    from schemabus.runtime.errors import ConfigError
    from schemabus.runtime.registry_client import ConfluentRegistry

    url = url or os.environ.get(ENV_REGISTRY)
    if not url:
        raise RegistryError(f"no registry: pass --registry-url or set {ENV_REGISTRY}")
    values: dict[str, Any] = {"url": url, "timeout_s": min(_REQUEST_TIMEOUT, timeout), "retry_timeout_s": timeout}
    user, sep, password = os.environ.get(ENV_BASIC_AUTH, "").partition(":")
    if sep:
        values.update(basic_auth_user=user, basic_auth_password=password)
    try:
        config = RegistryConfig(**values)
    except ConfigError as e:
        raise RegistryError(str(e)) from None
    return ConfluentRegistry(config)


def _request(registry: ConfluentRegistry, what: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T | None:
    """``fn()`` (a request of ``registry.client``) with the registry's retries. A refusal becomes one
    RegistryError line; with ``missing_ok`` a 404 answer is None. An unreachable registry raises
    RegistryUnavailableError."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        return registry.call(what, fn)
    except SchemaRegistryError as e:
        if missing_ok and e.http_status_code == 404:
            return None
        raise RegistryError(
            f"{what}: HTTP {e.http_status_code} (error {e.error_code}) from {registry.url}: {e.error_message}"
        ) from None


def _found(value: T | None) -> T:
    assert value is not None  # requests without missing_ok never answer None
    return value


@dataclass(frozen=True)
class SubjectSchema:
    """What is registered under a subject: its type, text, and the subjects it references."""

    subject: str
    schema_type: str
    text: str
    references: tuple[tuple[str, str], ...] = ()  # (reference name, subject)
    level: str | None = None  # the catalog's compatibility level (None for reference subjects)
    file: str = ""


def plan(project: Project) -> list[SubjectSchema]:
    """Every subject to register, dependencies first."""
    out: dict[str, SubjectSchema] = {}

    def avro_subject(file: str, subject: str | None, level: str | None) -> str:
        schema = project.avro[file]
        root = schema.root
        own = subject or (root.fullname if isinstance(root, NamedRef) else file)
        references = []
        for dep_file in sorted({project.named[name].source.file for name in schema.dependencies}):
            references.append((_root_name(project, dep_file), avro_subject(dep_file, None, None)))
        text = canonical_json(root, project.named, home=file)
        out.setdefault(own, SubjectSchema(own, "AVRO", text, tuple(references), level, file))
        return own

    for topic in project.topics:
        if topic.deleted:
            continue
        uses: list[tuple[str, SchemaUse]] = [(topic.value_subject, topic.value)]
        if topic.key is not None and topic.key.kind != "string":
            uses.append((topic.key_subject, topic.key))
        for subject, use in uses:
            assert use.file is not None
            if use.kind == "avro":
                avro_subject(use.file, subject, topic.compatibility)
            else:
                schema = project.json[use.file]
                out[subject] = SubjectSchema(subject, "JSON", schema.bundled, (), topic.compatibility, use.file)
    return list(out.values())


def _root_name(project: Project, file: str) -> str:
    root = project.avro[file].root
    return root.fullname if isinstance(root, NamedRef) else file


@dataclass
class RegisterResult:
    lines: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def register(project: Project, registry: ConfluentRegistry, *, dry_run: bool) -> RegisterResult:
    """Register every subject (and set the catalog's compatibility level on topic subjects)."""
    from confluent_kafka.schema_registry import Schema, SchemaReference
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    api = registry.client
    result = RegisterResult()
    versions: dict[str, int] = {}
    for s in plan(project):
        refs = [SchemaReference(name, subj, versions.get(subj)) for name, subj in s.references]
        schema = Schema(s.text, s.schema_type, refs)
        if s.level:
            what = f"read the compatibility level of subject {s.subject!r}"
            current = _request(registry, what, partial(api.get_compatibility, s.subject), missing_ok=True)
            if current != s.level:
                if not dry_run:
                    _request(
                        registry,
                        f"set the compatibility level of subject {s.subject!r} to {s.level}",
                        partial(api.set_compatibility, subject_name=s.subject, level=s.level),
                    )
                result.lines.append(f"{s.subject}: compatibility {current or 'unset'} -> {s.level}")
        what = f"look up the schema of subject {s.subject!r}"
        found = _request(registry, what, partial(api.lookup_schema, s.subject, schema), missing_ok=True)
        if found is not None:
            versions[s.subject] = found.version
            result.lines.append(f"{s.subject}: already registered (id {found.schema_id}, version {found.version})")
            continue
        if dry_run:
            ok = True
            if _has_versions(registry, s.subject):
                what = f"test the compatibility of a new version of subject {s.subject!r}"
                ok = bool(_request(registry, what, partial(api.test_compatibility, s.subject, schema)))
            verdict = "would register a new version" if ok else "would be refused as incompatible"
            result.lines.append(f"{s.subject}: {verdict} ({s.file})")
            if not ok:
                result.refused.append(s.subject)
            continue
        try:
            schema_id = registry.call(
                f"register a schema under subject {s.subject!r}",
                partial(api.register_schema, s.subject, schema),
            )
        except SchemaRegistryError as e:
            if e.http_status_code != 409:
                raise RegistryError(
                    f"register a schema under subject {s.subject!r}: HTTP {e.http_status_code} "
                    f"(error {e.error_code}) from {registry.url}: {e.error_message}"
                ) from None
            result.refused.append(s.subject)
            result.lines.append(f"{s.subject}: refused as incompatible by the registry ({s.file})")
            continue
        what = f"read the registered version of subject {s.subject!r}"
        versions[s.subject] = _found(_request(registry, what, partial(api.lookup_schema, s.subject, schema))).version
        result.lines.append(f"{s.subject}: registered (id {schema_id}, version {versions[s.subject]})")
    return result


def _versions(registry: ConfluentRegistry, subject: str) -> list[int]:
    """The version numbers of ``subject`` (none when the registry does not know it)."""
    found = _request(
        registry,
        f"list the versions of subject {subject!r}",
        lambda: registry.client.get_versions(subject),
        missing_ok=True,
    )
    return sorted(found or [])


def _has_versions(registry: ConfluentRegistry, subject: str) -> bool:
    return bool(_versions(registry, subject))


def check_against_registry(
    project: Project,
    avro_files: list[tuple[str, str]],
    registry: ConfluentRegistry,
    prefix: str,
    level_override: str | None,
) -> list[Finding]:
    """Every topic subject of the working tree against the versions the registry holds.

    ``avro_files`` are the working tree's ``.avsc`` texts (paths relative to the schemas dir).
    """
    findings: list[Finding] = []
    texts_cache: dict[tuple[str, int], Any] = {}

    def fetch(subject: str, version: int) -> Any:
        if (subject, version) not in texts_cache:
            texts_cache[(subject, version)] = _request(
                registry,
                f"read version {version} of subject {subject!r}",
                lambda: registry.client.get_version(subject, version),
            )
        return texts_cache[(subject, version)]

    def avro_texts(subject: str, version: int, seen: set[tuple[str, int]]) -> list[tuple[str, str]]:
        registered = fetch(subject, version)
        out: list[tuple[str, str]] = []
        for ref in registered.schema.references or []:
            if (ref.subject, ref.version) not in seen:
                seen.add((ref.subject, ref.version))
                out += avro_texts(ref.subject, ref.version, seen)
        return [*out, (f"registry:{subject}/versions/{version}", registered.schema.schema_str)]

    named, avro = load_avro_files([(prefix + f, text) for f, text in avro_files])
    for s in plan(project):
        if s.level is None:
            continue
        level = level_override or s.level
        numbers = _versions(registry, s.subject)
        if not numbers:
            continue
        display = prefix + s.file
        if s.schema_type == "AVRO":
            past_avro = []
            for n in numbers:
                texts = avro_texts(s.subject, n, set())
                past_avro.append(Version(texts[-1][0], AvroVersion.load(texts, texts[-1][0])))
            new_avro = Version(display, AvroVersion(avro[display].root, named))
            findings += check_level(level, new_avro, past_avro, avro_can_read)
        else:
            past_json = []
            for n in numbers:
                label = f"registry:{s.subject}/versions/{n}"
                past_json.append(Version(label, JsonVersion(label, json.loads(fetch(s.subject, n).schema.schema_str))))
            new_json = Version(display, JsonVersion(display, json.loads(s.text)))
            findings += check_level(level, new_json, past_json, json_can_read)
    return findings
