"""The intermediate representation every loader produces and every renderer consumes.

Nodes are frozen dataclasses; each knows the :class:`Source` (file + JSON pointer) it came from,
so later stages (rendering, compatibility, lint) can report errors at the right place.
Avro types are modelled exactly (the codec generator needs every detail); JSON Schema files are
kept as validated documents whose models datamodel-code-generator renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .diagnostics import Source
from .load.json_drafts import DEFAULT_DRAFT, Draft, PointerMap

if TYPE_CHECKING:
    from .load.json_refs import RefIndex

PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")

Format = Literal["AVRO", "JSON"]


# --- Avro types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Primitive:
    name: str  # one of PRIMITIVES
    source: Source = field(compare=False)


@dataclass(frozen=True)
class Logical:
    """A logical type on a primitive or fixed base (``base`` is a Primitive or a NamedRef to a Fixed)."""

    logical: str  # decimal, uuid, date, time-millis, time-micros, timestamp-*, local-timestamp-*
    base: AvroType
    source: Source = field(compare=False)
    precision: int = 0
    scale: int = 0


@dataclass(frozen=True)
class NamedRef:
    """A use of a named type (record, enum, fixed) by its full name; resolved through ``Schema.named``."""

    fullname: str
    source: Source = field(compare=False)


@dataclass(frozen=True)
class Array:
    items: AvroType
    source: Source = field(compare=False)


@dataclass(frozen=True)
class Map:
    values: AvroType
    source: Source = field(compare=False)


@dataclass(frozen=True)
class Union:
    branches: tuple[AvroType, ...]
    source: Source = field(compare=False)

    @property
    def null_index(self) -> int | None:
        for i, b in enumerate(self.branches):
            if isinstance(b, Primitive) and b.name == "null":
                return i
        return None


AvroType = Primitive | Logical | NamedRef | Array | Map | Union


def named_refs(t: AvroType) -> list[NamedRef]:
    """The uses of named types that ``t`` holds directly: through logical types, arrays, maps and
    unions, not into the named types themselves."""
    out: list[NamedRef] = []
    stack = [t]
    while stack:  # no recursion: types may nest hundreds of levels deep
        node = stack.pop()
        if isinstance(node, NamedRef):
            out.append(node)
        elif isinstance(node, Logical):
            stack.append(node.base)
        elif isinstance(node, Array):
            stack.append(node.items)
        elif isinstance(node, Map):
            stack.append(node.values)
        elif isinstance(node, Union):
            stack += node.branches
    return out


class _Named:
    """Name parts of a named type (its ``fullname`` is ``namespace.name``)."""

    fullname: str

    @property
    def name(self) -> str:
        return self.fullname.rpartition(".")[2]

    @property
    def namespace(self) -> str:
        return self.fullname.rpartition(".")[0]


@dataclass(frozen=True)
class Field:
    name: str  # the wire name
    type: AvroType
    source: Source = field(compare=False)
    doc: str | None = None
    has_default: bool = False
    default: Any = None  # the JSON default as written in the schema
    aliases: tuple[str, ...] = ()
    order: str = "ascending"


@dataclass(frozen=True)
class Record(_Named):
    fullname: str
    fields: tuple[Field, ...]
    source: Source = field(compare=False)
    doc: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enum(_Named):
    fullname: str
    symbols: tuple[str, ...]
    source: Source = field(compare=False)
    doc: str | None = None
    default: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fixed(_Named):
    fullname: str
    size: int
    source: Source = field(compare=False)
    doc: str | None = None
    aliases: tuple[str, ...] = ()
    # A logical type written on the fixed definition applies wherever the fixed is used.
    logical: str | None = None
    precision: int = 0
    scale: int = 0


NamedType = Record | Enum | Fixed


@dataclass(frozen=True)
class AvroSchema:
    """One ``.avsc`` file: its top-level type, and the canonical self-contained schema JSON."""

    file: str
    root: AvroType
    canonical: str  # self-contained JSON text (referenced named types inlined at first use)
    dependencies: tuple[str, ...]  # full names of named types defined in other files


@dataclass(frozen=True)
class JsonSchemaFile:
    """One JSON Schema file, validated against its draft's metaschema, with every ``$ref`` resolved.

    ``document`` is the file as written (an object, or a boolean schema); ``normalized`` is the same
    schema in the 2020-12 dialect that codegen and compatibility read (see ``load.json_drafts``),
    ``moves`` maps its pointers back to the file's, and ``index`` resolves ``$ref`` across files.
    """

    file: str
    document: Any
    bundled: str  # self-contained JSON text, as registered
    title: str
    text: str = field(default="", repr=False, compare=False)  # the file as written
    draft: Draft = field(default=DEFAULT_DRAFT, compare=False)
    normalized: Any = field(default=None, repr=False, compare=False)
    moves: PointerMap = field(default_factory=PointerMap, repr=False, compare=False)
    index: RefIndex | None = field(default=None, repr=False, compare=False)


# --- Topics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaUse:
    """A key or value of a topic: a raw UTF-8 string key, or a schema file."""

    kind: Literal["string", "avro", "json"]
    file: str | None = None


@dataclass(frozen=True)
class Topic:
    name: str
    key: SchemaUse | None
    value: SchemaUse
    partitions: int
    retention_ms: int
    cleanup_policy: str
    compatibility: str
    source: Source = field(compare=False)
    doc: str | None = None
    deleted: bool = False
    # None: the broker's default (default.replication.factor).
    replication_factor: int | None = None
    # Further topic-level Kafka configs (names checked against Kafka's), values as Kafka writes them.
    configs: tuple[tuple[str, str], ...] = ()

    @property
    def key_subject(self) -> str:
        return f"{self.name}-key"

    @property
    def value_subject(self) -> str:
        return f"{self.name}-value"


@dataclass(frozen=True)
class Project:
    """Everything loaded: the input of every renderer."""

    named: dict[str, NamedType]  # full name -> definition, in definition order
    avro: dict[str, AvroSchema]  # file -> schema
    json: dict[str, JsonSchemaFile]  # file -> schema
    topics: tuple[Topic, ...] = ()
