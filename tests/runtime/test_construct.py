"""The decoders build models without validating them again, by writing pydantic's private attributes:
``runtime.avro.construct`` for the Python codec, ``construct_model`` in runtime/_speedups.c for the
compiled one. Both are pinned here to the pydantic range pyproject.toml supports: a model they build is
one ``model_validate`` would have built."""

from __future__ import annotations

import copy
import pickle
import tomllib
from typing import Any

import pydantic
import pytest
from packaging.requirements import Requirement

import platform_events as m
from platform_events.cost import avro_codecs as codecs
from schemabus.runtime import avro as rt
from schemabus.runtime.speedups import compiled_reader

from ..catalog_examples import cost_recorded
from ..conftest import ROOT


def _supported() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (spec,) = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "pydantic"]
    return spec


def test_the_installed_pydantic_is_in_the_supported_range() -> None:
    """A pydantic outside the range (a new major) may keep its state elsewhere: review construct and
    construct_model, then widen the range in pyproject.toml."""
    assert _supported().specifier.contains(pydantic.VERSION), (pydantic.VERSION, str(_supported()))


def _python_decode(data: bytes) -> m.CostRecorded:
    model, end = codecs._r_CostRecorded(data, 0)
    assert end == len(data)
    return model


def _compiled_decode(data: bytes) -> m.CostRecorded:
    read = compiled_reader(codecs._P_CostRecorded)
    if read is None:
        pytest.fail("the compiled codec is not built")
    model, end = read(data, 0)
    assert end == len(data)
    return model  # type: ignore[no-any-return]


@pytest.mark.parametrize("decode", [_python_decode, _compiled_decode], ids=["python", "compiled"])
def test_a_decoded_model_is_the_validated_model(decode: Any) -> None:
    _, value = cost_recorded()
    data = bytes(codecs.cost_recorded_serde.encode(value))
    built = decode(data)
    validated = m.CostRecorded.model_validate(value.model_dump())
    assert type(built) is m.CostRecorded
    assert built.__dict__ == validated.__dict__
    assert built.model_fields_set == validated.model_fields_set == set(m.CostRecorded.model_fields)
    assert built.__pydantic_extra__ is validated.__pydantic_extra__ is None
    assert built.__pydantic_private__ is validated.__pydantic_private__ is None
    assert built == validated and repr(built) == repr(validated)
    assert built.model_dump(mode="json") == validated.model_dump(mode="json")
    # What users do with models afterwards: copy, pickle, change a field.
    assert built.model_copy(update={"model": "other"}).model == "other"
    assert pickle.loads(pickle.dumps(built)) == validated
    assert copy.deepcopy(built) == validated
    changed = built.model_copy()
    changed.tenant_id = "tenant-8"
    assert changed.tenant_id == "tenant-8" and built.tenant_id == "tenant-7"


def test_construct_sets_what_model_construct_sets() -> None:
    _, value = cost_recorded()
    values = dict(value.__dict__)
    built = rt.construct(m.CostRecorded, dict(values), frozenset(values))
    reference = m.CostRecorded.model_construct(**values)
    for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(built, name) == getattr(reference, name), name
