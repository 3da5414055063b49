"""Pydantic models and their field annotations as Avro types: one function per type family.

Every named type (a record for a model, an enum for a ``str`` Enum) is defined the first time it
is met and named by its full name afterwards. What Avro has no place for goes into the field's doc
(``notes``); what Avro cannot hold at all is a :class:`SchemaError` naming the model and the field.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, NaiveDatetime
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ..diagnostics import SchemaError
from .avro_defaults import RecordFields, avro_default
from .constraints import collect, describe, unwrap
from .resolve import model_source

AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INT32 = (-(2**31), 2**31 - 1)
_PRIMITIVES = {bool: "boolean", float: "double", str: "string", bytes: "bytes"}
_ARRAYS = (list, tuple, set, frozenset, Sequence)
_MAPS = (dict, Mapping)
# Factories whose result is the same every call: their value is the Avro default. Any other
# (uuid4, datetime.now, a lambda) computes a new value each time, which a schema cannot say.
_CONSTANT_FACTORIES: tuple[Callable[[], Any], ...] = (list, dict, set, frozenset, tuple)


@dataclass(frozen=True)
class Where:
    """The field being mapped, for errors and notes."""

    model: type[BaseModel]
    field: str

    def error(self, message: str) -> SchemaError:
        return SchemaError(model_source(self.model), f"field {self.field!r}: {message}")


@dataclass
class AvroTypes:
    """Maps models to Avro records across the files of one import.

    ``fullnames`` holds the Avro full name of every model and enum met so far; the top-level models
    are given theirs before any file is built, so that each is defined in its own file and named
    elsewhere.
    """

    fullnames: dict[type, str]
    root: type | None = None  # the model of the file being built
    namespace: str = ""  # of the file being built: the named types it defines go there
    named: dict[str, dict[str, Any]] = field(default_factory=dict)  # full name -> definition
    record_fields: RecordFields = field(default_factory=dict)
    # Fields whose default waits until every named type is defined (a default may hold a model
    # that a later file defines): the field and its Python default.
    pending_defaults: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # --- records ------------------------------------------------------------------------------

    def record(self, model: type[BaseModel]) -> Any:
        """The record of ``model``: its definition the first time, its full name afterwards."""
        fullname = self.fullnames.get(model)
        if fullname is not None and (fullname in self.named or model is not self.root):
            return fullname  # defined already, or a top-level model that its own file defines
        if fullname is None:
            fullname = self.claim(model)
        definition: dict[str, Any] = {"type": "record", "name": model.__name__}
        doc = own_doc(model)
        if doc:
            definition["doc"] = doc
        self.named[fullname] = definition  # before the fields: a recursive model names itself
        self.record_fields[fullname] = []
        fields = []
        for name, info in model.model_fields.items():
            wire, avro_field = self.field(model, name, info)
            self.record_fields[fullname].append((wire, name))
            fields.append(avro_field)
        definition["fields"] = fields
        for name in model.model_computed_fields:
            self.warnings.append(f"{model_source(model)}: computed field {name!r} is not in the schema")
        return definition

    def field(self, model: type[BaseModel], name: str, info: FieldInfo) -> tuple[str, dict[str, Any]]:
        """One field: its wire name (the alias, if any) and its Avro field."""
        where = Where(model, name)
        wire = info.serialization_alias or info.alias or name
        if not AVRO_NAME.fullmatch(wire):
            raise where.error(f"{wire!r} is not an Avro name ([A-Za-z_][A-Za-z0-9_]*): give the field an alias that is")
        notes: list[str] = []
        schema = self.type_of(info.annotation, collect(info.metadata), where, notes)
        out: dict[str, Any] = {"name": wire, "type": schema}
        aliases = [a for a in (name, info.validation_alias) if isinstance(a, str) and a != wire]
        aliases = [a for a in dict.fromkeys(aliases) if AVRO_NAME.fullmatch(a)]
        if aliases:
            out["aliases"] = aliases
        default = self.default_of(info, where, notes)
        if default is not PydanticUndefined:
            if default is None and not nullable(schema):
                schema = ["null", schema]
                notes.append("Python's default is None, which the type does not otherwise allow.")
            out["type"] = first_branch_for(schema, default, self)
        doc = " ".join(part for part in (info.description, *notes) if part)
        if doc:
            out["doc"] = doc
        out = dict(sorted(out.items(), key=lambda item: _FIELD_KEYS.index(item[0])))
        if default is not PydanticUndefined:
            self.pending_defaults.append((out, default))
        return wire, out

    def add_defaults(self) -> None:
        """Give each field waiting for it its Avro default (once every named type is defined)."""
        for avro_field, default in self.pending_defaults:
            avro_field["default"] = avro_default(avro_field["type"], default, self.named, self.record_fields)
        self.pending_defaults.clear()

    def default_of(self, info: FieldInfo, where: Where, notes: list[str]) -> Any:
        """The field's default value, or PydanticUndefined when it has none a schema can hold."""
        if info.default_factory is None:
            return info.default
        factory = info.default_factory
        if factory in _CONSTANT_FACTORIES or (isinstance(factory, type) and issubclass(factory, BaseModel)):
            return factory()
        name = getattr(factory, "__name__", repr(factory))
        notes.append(f"Python computes the default ({name}); the schema has none, so writers always set it.")
        return PydanticUndefined

    # --- any type -----------------------------------------------------------------------------

    def type_of(self, annotation: Any, constraints: dict[str, Any], where: Where, notes: list[str]) -> Any:
        annotation, constraints = unwrap(annotation, constraints)
        origin = get_origin(annotation)
        if annotation is None or annotation is type(None):
            return "null"
        if origin in (typing.Union, types.UnionType):
            return self.union(get_args(annotation), constraints, where, notes)
        if origin is Literal:
            return literal(get_args(annotation), where, notes)
        if origin in _ARRAYS or annotation in _ARRAYS:
            return self.array(annotation, constraints, where, notes)
        if origin in _MAPS or annotation in _MAPS:
            return self.map(annotation, constraints, where, notes)
        if isinstance(annotation, type):
            if issubclass(annotation, BaseModel):
                return self.record(annotation)
            if issubclass(annotation, enum.Enum):
                return self.enum(annotation, where, notes)
            mapped = scalar(annotation, constraints, where, notes, self.warnings)
            if mapped is not None:
                return mapped
        raise where.error(f"{_shown(annotation)} has no Avro type (supported: README, 'Importing Pydantic models')")

    # --- unions -------------------------------------------------------------------------------

    def union(self, args: tuple[Any, ...], constraints: dict[str, Any], where: Where, notes: list[str]) -> Any:
        branches: list[Any] = []
        for arg in args:
            mapped = self.type_of(arg, constraints, where, notes)
            branches.extend(mapped if isinstance(mapped, list) else [mapped])
        # Null first (Optional[T]: so that the default can be null); then boolean before the integers
        # before the floating point types: a writer takes the first branch that holds a value, and a
        # double holds a Python int only approximately (2**53 + 1), an int holds a bool as 1.
        branches.sort(key=lambda b: _UNION_RANK.get(branch_key(b), len(_UNION_RANK)))
        seen: dict[str, Any] = {}
        for b in branches:
            key = branch_key(b)
            if key in seen:
                raise where.error(f"a union may hold one {key} only (Avro tells its branches apart by type)")
            seen[key] = b
        return branches if len(branches) > 1 else branches[0]

    # --- containers ---------------------------------------------------------------------------

    def array(self, annotation: Any, constraints: dict[str, Any], where: Where, notes: list[str]) -> Any:
        args = get_args(annotation)
        if get_origin(annotation) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise where.error(f"{_shown(annotation)}: a fixed-length tuple has no Avro type; use tuple[T, ...]")
        if not args:
            raise where.error(f"{_shown(annotation)} needs its item type ({_shown(annotation)}[T])")
        _note_constraints(constraints, notes, "The list")
        return {"type": "array", "items": self.type_of(args[0], {}, where, notes)}

    def map(self, annotation: Any, constraints: dict[str, Any], where: Where, notes: list[str]) -> Any:
        args = get_args(annotation)
        if len(args) != 2:
            raise where.error(f"{_shown(annotation)} needs its key and value types (dict[str, T])")
        key, _ = unwrap(args[0], {})
        if key is not str:
            raise where.error(f"{_shown(annotation)}: Avro map keys are strings, not {_shown(args[0])}")
        _note_constraints(constraints, notes, "The map")
        return {"type": "map", "values": self.type_of(args[1], {}, where, notes)}

    # --- enums --------------------------------------------------------------------------------

    def enum(self, cls: type[enum.Enum], where: Where, notes: list[str]) -> Any:
        values = [m.value for m in cls]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            # Avro enums hold symbols, not numbers: the numbers travel as an int, the names in the doc.
            members = ", ".join(f"{m.name}={m.value}" for m in cls)
            notes.append(f"Python enum {cls.__name__}: {members}.")
            return "int" if all(INT32[0] <= v <= INT32[1] for v in values) else "long"
        if not values or not all(isinstance(v, str) for v in values):
            raise where.error(f"enum {cls.__name__}: only enums of str values or of int values have an Avro type")
        bad = [v for v in values if not AVRO_NAME.fullmatch(v)]
        if bad:
            raise where.error(
                f"enum {cls.__name__}: value {bad[0]!r} is not an Avro enum symbol ([A-Za-z_][A-Za-z0-9_]*)"
            )
        fullname = self.fullnames.get(cls)
        if fullname is not None:
            return fullname
        fullname = self.claim(cls)
        # The first symbol is the enum's default: a reader maps a symbol added later to it
        # (lint's ENUM_DEFAULT) instead of failing. Edit the file to choose another.
        definition: dict[str, Any] = {"type": "enum", "name": cls.__name__}
        doc = own_doc(cls)
        if doc:
            definition["doc"] = doc
        definition.update(symbols=values, default=values[0])
        self.named[fullname] = definition
        return definition

    def claim(self, cls: type) -> str:
        """Give ``cls`` (a model or an enum) its Avro full name in the current namespace: its class
        name, which must be an Avro name and no other class's there."""
        name = cls.__name__
        if not AVRO_NAME.fullmatch(name):
            raise SchemaError(model_source(cls), f"{name!r} is not an Avro name: name the class (a subclass)")
        fullname = f"{self.namespace}.{name}" if self.namespace else name
        other = next((c for c, n in self.fullnames.items() if n == fullname and c is not cls), None)
        if other is not None:
            raise SchemaError(
                model_source(cls),
                f"{fullname} is also the Avro name of {other.__module__}.{other.__qualname__}: rename one",
            )
        self.fullnames[cls] = fullname
        return fullname


_FIELD_KEYS = ["name", "aliases", "doc", "type", "default"]
_UNION_RANK = {"null": 0, "boolean": 1, "int": 2, "long": 2, "float": 3, "double": 3}


def own_doc(cls: type) -> str:
    """The class's own docstring (not an inherited one, nor Enum's generic one), cleaned."""
    doc = cls.__dict__.get("__doc__")
    if not doc or (issubclass(cls, enum.Enum) and doc == enum.Enum.__doc__):
        return ""
    return inspect.cleandoc(doc)


def scalar(
    annotation: type, constraints: dict[str, Any], where: Where, notes: list[str], warnings: list[str]
) -> Any | None:
    """The Avro type of a scalar Python type (int, str, Decimal, UUID, the dates and times), or None."""
    if annotation in _PRIMITIVES:
        _note_constraints(constraints, notes, "")
        return _PRIMITIVES[annotation]
    if issubclass(annotation, int) and not issubclass(annotation, bool):
        return integer(constraints, notes)
    if issubclass(annotation, Decimal):
        return decimal(constraints, where, notes)
    if annotation is uuid.UUID:
        return {"type": "string", "logicalType": "uuid"}
    if annotation is AwareDatetime:
        return {"type": "long", "logicalType": "timestamp-micros"}
    if annotation is NaiveDatetime:
        return {"type": "long", "logicalType": "local-timestamp-micros"}
    if annotation is dt.datetime:
        warnings.append(
            f"{model_source(where.model)}: field {where.field!r}: datetime is written as timestamp-micros (an "
            "instant): the generated model refuses naive values; say AwareDatetime or NaiveDatetime to choose"
        )
        return {"type": "long", "logicalType": "timestamp-micros"}
    if annotation is dt.date:
        return {"type": "int", "logicalType": "date"}
    if annotation is dt.time:
        return {"type": "long", "logicalType": "time-micros"}
    return None


def integer(constraints: dict[str, Any], notes: list[str]) -> str:
    """``int``, when the bounds keep every value within 32 bits, else ``long``."""
    low = _bound(constraints, "ge", "gt", 1)
    high = _bound(constraints, "le", "lt", -1)
    _note_constraints(constraints, notes, "")
    fits = low is not None and high is not None and INT32[0] <= low and high <= INT32[1]
    return "int" if fits else "long"


def _bound(constraints: dict[str, Any], inclusive: str, exclusive: str, step: int) -> int | None:
    if inclusive in constraints:
        return int(constraints[inclusive])
    if exclusive in constraints:
        return int(constraints[exclusive]) + step
    return None


def decimal(constraints: dict[str, Any], where: Where, notes: list[str]) -> dict[str, Any]:
    precision, scale = constraints.get("max_digits"), constraints.get("decimal_places")
    if precision is None or scale is None:
        raise where.error(
            "Decimal needs max_digits and decimal_places (Field(max_digits=12, decimal_places=2)): "
            "they are the Avro decimal's precision and scale"
        )
    _note_constraints(constraints, notes, "", skip=("max_digits", "decimal_places"))
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}


def literal(values: tuple[Any, ...], where: Where, notes: list[str]) -> Any:
    """``Literal[...]``: the values' type, the values themselves in the doc (Avro has no constants)."""
    kinds = {type(v) for v in values if v is not None}
    nullable_ = None in values
    if kinds == {str} or (kinds and all(issubclass(k, enum.Enum) for k in kinds)):
        base: Any = "string"
        shown = [v.value if isinstance(v, enum.Enum) else v for v in values if v is not None]
        if not all(isinstance(v, str) for v in shown):
            raise where.error("a Literal of enum members must hold str values")
    elif kinds == {bool}:
        base, shown = "boolean", [v for v in values if v is not None]
    elif kinds == {int}:
        ints = [v for v in values if v is not None]
        base, shown = ("int" if all(INT32[0] <= v <= INT32[1] for v in ints) else "long"), ints
    else:
        raise where.error(f"Literal{list(values)!r}: only a Literal of str, of int or of bool values has an Avro type")
    notes.append(("One of: " if len(shown) > 1 else "Always ") + ", ".join(repr(v) for v in shown) + ".")
    return ["null", base] if nullable_ else base


def nullable(schema: Any) -> bool:
    return schema == "null" or (isinstance(schema, list) and "null" in schema)


def branch_key(schema: Any) -> str:
    """What Avro tells a union's branches apart by: a named type's name, else the type's own name."""
    if isinstance(schema, str):
        return schema
    if schema["type"] in ("record", "enum", "fixed"):
        return str(schema["name"])
    return str(schema["type"])


def first_branch_for(schema: Any, value: Any, mapper: AvroTypes) -> Any:
    """A union with the branch ``value`` belongs to first: Avro reads a default as the first branch's."""
    if not isinstance(schema, list):
        return schema
    index = next((i for i, b in enumerate(schema) if _holds(b, value, mapper)), 0)
    return [schema[index], *schema[:index], *schema[index + 1 :]]


def _holds(branch: Any, value: Any, mapper: AvroTypes) -> bool:
    if value is None:
        return bool(branch == "null")
    if isinstance(branch, str) and "." in branch and branch not in mapper.named:  # a later file's model
        return isinstance(value, BaseModel) and type(value).__name__ == str(branch).rsplit(".", 1)[1]
    if isinstance(branch, str) and branch in mapper.named:
        branch = mapper.named[branch]
    kind: str = branch if isinstance(branch, str) else branch.get("logicalType", branch["type"])
    checks: dict[str, Callable[[Any], bool]] = {
        "boolean": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, float),
        "string": lambda v: isinstance(v, str),
        "bytes": lambda v: isinstance(v, bytes),
        "decimal": lambda v: isinstance(v, Decimal),
        "uuid": lambda v: isinstance(v, uuid.UUID),
        "date": lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
        "time-micros": lambda v: isinstance(v, dt.time),
        "timestamp-micros": lambda v: isinstance(v, dt.datetime),
        "local-timestamp-micros": lambda v: isinstance(v, dt.datetime),
        "array": lambda v: isinstance(v, list | tuple | set | frozenset),
        "map": lambda v: isinstance(v, dict),
        "record": lambda v: isinstance(v, BaseModel) and type(v).__name__ == branch["name"],
        "enum": lambda v: isinstance(v, enum.Enum) and type(v).__name__ == branch["name"],
    }
    return bool(checks.get(kind, lambda v: False)(value))


def _note_constraints(constraints: dict[str, Any], notes: list[str], what: str, skip: tuple[str, ...] = ()) -> None:
    shown = describe(constraints, skip=skip)
    if shown:
        notes.append(f"{what + ': ' if what else ''}Python constraints not in the schema: {shown}.")


def _shown(annotation: Any) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
