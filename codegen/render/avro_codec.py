"""What the straight-line Avro encoders and decoders share: temporaries, helper functions, wire facts."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..ir import AvroType
from ..naming import literal
from .avro_model import AvroModel

# Logical types carried by an int or a long: the base type, and the runtime.avro conversions to the
# number and back (used by the writers, the readers and the codec programs alike).
NUMBER_LOGICALS = {
    "date": ("int", "date_to_days", "days_to_date"),
    "time-millis": ("int", "time_to_millis", "millis_to_time"),
    "time-micros": ("long", "time_to_micros", "micros_to_time"),
    "timestamp-millis": ("long", "timestamp_to_millis", "millis_to_timestamp"),
    "timestamp-micros": ("long", "timestamp_to_micros", "micros_to_timestamp"),
    "local-timestamp-millis": ("long", "local_timestamp_to_millis", "millis_to_local_timestamp"),
    "local-timestamp-micros": ("long", "local_timestamp_to_micros", "micros_to_local_timestamp"),
}


def zz_byte(i: int) -> int:
    """The zig-zag byte of a small non-negative index (union branch or enum symbol < 64)."""
    return i << 1


def avro_long_literal(i: int) -> str:
    from schemabus.runtime.avro import write_long

    return literal(write_long(i))


class CodecHelpers:
    """The helper functions of a codecs module, shared by its encoders and decoders (one numbering):
    one encoder and one decoder per array or map type, called by every record that has one."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, AvroType], str] = {}  # (writer "w" or reader "r", type) -> name
        self.functions: list[tuple[str, list[str]]] = []  # (signature, body lines), in order of completion

    def name(self, kind: str, t: AvroType) -> tuple[str, bool]:
        """The name of the helper of ``kind`` for ``t``, and whether it is new (its code still to add)."""
        name = self._names.get((kind, t))
        if name is not None:
            return name, False
        name = self._names[(kind, t)] = f"_{kind}{len(self._names) + 1}"
        return name, True

    def add(self, signature: str, body: list[str]) -> None:
        self.functions.append((signature, body))


class CodeEmitter(ABC):
    """Straight-line code of one direction (``KIND`` "w" writes, "r" reads): numbered temporaries, and
    a helper function per array or map type (a record's code calls it: each type's loop is written once
    per module, and no function nests too many blocks deep)."""

    KIND: str

    def __init__(self, model: AvroModel, helpers: CodecHelpers) -> None:
        self.model = model
        self.helpers = helpers
        self._tmp = 0
        self._expanding: AvroType | None = None  # the type whose helper function is being written

    def tmp(self) -> str:
        self._tmp += 1
        return f"x{self._tmp}"

    def restart(self) -> None:
        """Number temporaries from the start again (each record's codec function)."""
        self._tmp = 0

    def in_helper(self, t: AvroType) -> bool:
        """Whether the code for array or map ``t`` is written here: the body of its own helper function
        (every other use calls that function)."""
        if t is self._expanding:
            self._expanding = None
            return True
        return False

    def helper(self, t: AvroType) -> str:
        """The helper function for an array or map type; made once per type."""
        name, new = self.helpers.name(self.KIND, t)
        if new:
            body: list[str] = []
            annotation = self.model.annotation(t)
            saved, self._tmp = self._tmp, 0  # its own temporaries: a function of its own
            self._expanding = t
            self.emit(t, "v", body, "")
            self._tmp = saved
            self.helpers.add(*self.helper_function(name, annotation, body))
        return name

    @abstractmethod
    def emit(self, t: AvroType, expr: str, out: list[str], ind: str) -> None:
        """Append to ``out`` the code for a value of ``t`` (written from, or read into, ``expr``)."""

    @abstractmethod
    def helper_function(self, name: str, annotation: str, body: list[str]) -> tuple[str, list[str]]:
        """The signature and body lines of helper ``name`` around ``body``."""
