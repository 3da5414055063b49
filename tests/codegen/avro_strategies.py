"""Test support: hypothesis strategies for generated Avro models, built from the IR, and the
conversion of a model into the datum fastavro and Apache Avro expect for the same value."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib
import importlib.util
import pkgutil
import uuid
from enum import Enum as PyEnum
from types import SimpleNamespace
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from schemabus.codegen.ir import (
    Array,
    AvroType,
    Enum,
    Fixed,
    Logical,
    Map,
    NamedRef,
    NamedType,
    Primitive,
    Record,
    Union,
)
from schemabus.codegen.render.avro_codec import CodecHelpers
from schemabus.codegen.render.avro_model import AvroModel
from schemabus.codegen.render.avro_writer import AvroWriter

MAX_DEPTH = 2
_TZS = [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]
# Timestamps stay within years where every representation (millis, micros, naive) is exact.
_MIN_DT = dt.datetime(1900, 1, 1)
_MAX_DT = dt.datetime(2200, 1, 1)


def merged(package: str, module: str) -> SimpleNamespace:
    """Every name of each ``module`` ("avro_models" or "avro_codecs") of a generated package, the top
    level's and each domain subpackage's, in one namespace: tests look models and codecs up by name."""
    top = importlib.import_module(package)
    names: dict[str, Any] = {}
    for prefix in [package, *(m.name for m in pkgutil.iter_modules(top.__path__, package + ".") if m.ispkg)]:
        if importlib.util.find_spec(f"{prefix}.{module}") is not None:
            names.update(vars(importlib.import_module(f"{prefix}.{module}")))
    return SimpleNamespace(**names)


class Models:
    """Strategies and fastavro datums for one generated package's Avro types."""

    def __init__(self, named: dict[str, NamedType], models_module: Any) -> None:
        self.named = named
        self.py = AvroModel(named)
        self.writer = AvroWriter(self.py, CodecHelpers())
        self.module = models_module

    def cls(self, fullname: str) -> Any:
        return getattr(self.module, self.py.class_names[fullname])

    # --- strategies --------------------------------------------------------------------------

    def strategy(self, t: AvroType, depth: int = 0) -> st.SearchStrategy[Any]:
        if isinstance(t, Primitive):
            return {
                "null": st.none(),
                "boolean": st.booleans(),
                "int": st.integers(-(2**31), 2**31 - 1),
                "long": st.integers(-(2**63), 2**63 - 1),
                "float": st.floats(width=32, allow_nan=False),
                "double": st.floats(allow_nan=False),
                "bytes": st.binary(max_size=12),
                "string": st.text(max_size=12),
            }[t.name]
        if isinstance(t, Logical):
            return self._logical(t)
        if isinstance(t, Array):
            if depth >= MAX_DEPTH:
                return st.just([])
            return st.lists(self.strategy(t.items, depth + 1), max_size=3)
        if isinstance(t, Map):
            if depth >= MAX_DEPTH:
                return st.just({})
            return st.dictionaries(st.text(max_size=6), self.strategy(t.values, depth + 1), max_size=3)
        if isinstance(t, Union):
            if depth >= MAX_DEPTH and t.null_index is not None:
                return st.none()
            return st.one_of([self.strategy(b, depth) for b in t.branches])
        n = self.named[t.fullname]
        if isinstance(n, Enum):
            return st.sampled_from(list(self.cls(n.fullname)))
        if isinstance(n, Fixed):
            return st.binary(min_size=n.size, max_size=n.size)
        spec = self.py.field_specs(n)
        fields = {s.name: self.strategy(f.type, depth + 1) for s, f in zip(spec, n.fields)}
        cls = self.cls(n.fullname)
        # Not st.builds: it routes keywords by the model's signature, which pydantic writes with
        # the wire names (aliases); the models are built here by Python name, as users do.
        return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))

    def _logical(self, t: Logical) -> st.SearchStrategy[Any]:
        lg = t.logical
        if lg == "decimal":
            # The largest value of the precision, written out: arithmetic would round it to the
            # context's 28 digits (10**30 - 10**-8 becomes 1E+30, one digit too many for (38, 8)), and so
            # would a unary minus.
            whole, fraction = "9" * (t.precision - t.scale), "9" * t.scale
            limit = decimal.Decimal(f"{whole or 0}.{fraction}" if fraction else whole)
            return st.decimals(
                min_value=limit.copy_negate(), max_value=limit, places=t.scale, allow_nan=False, allow_infinity=False
            )
        if lg == "uuid":
            return st.uuids()
        if lg == "date":
            return st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
        if lg == "time-millis":
            return st.times().map(lambda x: x.replace(microsecond=x.microsecond // 1000 * 1000))
        if lg == "time-micros":
            return st.times()
        naive = st.datetimes(_MIN_DT, _MAX_DT)
        if lg.endswith("millis"):
            naive = naive.map(lambda x: x.replace(microsecond=x.microsecond // 1000 * 1000))
        if lg.startswith("local-"):
            return naive
        return st.builds(lambda d, tz: d.replace(tzinfo=tz), naive, st.sampled_from(_TZS))

    # --- the same value as fastavro / Apache Avro take it ---------------------------------------

    def datum(self, t: AvroType, v: Any) -> Any:
        """The fastavro datum for Python value ``v`` of type ``t``."""
        if isinstance(t, (Primitive, Logical)):
            return v
        if isinstance(t, Array):
            return [self.datum(t.items, x) for x in v]
        if isinstance(t, Map):
            return {k: self.datum(t.values, x) for k, x in v.items()}
        if isinstance(t, Union):
            # fastavro's tuple notation names the branch, so both writers encode the same branch;
            # the round trip (decoded value == original, types included) checks the choice itself.
            branch = self.branch_of(t, v)
            return (_branch_name(branch), self.datum(branch, v))
        n = self.named[t.fullname]
        if isinstance(n, Enum):
            return v.value
        if isinstance(n, Fixed):
            return v
        assert isinstance(v, BaseModel)
        spec = self.py.field_specs(n)
        return {f.name: self.datum(f.type, getattr(v, s.name)) for s, f in zip(spec, n.fields)}

    def branch_of(self, t: Union, v: Any) -> AvroType:
        env = {"_dt": dt, "_decimal": decimal, "_uuid": uuid}
        for _, b in self.writer.union_dispatch(t):
            if eval(self.writer.union_check(b, "x"), {**env, **vars(self.module)}, {"x": v}):
                return b
        raise AssertionError(f"no branch for {v!r}")

    def plain(self, t: AvroType, v: Any, ref: Any) -> Any:
        """A representation-independent form of ``v`` for comparing decoders that use different
        Python types; ``ref`` is the model-side value, which says which union branch was written."""
        if v is None:
            return None
        if isinstance(t, Logical):
            lg = t.logical
            if lg == "decimal":
                return str(decimal.Decimal(v).normalize())
            if lg == "uuid":
                return str(v)
            if lg.startswith("local-timestamp"):
                if isinstance(v, int):  # the avro package ignores local-timestamp and returns the long
                    return v * (1000 if lg.endswith("millis") else 1)
                d = v - dt.datetime(1970, 1, 1)
                return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
            if lg.startswith("timestamp"):
                return v.astimezone(dt.UTC).isoformat()
            return v.isoformat()
        if isinstance(t, Array):
            return [self.plain(t.items, x, r) for x, r in zip(v, ref)]
        if isinstance(t, Map):
            return {k: self.plain(t.values, x, ref[k]) for k, x in v.items()}
        if isinstance(t, Union):
            return self.plain(self.branch_of(t, ref), v[1] if isinstance(v, tuple) else v, ref)
        if isinstance(t, NamedRef):
            n = self.named[t.fullname]
            if isinstance(n, Enum):
                return v.value if isinstance(v, PyEnum) else v
            if isinstance(n, Record):
                spec = self.py.field_specs(n)
                if isinstance(v, BaseModel):
                    return {
                        f.name: self.plain(f.type, getattr(v, s.name), getattr(ref, s.name))
                        for s, f in zip(spec, n.fields)
                    }
                return {f.name: self.plain(f.type, v[f.name], getattr(ref, s.name)) for s, f in zip(spec, n.fields)}
            return bytes(v)
        if t.name == "float":
            return float(v)
        return v


def _branch_name(t: AvroType) -> str:
    if isinstance(t, Logical):
        return _branch_name(t.base)
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, NamedRef):
        return t.fullname
    return "array" if isinstance(t, Array) else "map"
