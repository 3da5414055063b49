"""Lint rules for Avro schemas: defaults, namespaces, aliases (one function per rule)."""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..diagnostics import Source
from ..ir import Array, AvroType, Enum, Field, Map, NamedRef, NamedType, Record, Union
from .base import Hit, LintContext, named_refs, quoted, rule, strip_logical


@rule("FIELD_DEFAULT", 'A nullable (union with "null") Avro field has the default null, so it is optional.')
def field_default(ctx: LintContext) -> Iterator[Hit]:
    for record in ctx.records():
        for f in record.fields:
            t = f.type
            if not isinstance(t, Union) or t.null_index is None or len(t.branches) < 2:
                continue
            if not f.has_default:
                if t.null_index == 0:
                    yield Hit(f.source, f'nullable field "{f.name}" has no default')
                else:
                    yield Hit(
                        f.source,
                        f'nullable field "{f.name}" has no default and "null" is not the first branch of its union',
                    )
            elif f.default is not None:
                yield Hit(
                    f.source.at("default"), f'nullable field "{f.name}" has default {quoted(f.default)}, not null'
                )


@rule(
    "ALL_FIELDS_DEFAULT",
    "Every field of a topic's Avro value has a default, so any field can be removed later (FORWARD/FULL).",
    default=False,
)
def all_fields_default(ctx: LintContext) -> Iterator[Hit]:
    # Records reachable from the value schemas of the catalog's topics; key schemas are exempt
    # (a key's fields are its identity, not optional data).
    roots = [
        ctx.project.avro[use.file].root
        for _, part, use in ctx.topic_uses()
        if part == "value" and use.kind == "avro" and use.file
    ]
    seen: set[str] = set()
    queue = [ref.fullname for root in roots for ref in named_refs(root)]
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        n = ctx.project.named[name]
        if not isinstance(n, Record):
            continue
        for f in n.fields:
            if not f.has_default:
                yield Hit(f.source, f'field "{f.name}" has no default')
            queue += [ref.fullname for ref in named_refs(f.type)]


@rule("ENUM_DEFAULT", "An Avro enum has a default, so readers map symbols added later to it instead of failing.")
def enum_default(ctx: LintContext) -> Iterator[Hit]:
    for n in ctx.project.named.values():
        if isinstance(n, Enum) and n.default is None:
            yield Hit(n.source, f'enum "{n.name}" has no default')


def _kind(n: NamedType) -> str:
    return "record" if isinstance(n, Record) else "enum" if isinstance(n, Enum) else "fixed"


@rule(
    "NAMESPACE_CONSISTENT",
    "Avro namespaces are one common prefix plus the file's directory (agent/lifecycle/x.avsc: prefix.agent.lifecycle).",
)
def namespace_consistent(ctx: LintContext) -> Iterator[Hit]:
    # Each file's named types, in definition order: an enclosing type comes before the types inside it.
    by_file: dict[str, list[NamedType]] = {}
    for n in ctx.project.named.values():
        by_file.setdefault(n.source.file, []).append(n)

    def directory(file: str) -> str:
        return posixpath.dirname(file).replace("/", ".")

    def prefix_of(namespace: str, file: str) -> str | None:
        d = directory(file)
        if not d:
            return namespace
        if namespace == d:
            return ""
        return namespace[: -len(d) - 1] if namespace.endswith("." + d) else None

    prefix = ctx.namespace_prefix
    configured = prefix is not None
    if prefix is None:
        # The prefix most files use (a file counts once per prefix); ties go to the first file.
        counts: Counter[str] = Counter()
        for file in sorted(by_file):
            for p in dict.fromkeys(prefix_of(n.namespace, file) for n in by_file[file]):
                if p is not None:
                    counts[p] += 1
        prefix = max(counts, key=lambda p: counts[p], default=None)  # Counter keeps first-seen order on ties

    for file in sorted(by_file):
        d = directory(file)
        reported: set[str] = set()
        for n in by_file[file]:
            if n.namespace in reported:
                continue
            reported.add(n.namespace)
            where = _namespace_source(ctx, n)
            if prefix is None:
                if prefix_of(n.namespace, file) is None:
                    yield Hit(where, f'namespace "{n.namespace}" does not end with "{d}", the file\'s directory')
                continue
            expected = ".".join(p for p in (prefix, d) if p)
            if n.namespace == expected:
                continue
            how = "the configured prefix" if configured else "the prefix the other files use"
            if not n.namespace:
                yield Hit(
                    where,
                    f'{_kind(n)} "{n.name}" has no namespace, expected "{expected}" ({how} and the file\'s directory)',
                )
            else:
                yield Hit(where, f'namespace "{n.namespace}" is not "{expected}" ({how} and the file\'s directory)')


def _namespace_source(ctx: LintContext, n: NamedType) -> Source:
    """Where a named type's namespace is written: its "namespace", a dotted "name", or the type itself."""
    node = ctx.node_at(n.source)
    if isinstance(node, dict):
        if "namespace" in node:
            return n.source.at("namespace")
        if "." in str(node.get("name", "")):
            return n.source.at("name")
    return n.source


@rule(
    "FIELD_ALIAS_COLLISION",
    "An Avro field alias is not the field's own name or another field's name (Java's SchemaCompatibility "
    "throws: the field matches two writer fields), nor another field's alias (both would read one old field).",
    severity="error",
)
def field_alias_collision(ctx: LintContext) -> Iterator[Hit]:
    for record in ctx.records():
        names = {f.name for f in record.fields}
        alias_owner: dict[str, str] = {}
        for f in record.fields:
            for alias in dict.fromkeys(f.aliases):  # a repeated alias is harmless: Java keeps a set
                where = f.source.at("aliases", f.aliases.index(alias))
                if alias == f.name:
                    yield Hit(where, f'alias "{alias}" of field "{f.name}" is the field\'s own name')
                elif alias in names:
                    yield Hit(where, f'alias "{alias}" of field "{f.name}" is the name of another field')
                elif alias in alias_owner:
                    yield Hit(
                        where, f'alias "{alias}" of field "{f.name}" is also an alias of field "{alias_owner[alias]}"'
                    )
                else:
                    alias_owner[alias] = f.name


@rule(
    "RECURSIVE_RECORD_DEFAULT",
    "A field default holds no value of a record that is still being defined around it (Java's parser rejects it).",
    severity="error",
)
def recursive_record_default(ctx: LintContext) -> Iterator[Hit]:
    records = list(ctx.records())
    for record in records:
        for f in record.fields:
            if not f.has_default:
                continue
            # Java validates a default as soon as its field is parsed: the records whose definitions
            # enclose the field have no fields yet, and validating a value for one of them throws.
            open_records = {
                r.fullname
                for r in records
                if r.source.file == f.source.file and f.source.pointer.startswith(r.source.pointer + "/")
            }
            found = _open_record_value(ctx, f.type, f.default, f.source.at("default"), open_records, set())
            if found is not None:
                where, name = found
                yield Hit(
                    where,
                    f'default of field "{f.name}" holds a value of record "{name.rpartition(".")[2]}", '
                    "which is still being defined there",
                )


def _open_record_value(
    ctx: LintContext, t: AvroType, value: Any, where: Source, open_records: set[str], seen: set[tuple[str, int]]
) -> tuple[Source, str] | None:
    """The first place in a default value that is a value of an open record (walked as Java does)."""
    t = strip_logical(t)
    if isinstance(t, Union):
        return _open_record_value(ctx, t.branches[0], value, where, open_records, seen)
    if isinstance(t, Array) and isinstance(value, list):
        for i, v in enumerate(value):
            found = _open_record_value(ctx, t.items, v, where.at(i), open_records, seen)
            if found:
                return found
    elif isinstance(t, Map) and isinstance(value, dict):
        for k, v in value.items():
            found = _open_record_value(ctx, t.values, v, where.at(k), open_records, seen)
            if found:
                return found
    elif isinstance(t, NamedRef) and isinstance(value, dict):
        n = ctx.project.named.get(t.fullname)
        if not isinstance(n, Record):
            return None
        if n.fullname in open_records:
            return where, n.fullname
        key = (n.fullname, id(value))
        if key in seen:
            return None
        seen.add(key)
        for f in n.fields:
            found = _field_value(ctx, f, value, where, open_records, seen)
            if found:
                return found
    return None


def _field_value(
    ctx: LintContext, f: Field, value: dict[str, Any], where: Source, open_records: set[str], seen: set[tuple[str, int]]
) -> tuple[Source, str] | None:
    if f.name in value:
        return _open_record_value(ctx, f.type, value[f.name], where.at(f.name), open_records, seen)
    if f.has_default:  # Java validates the field's own default in its place
        return _open_record_value(ctx, f.type, f.default, where, open_records, seen)
    return None
