"""``[tool.schemabus]`` in pyproject.toml: where schemas are, where generated code goes, defaults;
``[tool.schemabus.lint]``: which lint rules run (see :mod:`schemabus.codegen.lint`);
``[tool.schemabus.asyncapi]``: what the AsyncAPI document says beyond the catalog (servers, consumer
groups; see :mod:`schemabus.codegen.asyncapi`)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .diagnostics import SchemaError, Source
from .load.json_drafts import Draft, known_drafts, parse_draft


@dataclass(frozen=True)
class LintConfig:
    """``[tool.schemabus.lint]``. Tuples, not sets: the settings are hashed into generate's fingerprint."""

    select: tuple[str, ...] | None = None  # the rules to start from; None: the rules enabled by default
    enable: tuple[str, ...] = ()  # added to the selection
    disable: tuple[str, ...] = ()  # removed from it (wins over select and enable)
    # (glob relative to the project root, rule IDs not reported for files it matches)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    namespace_prefix: str | None = None  # NAMESPACE_CONSISTENT's prefix; None: the one most files use


@dataclass(frozen=True)
class AsyncApiServer:
    """A server of ``[tool.schemabus.asyncapi.servers.<name>]``: a Kafka cluster the document names."""

    name: str
    host: str  # host[:port], no scheme
    protocol: str = "kafka"  # "kafka", or "kafka-secure" (TLS)
    description: str | None = None
    schema_registry_url: str | None = None


@dataclass(frozen=True)
class AsyncApiConfig:
    """``[tool.schemabus.asyncapi]``: the document's info, servers and the consumer groups a project
    declares (group -> topics it reads). Tuples, as in :class:`LintConfig`."""

    title: str | None = None  # None: [project].name, else the package name
    version: str | None = None  # None: [project].version, else "0.0.0"
    description: str | None = None
    servers: tuple[AsyncApiServer, ...] = ()
    consumers: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Config:
    """Settings of one project; paths are relative to the directory of pyproject.toml."""

    root: Path
    schemas: str = "schemas"
    catalog: str = "catalog.toml"  # relative to ``schemas``
    output: str = "generated"  # the source root the package is written into
    package: str = "events"
    line_length: int = 120
    # The JSON Schema draft of a file without "$schema": draft-07, as Confluent's serializers assume.
    json_schema_draft: str = "draft-07"
    lint: LintConfig = field(default_factory=LintConfig)
    asyncapi: AsyncApiConfig = field(default_factory=AsyncApiConfig)

    @property
    def schemas_dir(self) -> Path:
        return self.root / self.schemas

    @property
    def package_dir(self) -> Path:
        return self.root / self.output / self.package

    @property
    def default_draft(self) -> Draft:
        draft = parse_draft(self.json_schema_draft)
        assert draft is not None  # load_config checked it
        return draft


_KEYS = {f.name for f in fields(Config)} - {"root"}


def find_pyproject(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / "pyproject.toml").is_file():
            return d / "pyproject.toml"
    return None


def load_config(pyproject: Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read ``[tool.schemabus]``; unknown keys are rejected with their name."""
    values: dict[str, Any] = {}
    root = Path.cwd()
    if pyproject is not None:
        root = pyproject.parent
        src = Source(pyproject.name)
        try:
            doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise SchemaError(src, f"invalid TOML: {e}") from None
        section = doc.get("tool", {}).get("schemabus", {})
        for key, value in section.items():
            if key == "lint":
                values[key] = _lint_config(value, src.at("tool", "schemabus", "lint"))
                continue
            if key == "asyncapi":
                continue  # below: its defaults come from [project] whether it is there or not
            if key not in _KEYS:
                raise SchemaError(
                    src.at("tool", "schemabus", key),
                    f'unknown key "{key}" in [tool.schemabus] (known: {", ".join(sorted(_KEYS))})',
                )
            expected = type(getattr(Config, key))
            if not isinstance(value, expected) or isinstance(value, bool):
                raise SchemaError(src.at("tool", "schemabus", key), f"{key} must be a {expected.__name__}")
            values[key] = value
        asyncapi_src = src.at("tool", "schemabus", "asyncapi")
        values["asyncapi"] = _asyncapi_config(section.get("asyncapi", {}), asyncapi_src, doc.get("project"))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    draft = values.get("json_schema_draft", Config.json_schema_draft)
    if parse_draft(draft) is None:
        raise SchemaError(
            Source("pyproject.toml", "/tool/schemabus/json_schema_draft"),
            f"unknown JSON Schema draft {draft!r} (known: {known_drafts()})",
        )
    package = values.get("package", Config.package)
    if not str(package).isidentifier():
        raise SchemaError(
            Source("pyproject.toml", "/tool/schemabus/package"), f"package {package!r} is not a Python identifier"
        )
    return Config(root=root, **values)


_LINT_KEYS = {
    "select": "select",
    "enable": "enable",
    "disable": "disable",
    "per-file-ignores": "per_file_ignores",
    "namespace-prefix": "namespace_prefix",
}


def _lint_config(section: Any, src: Source) -> LintConfig:
    """Read ``[tool.schemabus.lint]``; unknown keys and unknown rule IDs are rejected with their names."""
    if not isinstance(section, dict):
        raise SchemaError(src, "lint must be a table ([tool.schemabus.lint])")
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in _LINT_KEYS:
            raise SchemaError(
                src.at(key), f'unknown key "{key}" in [tool.schemabus.lint] (known: {", ".join(sorted(_LINT_KEYS))})'
            )
        if key == "per-file-ignores":
            if not isinstance(value, dict):
                raise SchemaError(
                    src.at(key), "per-file-ignores must be a table of glob patterns to arrays of rule IDs"
                )
            values[_LINT_KEYS[key]] = tuple(
                (pattern, _rule_ids(ids, src.at(key, pattern), f'per-file-ignores "{pattern}"'))
                for pattern, ids in value.items()
            )
        elif key == "namespace-prefix":
            if not isinstance(value, str) or (value and not all(_AVRO_NAME.fullmatch(p) for p in value.split("."))):
                raise SchemaError(src.at(key), "namespace-prefix must be an Avro namespace (dotted names) or empty")
            values[_LINT_KEYS[key]] = value
        else:
            values[_LINT_KEYS[key]] = _rule_ids(value, src.at(key), key)
    return LintConfig(**values)


_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _rule_ids(value: Any, src: Source, what: str) -> tuple[str, ...]:
    from .lint import RULES  # the lint rules register on import; config is read without them otherwise

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SchemaError(src, f"{what} must be an array of rule IDs")
    for i, rule_id in enumerate(value):
        if rule_id not in RULES:
            raise SchemaError(src.at(i), f'unknown rule "{rule_id}" (known: {", ".join(sorted(RULES))})')
    return tuple(value)


_ASYNCAPI_KEYS = ("title", "version", "description", "servers", "consumers")
_SERVER_KEYS = ("host", "protocol", "description", "schema_registry_url")
_SERVER_PROTOCOLS = ("kafka", "kafka-secure")
# Consumer group ids and server names become keys of the document (AsyncAPI allows [A-Za-z0-9_.-]).
_DOCUMENT_KEY = re.compile(r"[A-Za-z0-9_.-]+")


def _asyncapi_config(section: Any, src: Source, project: Any) -> AsyncApiConfig:
    """Read ``[tool.schemabus.asyncapi]``; unknown keys are rejected with their names. The title and
    version default to ``[project]``'s name and version."""
    if not isinstance(section, dict):
        raise SchemaError(src, "asyncapi must be a table ([tool.schemabus.asyncapi])")
    for key in section:
        if key not in _ASYNCAPI_KEYS:
            raise SchemaError(
                src.at(key),
                f'unknown key "{key}" in [tool.schemabus.asyncapi] (known: {", ".join(sorted(_ASYNCAPI_KEYS))})',
            )
    project = project if isinstance(project, dict) else {}
    values: dict[str, Any] = {}
    for key, default in (("title", project.get("name")), ("version", project.get("version")), ("description", None)):
        value = section.get(key, default)
        if key in section and (not isinstance(value, str) or not value.strip()):
            raise SchemaError(src.at(key), f"{key} must be a non-empty string")
        values[key] = value if isinstance(value, str) and value.strip() else None
    servers = section.get("servers", {})
    if not isinstance(servers, dict):
        raise SchemaError(src.at("servers"), "servers must be a table of server names to tables (host, protocol)")
    values["servers"] = tuple(_server(name, spec, src.at("servers", name)) for name, spec in servers.items())
    consumers = section.get("consumers", {})
    if not isinstance(consumers, dict):
        raise SchemaError(src.at("consumers"), "consumers must be a table of consumer groups to arrays of topics")
    groups = []
    for group, topics in consumers.items():
        if not _DOCUMENT_KEY.fullmatch(group):
            raise SchemaError(
                src.at("consumers", group), f"consumer group {group!r} may hold only letters, digits, '.', '_', '-'"
            )
        if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
            raise SchemaError(src.at("consumers", group), f"consumer group {group!r} needs an array of topic names")
        if len(set(topics)) != len(topics):
            raise SchemaError(src.at("consumers", group), f"consumer group {group!r} names a topic twice")
        groups.append((group, tuple(topics)))
    values["consumers"] = tuple(groups)
    return AsyncApiConfig(**values)


def _server(name: str, spec: Any, src: Source) -> AsyncApiServer:
    if not _DOCUMENT_KEY.fullmatch(name):
        raise SchemaError(src, f"server name {name!r} may hold only letters, digits, '.', '_', '-'")
    if not isinstance(spec, dict):
        raise SchemaError(src, f'server {name!r} must be a table (host = "localhost:9092")')
    for key in spec:
        if key not in _SERVER_KEYS:
            raise SchemaError(
                src.at(key),
                f'unknown key "{key}" in [tool.schemabus.asyncapi.servers.{name}] '
                f"(known: {', '.join(sorted(_SERVER_KEYS))})",
            )
    for key, value in spec.items():
        if not isinstance(value, str) or not value.strip():
            raise SchemaError(src.at(key), f"{key} must be a non-empty string")
    if "host" not in spec:
        raise SchemaError(src, f'server {name!r} needs a host ("host:port", no scheme)')
    if "://" in spec["host"]:
        raise SchemaError(src.at("host"), 'host is "host:port", without a scheme (the protocol says it)')
    protocol = spec.get("protocol", "kafka")
    if protocol not in _SERVER_PROTOCOLS:
        raise SchemaError(src.at("protocol"), f"protocol must be one of {', '.join(_SERVER_PROTOCOLS)}")
    return AsyncApiServer(name, spec["host"], protocol, spec.get("description"), spec.get("schema_registry_url"))
