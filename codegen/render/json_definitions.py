"""The definitions of the JSON models: a class per object, a ``RootModel`` per other root, an alias
per other named schema, and an order of them that imports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import naming
from .json_names import JsonNames
from .json_schemas import JsonSchemas, Key, assertions, doc, property_pointer
from .json_types import JSON_VALUE, JsonTypes


@dataclass
class Definition:
    name: str
    kind: str  # "class" | "alias" | "root"
    file: str  # the schema file it is defined in
    lines: list[str]
    bases: list[str] = field(default_factory=list)  # classes it derives from (defined before it)
    uses: set[str] = field(default_factory=set)  # named definitions its text mentions
    root_type: str = ""  # a RootModel's type
    wires: set[str] = field(default_factory=set)  # a class's properties (JSON names), its bases' too


class JsonDefinitions:
    """Every definition of the module, each rendered once, with the names its text uses."""

    def __init__(self, schemas: JsonSchemas, names: JsonNames) -> None:
        self.schemas = schemas
        self.names = names
        self.types = JsonTypes(schemas, self)
        self._definitions: dict[str, Definition] = {}
        self._current: Definition | None = None
        self._wrapping: Key | None = None  # the root a RootModel is being made for
        self._pending: list[Key] = []

    def defines(self, name: str) -> bool:
        return name in self._definitions

    def root(self, file: str) -> str:
        """The model class of a file's root: its own class, the class a root ``$ref`` names, or a
        ``RootModel`` around any other type."""
        schema = self.schemas.files[file].normalized
        key: Key = (file, "")
        target = self.schemas.class_target(key, schema)
        if target is not None:
            return self.define(target)
        name = self.names.located(key)
        if name not in self._definitions:
            definition = self._begin(name, "root", file)
            self._wrapping = key
            expr = self.types.type_of(schema, key, name, root=True)
            self._wrapping = None
            definition.root_type = expr
            self._finish(
                [
                    f"class {name}(_pd.RootModel[{expr}]):",
                    f"    {naming.docstring(doc(schema) or _default_doc(file))}",
                ]
            )
        return name

    def define(self, key: Key) -> str:
        """Render the named schema at ``key`` (once) and return its name."""
        name = self.names.located(key)
        if name in self._definitions:
            return name
        schema = self.schemas.schema_at(key)
        if self.schemas.is_class(schema, key):
            self._class(name, schema, key)
        else:
            self._begin(name, "alias", key[0])
            expr = self.types.type_of(schema, key, name, root=key[1] == "")
            description = doc(schema)
            lines = [f"{name} = {expr}"]
            if description:
                lines.append(naming.docstring(description, indent=""))
            self._finish(lines)
        return name

    def define_wanted(self) -> None:
        """Render every definition referred to and not rendered yet, and those they refer to."""
        while self._pending:
            self.define(self._pending.pop(0))

    def refer(self, key: Key) -> str:
        """The name of the definition at ``key``, used by the one being rendered (and rendered later)."""
        name = self.names.get(key)
        if name is None or name not in self._definitions:
            self._pending.append(key)
        return self._use(self.names.located(key))

    def inline_class(self, schema: dict[str, Any], key: Key, hint: str) -> str:
        """The name of the class of an inline object, rendered now, used by the one being rendered."""
        name = self.names.inline_class(schema, key, hint, self._wrapping)
        if name not in self._definitions:
            outer = self._current
            self._class(name, schema, key)
            self._current = outer
        return self._use(name)

    def _use(self, name: str) -> str:
        if self._current is not None:
            self._current.uses.add(name)
        return name

    def _begin(self, name: str, kind: str, file: str) -> Definition:
        self._definitions[name] = self._current = Definition(name, kind, file, [])
        return self._current

    def _finish(self, lines: list[str]) -> None:
        assert self._current is not None
        self._current.lines = lines
        self._current = None

    def _class(self, name: str, schema: dict[str, Any], key: Key) -> None:
        file, at = key
        definition = self._begin(name, "class", file)
        base_keys, inline = self.schemas.class_branches(schema, key)
        bases: list[str] = []
        for base_key in base_keys:
            base = self.define(base_key)
            if base not in bases:
                bases.append(base)
        self._current = definition
        bases = _without_ancestors(bases, self._definitions)
        definition.bases = bases
        inherited = {w for b in bases for w in self._definitions[b].wires}
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in [*inline, schema]:
            properties.update(part.get("properties") or {})
            required += [r for r in part.get("required") or [] if isinstance(r, str)]
        # A base's fields would be "additional" to a closed subclass: only a class of its own closes.
        closed = schema.get("additionalProperties") is False and "patternProperties" not in schema and not bases
        lines = [f"class {name}({', '.join(bases) if bases else '_js.JsonRecord'}):"]
        where = f"{file}#{at}" if at else file
        lines.append(f"    {naming.docstring(doc(schema) or f'JSON Schema object ``{where}``.')}")
        body: list[str] = []
        if closed:
            body.append('    model_config = _pd.ConfigDict(extra="forbid")')
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict) and assertions(additional) and "patternProperties" not in schema:
            extra = self.types.type_of(additional, (file, at + "/additionalProperties"), name + "Value")
            self._current = definition
            body.append(f"    __pydantic_extra__: dict[str, {extra}] = _pd.Field(init=False)")
        used: set[str] = set()
        definition.wires = set(inherited)
        for wire in [*properties, *[r for r in dict.fromkeys(required) if r not in properties]]:
            sub = properties.get(wire, True)
            if sub is False or wire in inherited:
                # absent in the model, or typed by the base already: both only wider than the
                # schema (allOf's intersection), and the serde checks the rest.
                continue
            definition.wires.add(wire)
            attr = self.names.field(wire, used)
            at_property = (file, property_pointer(at, wire))
            annotation = self.types.type_of(sub, at_property, naming.pascal(wire))
            self._current = definition
            args = []
            if attr != wire:
                args += [f"validation_alias={naming.literal(wire)}", f"serialization_alias={naming.literal(wire)}"]
            description = doc(sub)
            if description:
                args.append(f"description={naming.literal(description)}")
            if wire in required:
                default = ""
            elif (value := self.types.default(sub, at_property)) is not None:
                default = value  # written only when set: a document read without it stays without it
            else:
                annotation, default = f"{annotation} | MISSING", "MISSING"
            if args:
                field_args = ", ".join(([f"default={default}"] if default else []) + args)
                body.append(f"    {attr}: {annotation} = _pd.Field({field_args})")
            else:
                body.append(f"    {attr}: {annotation}" + (f" = {default}" if default else ""))
        definition.lines = lines + ([""] + body if body else [])
        self._current = None

    def ordered(self) -> list[Definition]:
        """Definitions in an order that imports: a class after its bases, an alias after what it uses
        (classes are used by name in annotations, which are read later, so they may come in any order)."""
        out: list[Definition] = []
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            if state.get(name) == 2:
                return
            d = self._definitions[name]
            if state.get(name) == 1:
                return  # a cycle: resolved below by quoting
            state[name] = 1
            deps = d.bases if d.kind == "class" else sorted(d.uses)  # aliases and RootModels: eagerly
            for dep in deps:
                if dep in self._definitions:
                    visit(dep)
            state[name] = 2
            out.append(d)

        for name in sorted(self._definitions, key=lambda n: (self._definitions[n].kind != "alias", n)):
            visit(name)
        # An alias or a RootModel that uses something defined after it (a cycle) reads it later: the
        # alias is quoted, the RootModel's type moves into an annotation of its body.
        position = {d.name: i for i, d in enumerate(out)}
        for i, d in enumerate(out):
            if d.kind == "root" and any(position.get(u, -1) >= i for u in d.uses):
                d.lines = [f"class {d.name}(_pd.RootModel[_t.Any]):", d.lines[1], "", f"    root: {d.root_type}"]
            elif d.kind == "alias" and _bare_self_union(d.name, d.lines[0].split(" = ", 1)[1]):
                # "X is X or null": no structure to type; any JSON value is wide enough.
                d.lines[0] = f"{d.name} = {JSON_VALUE}"
            elif d.kind == "alias" and any(position.get(u, -1) >= i for u in d.uses):
                expr = d.lines[0].split(" = ", 1)[1]
                d.lines[0] = f"{d.name} = _te.TypeAliasType({naming.literal(d.name)}, {naming.literal(expr)})"
        return out


def _default_doc(file: str) -> str:
    return f"The root of JSON Schema ``{file}``."


def _bare_self_union(name: str, expr: str) -> bool:
    """Whether the type ``expr`` holds ``name`` as a member of its top-level union (not inside a
    container, which would make it a well-founded recursive type)."""
    depth, members, current = 0, [], ""
    for c in expr:
        depth += c == "["
        depth -= c == "]"
        if c == "|" and depth == 0:
            members.append(current.strip())
            current = ""
        else:
            current += c
    return name in [*members, current.strip()]


def _without_ancestors(bases: list[str], definitions: dict[str, Definition]) -> list[str]:
    """Bases without those another base derives from (Python refuses such an MRO)."""

    def ancestors(name: str) -> Iterator[str]:
        d = definitions.get(name)
        for b in d.bases if d else []:
            yield b
            yield from ancestors(b)

    inherited = {a for b in bases for a in ancestors(b)}
    return [b for b in bases if b not in inherited]
