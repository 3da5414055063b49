"""Avro schema compatibility: can a reader schema read data written with a writer schema?

The semantics are those of Apache Avro's ``org.apache.avro.SchemaCompatibility`` (Avro 1.11/1.12,
mirrored by the Python ``avro.compatibility`` module), over this project's IR:

* Types of the same kind: primitives always match; arrays and maps compare their items and values;
  records, enums and fixed types first compare names (the *unqualified* names, or the writer's full
  name among the reader's aliases), then fields, symbols or sizes.
* Different kinds: a writer union must be readable branch by branch; a reader union needs one
  branch that reads the writer type; otherwise only the promotions int→long, int/long→float,
  int/long/float→double and string↔bytes are allowed.
* Record fields are matched by the reader field's name, then by its aliases; a reader field the
  writer lacks needs a default.
* Logical types are ignored (a ``date`` reads an ``int``, a ``decimal`` over bytes reads a string).
* The empty union ``[]`` (a valid schema; no value has it) follows from the union rules, as in the
  reference: as the writer it writes nothing, so every reader reads it; as the reader it has no
  branch, so it reads no writer but another union with no branches (``MISSING_UNION_BRANCH``).
* Recursive types: each (reader node, writer node) pair is computed once; a pair met again while it
  is still being computed counts as compatible, exactly like the reference's memo map. Traversal
  order is the reference's too, so memoized results (and so verdicts) agree on recursive schemas.

Deliberate choices where the references differ or are silent (see the tests for each):

* Reader aliases of records, enums and fixed types are resolved against the reader type's
  namespace, as Java does (``"aliases": ["Old"]`` on ``com.acme.New`` means ``com.acme.Old``).
  Python's ``avro`` compares the aliases as written, so a short alias never matches there.
* A reader field that matches two writer fields (its name and an alias, two aliases, or an alias
  equal to its own name, which Java counts twice) makes Java throw (a registry answers HTTP 422);
  like Python, the field of the same name wins, then the first matching alias.
* ``"type": "error"`` is a record (Java); Python's ``avro`` raises on it.
* A reader field the writer lacks, without a default, whose type is an enum *with* a default: the
  reference compares that enum against the writer's whole record, which always fails as a
  ``TYPE_MISMATCH``. This is reproduced (it is what registries report), with a message that says
  what is actually missing: the field's default.

Where a finding points (``Incompatibility.source``):

* ``READER_FIELD_MISSING_DEFAULT_VALUE`` (and the enum-field ``TYPE_MISMATCH`` above): the reader's field.
* ``TYPE_MISMATCH``: the reader's node (the type that cannot read the writer's).
* ``NAME_MISMATCH``: ``/name`` of the reader's named type definition (where an alias would go).
* ``FIXED_SIZE_MISMATCH``: ``/size`` of the reader's fixed definition.
* ``MISSING_ENUM_SYMBOLS``: ``/symbols`` of the writer's enum definition (where the extra symbols are).
* ``MISSING_UNION_BRANCH``: the writer's node or union branch that no reader branch can read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..ir import Array, AvroType, Enum, Field, Fixed, Logical, Map, NamedRef, NamedType, Primitive, Record, Union
from ..load.avro import load_avro_files
from .findings import Incompatibility, rule


@dataclass(frozen=True)
class AvroVersion:
    """One version of a schema: its root type and the named types it sees (full name -> definition)."""

    root: AvroType
    named: dict[str, NamedType]

    @classmethod
    def load(cls, files: Iterable[tuple[str, str]], root_file: str) -> AvroVersion:
        """Load ``(file name, text)`` pairs (see :func:`load_avro_files`); the root is ``root_file``'s type."""
        named, schemas = load_avro_files(files)
        return cls(schemas[root_file].root, named)


def can_read(reader: AvroVersion, writer: AvroVersion) -> list[Incompatibility]:
    """Why ``reader`` cannot read data written with ``writer``; empty when it can.

    Each incompatibility is reported once, in the order the reference finds them.
    """
    found = _Checker(reader, writer).check(reader.root, writer.root)
    return list(dict.fromkeys(found))


# --- helpers ---------------------------------------------------------------------------------

_Result = tuple[Incompatibility, ...]
_COMPATIBLE: _Result = ()


def _strip(t: AvroType) -> AvroType:
    """The reference ignores logical types: a ``Logical`` is its base type."""
    while isinstance(t, Logical):
        t = t.base
    return t


def _kind(t: AvroType, named: dict[str, NamedType]) -> str:
    """The Avro type name of a (stripped) node: a primitive name, record, enum, fixed, array, map, union."""
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, NamedRef):
        n = named[t.fullname]
        return "record" if isinstance(n, Record) else "enum" if isinstance(n, Enum) else "fixed"
    if isinstance(t, Array):
        return "array"
    if isinstance(t, Map):
        return "map"
    if isinstance(t, Union):
        return "union"
    raise TypeError(f"not an Avro type: {t!r}")


def _describe(t: AvroType, named: dict[str, NamedType]) -> str:
    t = _strip(t)
    kind = _kind(t, named)
    return f'{kind} "{t.fullname}"' if isinstance(t, NamedRef) else kind


def _quote(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# --- NAME_MISMATCH ---------------------------------------------------------------------------

NAME_MISMATCH = rule(
    "NAME_MISMATCH",
    "AVRO",
    "A record, enum or fixed reads another only if their unqualified names are equal or one of its "
    "aliases is the writer's full name.",
)


def resolve_alias(alias: str, namespace: str) -> str:
    """The full name an alias of a named type in ``namespace`` stands for (Java's ``getAliases``).

    An unqualified alias takes the type's namespace; a qualified one stands as written; a leading
    dot (``".Old"``) means the null namespace, which Java reports as ``".Old"`` inside a namespace,
    so such an alias never matches there.
    """
    if "." not in alias:
        return f"{namespace}.{alias}" if namespace else alias
    space, _, name = alias.rpartition(".")
    if space:
        return alias
    return f".{name}" if namespace else name


def names_match(reader: NamedType, writer: NamedType) -> bool:
    """Avro's ``schemaNameEquals``: equal unqualified names, or a reader alias naming the writer."""
    if reader.name == writer.name:
        return True
    return writer.fullname in {resolve_alias(a, reader.namespace) for a in reader.aliases}


def check_names(reader: NamedType, writer: NamedType) -> _Result:
    if names_match(reader, writer):
        return _COMPATIBLE
    kind = _kind_of_named(reader)
    hint = (
        f'none of its aliases is "{writer.fullname}"'
        if reader.aliases
        else f'an alias "{writer.fullname}" would let it read the writer\'s data'
    )
    message = (
        f'{kind} "{reader.fullname}" cannot read the writer\'s {kind} "{writer.fullname}": the names differ and {hint}'
    )
    return (Incompatibility(NAME_MISMATCH, reader.source.at("name"), message),)


def _kind_of_named(n: NamedType) -> str:
    return "record" if isinstance(n, Record) else "enum" if isinstance(n, Enum) else "fixed"


# --- FIXED_SIZE_MISMATCH ---------------------------------------------------------------------

FIXED_SIZE_MISMATCH = rule(
    "FIXED_SIZE_MISMATCH",
    "AVRO",
    "A fixed type reads only fixed values of exactly its own size.",
)


def check_fixed_size(reader: Fixed, writer: Fixed) -> _Result:
    if reader.size == writer.size:
        return _COMPATIBLE
    message = (
        f'fixed "{reader.fullname}" holds {reader.size} bytes but the writer\'s fixed "{writer.fullname}" '
        f"holds {writer.size}"
    )
    return (Incompatibility(FIXED_SIZE_MISMATCH, reader.source.at("size"), message),)


# --- MISSING_ENUM_SYMBOLS --------------------------------------------------------------------

MISSING_ENUM_SYMBOLS = rule(
    "MISSING_ENUM_SYMBOLS",
    "AVRO",
    "An enum reads every symbol the writer's enum can write, or has a default to read unknown symbols as.",
)


def check_enum_symbols(reader: Enum, writer: Enum) -> _Result:
    missing = [s for s in writer.symbols if s not in reader.symbols]
    if not missing or (reader.default is not None and reader.default in reader.symbols):
        return _COMPATIBLE
    plural = "s" if len(missing) > 1 else ""
    message = (
        f"the writer's enum \"{writer.fullname}\" has symbol{plural} {_quote(missing)} that the reader's enum "
        f'"{reader.fullname}" lacks, and the reader\'s enum has no default to read {"them" if plural else "it"} as'
    )
    return (Incompatibility(MISSING_ENUM_SYMBOLS, writer.source.at("symbols"), message),)


# --- READER_FIELD_MISSING_DEFAULT_VALUE ------------------------------------------------------

READER_FIELD_MISSING_DEFAULT_VALUE = rule(
    "READER_FIELD_MISSING_DEFAULT_VALUE",
    "AVRO",
    "A reader field that the writer's record lacks (by name or alias) needs a default.",
)


def writer_field(reader_field: Field, writer: Record) -> Field | None:
    """The writer field a reader field reads: the one of the same name, else the first matching alias."""
    by_name = {f.name: f for f in writer.fields}
    for name in (reader_field.name, *reader_field.aliases):
        if name in by_name:
            return by_name[name]
    return None


def missing_field(reader_field: Field, reader_named: dict[str, NamedType]) -> _Result:
    """A reader field without a writer field: fine with a default, else an incompatibility."""
    if reader_field.has_default:
        return _COMPATIBLE
    t = reader_field.type
    target = reader_named.get(t.fullname) if isinstance(t, NamedRef) else None
    if isinstance(target, Enum) and target.default is not None:
        # The reference compares the enum with the writer's whole record here: always a type mismatch.
        message = (
            f'field "{reader_field.name}" has no default and the writer has no such field; '
            f'the default of its enum "{target.fullname}" does not count as one'
        )
        return (Incompatibility(TYPE_MISMATCH, reader_field.source, message),)
    message = f'field "{reader_field.name}" has no default, so the reader cannot read data written without it'
    return (Incompatibility(READER_FIELD_MISSING_DEFAULT_VALUE, reader_field.source, message),)


# --- TYPE_MISMATCH ---------------------------------------------------------------------------

TYPE_MISMATCH = rule(
    "TYPE_MISMATCH",
    "AVRO",
    "A type reads only its own kind, or a primitive it promotes from (int→long→float→double, string↔bytes).",
)

PROMOTIONS: dict[str, frozenset[str]] = {
    "long": frozenset({"int"}),
    "float": frozenset({"int", "long"}),
    "double": frozenset({"int", "long", "float"}),
    "bytes": frozenset({"string"}),
    "string": frozenset({"bytes"}),
}
"""Reader primitive -> the other writer primitives it reads."""


def promotes(reader_kind: str, writer_kind: str) -> bool:
    return writer_kind in PROMOTIONS.get(reader_kind, frozenset())


def type_mismatch(
    reader: AvroType, writer: AvroType, reader_named: dict[str, NamedType], writer_named: dict[str, NamedType]
) -> _Result:
    message = (
        f"the reader's {_describe(reader, reader_named)} cannot read the writer's {_describe(writer, writer_named)}"
    )
    return (Incompatibility(TYPE_MISMATCH, reader.source, message),)


# --- MISSING_UNION_BRANCH --------------------------------------------------------------------

MISSING_UNION_BRANCH = rule(
    "MISSING_UNION_BRANCH",
    "AVRO",
    "A reader union needs a branch that reads each type the writer can write.",
)


def missing_union_branch(writer: AvroType, writer_named: dict[str, NamedType], reason: str | None) -> _Result:
    message = f"the reader's union has no branch that can read the writer's {_describe(writer, writer_named)}"
    if reason:
        message += f" (the closest branch cannot: {reason})"
    return (Incompatibility(MISSING_UNION_BRANCH, writer.source, message),)


# --- the walk --------------------------------------------------------------------------------

_Key = tuple[str, object]


def _key(t: AvroType) -> _Key:
    # Named types are one node per version (as the reference's parsed Schema objects are); every
    # other node is one per occurrence in the schema.
    return ("named", t.fullname) if isinstance(t, NamedRef) else ("node", id(t))


class _Checker:
    """One reader/writer comparison, with the reference's memo of (reader node, writer node) pairs."""

    def __init__(self, reader: AvroVersion, writer: AvroVersion) -> None:
        self.rnamed = reader.named
        self.wnamed = writer.named
        # None marks a pair in progress: met again, it counts as compatible (recursive types).
        self.memo: dict[tuple[_Key, _Key], _Result | None] = {}

    def check(self, reader: AvroType, writer: AvroType) -> _Result:
        reader, writer = _strip(reader), _strip(writer)
        pair = (_key(reader), _key(writer))
        if pair in self.memo:
            return self.memo[pair] or _COMPATIBLE
        self.memo[pair] = None
        result = self._calculate(reader, writer)
        self.memo[pair] = result
        return result

    def _calculate(self, reader: AvroType, writer: AvroType) -> _Result:
        rkind, wkind = _kind(reader, self.rnamed), _kind(writer, self.wnamed)
        if rkind == wkind:
            return self._same_kind(reader, writer)
        if isinstance(writer, Union):
            # Every type the writer union can write must be readable.
            return tuple(i for branch in writer.branches for i in self.check(reader, branch))
        if isinstance(reader, Union):
            return self._reader_union(reader, writer)
        if promotes(rkind, wkind):
            return _COMPATIBLE
        return type_mismatch(reader, writer, self.rnamed, self.wnamed)

    def _same_kind(self, reader: AvroType, writer: AvroType) -> _Result:
        if isinstance(reader, Primitive):
            return _COMPATIBLE
        if isinstance(reader, Array) and isinstance(writer, Array):
            return self.check(reader.items, writer.items)
        if isinstance(reader, Map) and isinstance(writer, Map):
            return self.check(reader.values, writer.values)
        if isinstance(reader, Union) and isinstance(writer, Union):
            out: _Result = ()
            for branch in writer.branches:
                if self.check(reader, branch):
                    out += missing_union_branch(branch, self.wnamed, self._reason(reader, branch))
            return out
        assert isinstance(reader, NamedRef) and isinstance(writer, NamedRef)
        r, w = self.rnamed[reader.fullname], self.wnamed[writer.fullname]
        found = check_names(r, w)
        if isinstance(r, Fixed) and isinstance(w, Fixed):
            return found + check_fixed_size(r, w)
        if isinstance(r, Enum) and isinstance(w, Enum):
            return found + check_enum_symbols(r, w)
        assert isinstance(r, Record) and isinstance(w, Record)
        return found + self._fields(r, w)

    def _fields(self, reader: Record, writer: Record) -> _Result:
        out: _Result = ()
        for field in reader.fields:
            match = writer_field(field, writer)
            if match is None:
                out += missing_field(field, self.rnamed)
            else:
                out += self.check(field.type, match.type)
        return out

    def _reader_union(self, reader: Union, writer: AvroType) -> _Result:
        for branch in reader.branches:
            if not self.check(branch, writer):
                return _COMPATIBLE
        return missing_union_branch(writer, self.wnamed, self._reason(reader, writer))

    def _reason(self, reader: Union, writer: AvroType) -> str | None:
        """Why the reader branch of the writer's kind (and name) fails, from results already computed."""
        writer = _strip(writer)
        wkind = _kind(writer, self.wnamed)
        for branch in reader.branches:
            branch = _strip(branch)
            if _kind(branch, self.rnamed) != wkind:
                continue
            if (
                isinstance(branch, NamedRef)
                and isinstance(writer, NamedRef)
                and not names_match(self.rnamed[branch.fullname], self.wnamed[writer.fullname])
            ):
                continue
            found = self.memo.get((_key(branch), _key(writer)))
            return found[0].message if found else None
        return None
