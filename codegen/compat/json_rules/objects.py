"""Objects: properties added or removed against the content model (open: no ``additionalProperties`` or
``true`` and no ``patternProperties``; partially open: a ``patternProperties`` or ``additionalProperties``
schema covers the name; closed otherwise), ``required``, ``additionalProperties``, ``dependencies``/
``dependentRequired``/``dependentSchemas``, ``minProperties``/``maxProperties``."""

from __future__ import annotations

import re

from .catalog import (
    DEPENDENCY_ARRAY_ADDED,
    DEPENDENCY_ARRAY_CHANGED,
    DEPENDENCY_ARRAY_EXTENDED,
    DEPENDENCY_SCHEMA_ADDED,
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    REQUIRED_ATTRIBUTE_ADDED,
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
    Difference,
)
from .common import Walk, add, additional, compatible, counts, permits, schema_of, show
from .schemas import Node, Schema


def compare_objects(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    _required(walk, out, original, update)
    _properties(walk, out, original, update)
    _dependencies(walk, out, original, update)
    keywords = ("additionalProperties", "additionalProperties")
    additional(walk, out, original, update, keywords, "PROPERTIES", "properties")
    counts(out, original, update, ("maxProperties", "MAX_PROPERTIES"), ("minProperties", "MIN_PROPERTIES"))


def _required(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o_props, u_props = _props(original), _props(update)
    o_req, u_req = _required_names(original), _required_names(update)
    for name in o_props:
        if name not in u_props:
            continue
        if name in o_req and name not in u_req:
            add(
                out,
                "REQUIRED_ATTRIBUTE_REMOVED",
                original.source.at("required", o_req[name]),
                f"the reader no longer requires {name!r}",
            )
        elif name in u_req and name not in o_req:
            where = update.source.at("required", u_req[name])
            if _has_default(update, name):
                add(
                    out,
                    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
                    where,
                    f"the reader requires {name!r}, with a default",
                )
            else:
                add(
                    out,
                    REQUIRED_ATTRIBUTE_ADDED,
                    where,
                    f"the reader requires {name!r} without a default, but the writer's data may omit it",
                )


def _has_default(schema: Schema, name: str) -> bool:
    node = _props(schema).get(name)
    if node is None:
        return False
    if isinstance(node.value, dict) and "default" in node.value:
        return True
    target = schema.loader.deref(node).value
    return isinstance(target, dict) and "default" in target


def _properties(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o_props, u_props = _props(original), _props(update)
    for name in [*o_props, *(n for n in u_props if n not in o_props)]:
        if name not in u_props:
            _property_removed(walk, out, original, update, name)
        elif name not in o_props:
            _property_added(walk, out, original, update, name)
        else:
            o = original.loader.load(o_props[name])
            u = update.loader.load(u_props[name])
            walk.compare(out, o, u)


def _property_removed(walk: Walk, out: list[Difference], original: Schema, update: Schema, name: str) -> None:
    # Only the reader's content model matters: it now decides what the writer's property meets.
    where = original.source.at("properties", name)
    writer_property = original.loader.load(_props(original)[name])
    if _open_object(update):
        add(
            out,
            "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
            where,
            f"the reader no longer declares {name!r}; its open content model still accepts it",
        )
        return
    covering = _covering_property(update, name)
    if covering is not None:
        label, node = covering
        sub = walk.trial(writer_property, update.loader.load(node))
        out.extend(sub)
        if compatible(sub):
            add(
                out,
                "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                where,
                f"the reader no longer declares {name!r}; its {label} accepts the writer's values",
            )
        else:
            add(
                out,
                PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                where,
                f"the reader no longer declares {name!r}, and its {label}, which now applies to it, does not "
                "accept all of the writer's values",
            )
    elif writer_property.kind == "false":
        add(
            out,
            "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            where,
            f"the reader drops {name!r}, which the writer forbade",
        )
    else:
        add(
            out,
            PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
            where,
            f"the reader drops {name!r} and allows no additional properties, so the writer's {name!r} is rejected",
        )


def _property_added(walk: Walk, out: list[Difference], original: Schema, update: Schema, name: str) -> None:
    # Only the writer's content model matters: it decides what its data may hold under the name.
    where = update.source.at("properties", name)
    reader_property = update.loader.load(_props(update)[name])
    if _open_object(original):
        if reader_property.kind == "any":
            add(
                out,
                "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
                where,
                f"the reader adds {name!r} with a schema that accepts any value",
            )
        else:
            add(
                out,
                PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
                where,
                f"the reader adds {name!r}, but the writer's open content model lets its data hold {name!r} "
                "with any value",
            )
        return
    covering = _covering_property(original, name)
    if covering is not None:
        label, node = covering
        sub = walk.trial(original.loader.load(node), reader_property)
        out.extend(sub)
        if compatible(sub):
            add(
                out,
                "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
                where,
                f"the reader adds {name!r}, accepting what the writer's {label} allowed for it",
            )
        else:
            add(
                out,
                PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
                where,
                f"the reader adds {name!r}, but does not accept all that the writer's {label} allowed for it",
            )
    # Closed and partially open content models alike: is the new property required?
    if name in _required_names(update):
        if _has_default(update, name):
            add(
                out,
                "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
                where,
                f"the reader adds required {name!r} with a default",
            )
        else:
            add(
                out,
                REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
                where,
                f"the reader adds {name!r} as required without a default, but the writer's data need not have it",
            )
    else:
        add(
            out,
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
            where,
            f"the reader adds optional {name!r}, which the writer's content model did not let its data hold freely",
        )


def _dependencies(walk: Walk, out: list[Difference], original: Schema, update: Schema) -> None:
    o_arrays, o_schemas = _deps(original)
    u_arrays, u_schemas = _deps(update)
    for name in [*o_arrays, *(n for n in u_arrays if n not in o_arrays)]:
        if name not in u_arrays:
            add(
                out,
                "DEPENDENCY_ARRAY_REMOVED",
                original.source.at(*o_arrays[name][0]),
                f"the reader drops the dependency of {name!r}",
            )
            continue
        if name not in o_arrays:
            add(
                out,
                DEPENDENCY_ARRAY_ADDED,
                update.source.at(*u_arrays[name][0]),
                f"the reader adds a dependency: with {name!r} present, {show(sorted(u_arrays[name][1]))} must be too",
            )
            continue
        o, u = o_arrays[name][1], u_arrays[name][1]
        where = update.source.at(*u_arrays[name][0])
        if o == u:
            continue
        if u >= o:
            add(
                out,
                DEPENDENCY_ARRAY_EXTENDED,
                where,
                f"with {name!r} present, the reader also demands {show(sorted(u - o))}",
            )
        elif o >= u:
            add(
                out,
                "DEPENDENCY_ARRAY_NARROWED",
                where,
                f"with {name!r} present, the reader no longer demands {show(sorted(o - u))}",
            )
        else:
            add(
                out,
                DEPENDENCY_ARRAY_CHANGED,
                where,
                f"with {name!r} present, the reader demands {show(sorted(u))} instead of {show(sorted(o))}",
            )
    for name in [*o_schemas, *(n for n in u_schemas if n not in o_schemas)]:
        if name not in u_schemas:
            add(
                out,
                "DEPENDENCY_SCHEMA_REMOVED",
                o_schemas[name].source,
                f"the reader drops the schema dependency of {name!r}",
            )
        elif name not in o_schemas:
            add(
                out,
                DEPENDENCY_SCHEMA_ADDED,
                u_schemas[name].source,
                f"the reader adds a schema that data with {name!r} must match",
            )
        else:
            walk.compare(out, original.loader.load(o_schemas[name]), update.loader.load(u_schemas[name]))


def _props(schema: Schema) -> dict[str, Node]:
    props = schema.node.get("properties")
    if not isinstance(props, dict):
        return {}
    return {name: Node(value, schema.source.at("properties", name), schema.base) for name, value in props.items()}


def _required_names(schema: Schema) -> dict[str, int]:
    """Required property names, with their index in ``required``."""
    required = schema.node.get("required")
    if not isinstance(required, list):
        return {}
    out: dict[str, int] = {}
    for i, name in enumerate(required):
        if isinstance(name, str):
            out.setdefault(name, i)
    return out


def _open_object(schema: Schema) -> bool:
    """Open content model: any property name may hold any value."""
    return (
        not schema.node.get("patternProperties")
        and schema_of(schema, "additionalProperties") is None
        and permits(schema, "additionalProperties")
    )


def _covering_property(schema: Schema, name: str) -> tuple[str, Node] | None:
    """Partially open content model: the pattern or additional properties schema that applies to ``name``."""
    patterns = schema.node.get("patternProperties")
    if isinstance(patterns, dict):
        for pattern, value in patterns.items():
            try:
                matches = re.search(pattern, name) is not None
            except re.error:
                matches = False
            if matches:
                return f"patternProperties {pattern!r}", Node(
                    value, schema.source.at("patternProperties", pattern), schema.base
                )
    additional = schema_of(schema, "additionalProperties")
    return ("additionalProperties schema", additional) if additional is not None else None


def _deps(schema: Schema) -> tuple[dict[str, tuple[tuple[str, ...], frozenset[str]]], dict[str, Node]]:
    """Property dependencies (name -> (pointer parts, names)) and schema dependencies (name -> node)."""
    arrays: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
    schemas: dict[str, Node] = {}
    for keyword in ("dependencies", "dependentRequired", "dependentSchemas"):
        deps = schema.node.get(keyword)
        if not isinstance(deps, dict):
            continue
        for name, value in deps.items():
            if isinstance(value, list) and keyword != "dependentSchemas":
                arrays.setdefault(name, ((keyword, name), frozenset(v for v in value if isinstance(v, str))))
            elif isinstance(value, dict | bool) and keyword != "dependentRequired":
                schemas.setdefault(name, Node(value, schema.source.at(keyword, name), schema.base))
    return arrays, schemas
