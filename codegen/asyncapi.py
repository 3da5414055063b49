"""The catalog as an AsyncAPI 3.0 document: a pure function from the loaded project to JSON data.

One channel per live topic (its Kafka channel binding: partitions, replicas, topic configuration),
one message per channel whose payload is the schema text ``schemabus register`` registers for the
topic's value subject (:func:`registry_sync.plan`; Avro named types of other files are schema
references there, and components here), the key in the Kafka message binding, a ``send``
operation per topic and a ``receive`` operation per consumer group and topic of
``[tool.schemabus.asyncapi]``, and its servers. :func:`render` writes the document as YAML or JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import yaml_text
from .config import AsyncApiConfig, AsyncApiServer, Config
from .diagnostics import SchemaError, SchemaErrors, Source
from .ir import Project, Topic
from .registry_sync import SubjectSchema, plan

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
# Confluent's wire format: a magic byte and the 4-byte schema id before the payload, the subject
# named after the topic ({topic}-key, {topic}-value).
SCHEMA_ID_LOCATION = "payload"
SCHEMA_ID_ENCODING = "confluent"
LOOKUP_STRATEGY = "TopicNameStrategy"
CONTENT_TYPES = {"AVRO": "avro/binary", "JSON": "application/json"}
# The keys of components and of channel messages (AsyncAPI: ^[\w\d.\-_]+$).
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9_.-]")


def json_schema_format(draft: str) -> str:
    """The schemaFormat of a JSON Schema of ``draft`` (``draft-07``, ``2020-12``...)."""
    return f"application/schema+json;version={draft}"


def document(project: Project, config: Config) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``project`` (loaded from ``config``'s catalog). Raises
    SchemaErrors when a consumer group of ``[tool.schemabus.asyncapi]`` names a topic the catalog
    does not have (or has deleted)."""
    settings = config.asyncapi
    topics = [t for t in project.topics if not t.deleted]
    subjects = {s.subject: s for s in plan(project)}
    _check_consumers(settings, {t.name for t in topics})
    components: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    message_keys: dict[str, str] = {}
    for topic in topics:
        key, message = _message(topic, project, subjects, components)
        message_keys[topic.name] = key
        channels[topic.name] = _channel(topic, key, message)
    operations: dict[str, Any] = {}
    for topic in topics:
        operations[f"{topic.name}.send"] = _operation("send", topic, message_keys[topic.name])
    for group, names in settings.consumers:
        for name in names:
            operation = _operation("receive", _find(topics, name), message_keys[name])
            operation["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [group]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            }
            operations[f"{name}.receive.{group}"] = operation
    doc: dict[str, Any] = {"asyncapi": ASYNCAPI_VERSION, "info": _info(config)}
    if settings.servers:
        doc["servers"] = {s.name: _server(s) for s in settings.servers}
    doc["channels"] = channels
    doc["operations"] = operations
    if components:
        doc["components"] = {"schemas": dict(sorted(components.items()))}
    return doc


def render(doc: dict[str, Any], *, as_json: bool = False) -> str:
    """The document's text: YAML, or JSON (two-space indent); keys in the document's order."""
    if as_json:
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return yaml_text.dump(doc)


def _info(config: Config) -> dict[str, Any]:
    settings = config.asyncapi
    info: dict[str, Any] = {
        "title": settings.title or config.package,
        "version": settings.version or "0.0.0",
    }
    catalog = f"{config.schemas.rstrip('/')}/{config.catalog}"
    info["description"] = settings.description or (
        f"The Kafka topics of {catalog}: their messages, keys and settings, written by `schemabus asyncapi`."
    )
    return info


def _server(server: AsyncApiServer) -> dict[str, Any]:
    out: dict[str, Any] = {"host": server.host, "protocol": server.protocol}
    if server.description:
        out["description"] = server.description
    if server.schema_registry_url:
        out["bindings"] = {
            "kafka": {
                "schemaRegistryUrl": server.schema_registry_url,
                "schemaRegistryVendor": "confluent",
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return out


def _check_consumers(settings: AsyncApiConfig, topics: set[str]) -> None:
    errors = []
    for group, names in settings.consumers:
        for i, name in enumerate(names):
            if name not in topics:
                errors.append(
                    SchemaError(
                        Source("pyproject.toml", f"/tool/schemabus/asyncapi/consumers/{group}/{i}"),
                        f"consumer group {group!r} reads {json.dumps(name)}, which the catalog has no live topic of",
                    )
                )
    if errors:
        raise SchemaErrors(errors)


def _find(topics: list[Topic], name: str) -> Topic:
    return next(t for t in topics if t.name == name)


def _channel(topic: Topic, message_key: str, message: dict[str, Any]) -> dict[str, Any]:
    channel: dict[str, Any] = {"address": topic.name}
    if topic.doc:
        channel["description"] = topic.doc
    channel["messages"] = {message_key: message}
    binding: dict[str, Any] = {"partitions": topic.partitions}
    if topic.replication_factor is not None:
        binding["replicas"] = topic.replication_factor
    configuration: dict[str, Any] = {
        "cleanup.policy": topic.cleanup_policy.split(","),
        "retention.ms": topic.retention_ms,
    }
    configuration.update((name, _config_value(value)) for name, value in topic.configs)
    binding["topicConfiguration"] = configuration
    binding["bindingVersion"] = KAFKA_BINDING_VERSION
    channel["bindings"] = {"kafka": binding}
    return channel


def _config_value(text: str) -> Any:
    """A topic config as JSON: integers and booleans as such (the binding types them), else the text."""
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def _operation(action: str, topic: Topic, message_key: str) -> dict[str, Any]:
    channel = f"#/channels/{_pointer(topic.name)}"
    return {
        "action": action,
        "channel": {"$ref": channel},
        "messages": [{"$ref": f"{channel}/messages/{_pointer(message_key)}"}],
    }


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _message(
    topic: Topic, project: Project, subjects: dict[str, SubjectSchema], components: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The key of the topic's message in its channel, and the message."""
    value = subjects[topic.value_subject]
    name = _message_name(value, project)
    message: dict[str, Any] = {"name": name}
    if topic.doc:
        message["summary"] = topic.doc
    message["contentType"] = CONTENT_TYPES[value.schema_type]
    message["payload"] = _multi_format(value, project)
    binding: dict[str, Any] = {}
    if topic.key is not None:
        if topic.key.kind == "string":
            binding["key"] = {"type": "string", "description": "A UTF-8 string."}
        else:
            key = subjects[topic.key_subject]
            binding["key"] = _key_schema(key, project)
            key_references = _add_references(key, project, subjects, components)
            if key_references:
                binding["key"]["x-schemaReferences"] = key_references
    binding.update(
        schemaIdLocation=SCHEMA_ID_LOCATION,
        schemaIdPayloadEncoding=SCHEMA_ID_ENCODING,
        schemaLookupStrategy=LOOKUP_STRATEGY,
        bindingVersion=KAFKA_BINDING_VERSION,
    )
    message["bindings"] = {"kafka": binding}
    references = _add_references(value, project, subjects, components)
    if references:
        message["payload"]["x-schemaReferences"] = references
    return _UNSAFE_KEY.sub("_", name), message


def _message_name(schema: SubjectSchema, project: Project) -> str:
    if schema.schema_type == "JSON":
        return project.json[schema.file].title
    parsed = json.loads(schema.text)
    return str(parsed["name"]).rpartition(".")[2] if isinstance(parsed, dict) else schema.subject


def _schema_format(schema: SubjectSchema, project: Project) -> str:
    if schema.schema_type == "AVRO":
        return AVRO_FORMAT
    return json_schema_format(project.json[schema.file].draft.value)


def _multi_format(schema: SubjectSchema, project: Project) -> dict[str, Any]:
    """A Multi Format Schema Object holding the registered schema of ``schema``'s subject."""
    return {"schemaFormat": _schema_format(schema, project), "schema": _registered(schema)}


def _registered(schema: SubjectSchema) -> Any:
    """The registered text of a subject as JSON data: a JSON Schema as it is, an Avro schema with
    :func:`split_avro_names` (the same schema, as AsyncAPI's Avro schema spells names)."""
    parsed = json.loads(schema.text)
    return split_avro_names(parsed) if schema.schema_type == "AVRO" else parsed


_NAMED = ("record", "enum", "fixed")


def split_avro_names(schema: Any) -> Any:
    """An Avro schema whose named types spell their full names as ``name`` and ``namespace``.

    Avro reads ``{"name": "a.b.C"}`` and ``{"name": "C", "namespace": "a.b"}`` as the same full
    name, and the names nested in either take the same enclosing namespace; the AsyncAPI 3.0 Avro
    schema accepts only the second (a name without dots). An alias that starts with the type's own
    namespace loses it too (aliases are read relative to it). Defaults are data and stay as they are.
    """
    if isinstance(schema, list):
        return [split_avro_names(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    named = kind in _NAMED
    out: dict[str, Any] = {}
    namespace = None
    for key, value in schema.items():
        if named and key == "name" and isinstance(value, str) and "." in value:
            namespace, _, out["name"] = value.rpartition(".")
            out["namespace"] = namespace
        elif named and key == "namespace" and namespace is not None:
            continue  # a dotted name ignores it, as Avro does
        elif kind == "record" and key == "fields" and isinstance(value, list):
            out[key] = [
                {**f, "type": split_avro_names(f["type"])} if isinstance(f, dict) and "type" in f else f for f in value
            ]
        elif key in ("items", "values") or (key == "type" and isinstance(value, dict | list)):
            out[key] = split_avro_names(value)
        else:
            out[key] = value
    aliases = out.get("aliases")
    if named and namespace and isinstance(aliases, list):
        prefix = namespace + "."
        out["aliases"] = [
            a[len(prefix) :] if isinstance(a, str) and a.startswith(prefix) and "." not in a[len(prefix) :] else a
            for a in aliases
        ]
    return out


def _key_schema(schema: SubjectSchema, project: Project) -> dict[str, Any]:
    """The Kafka binding's key: an AsyncAPI Schema Object (binding 0.5.0 takes no other format, and
    its schema refuses a Reference Object there). A draft-07 JSON Schema is one as registered; any
    other key schema rides in the extensions ``x-schemaFormat`` and ``x-schema``."""
    parsed = _registered(schema)
    if _schema_format(schema, project) == json_schema_format("draft-07") and isinstance(parsed, dict):
        return dict(parsed)
    return {
        "description": f"The registered schema of subject {schema.subject} (in x-schema).",
        "x-schemaFormat": _schema_format(schema, project),
        "x-schema": parsed,
    }


def _add_references(
    schema: SubjectSchema, project: Project, subjects: dict[str, SubjectSchema], components: dict[str, Any]
) -> list[dict[str, Any]]:
    """The schema references of ``schema`` (Avro named types of other files, registered under their
    own subjects), each added to ``components`` with its own references; returns the list for
    ``x-schemaReferences``: reference name, subject, and a ``$ref`` to the component."""
    out = []
    for name, subject in schema.references:
        key = _UNSAFE_KEY.sub("_", subject)
        if key not in components:
            referenced = subjects[subject]
            component = _multi_format(referenced, project)
            components[key] = component
            nested = _add_references(referenced, project, subjects, components)
            if nested:
                component["x-schemaReferences"] = nested
        out.append({"name": name, "subject": subject, "$ref": f"#/components/schemas/{_pointer(key)}"})
    return out
