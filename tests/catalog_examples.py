"""Examples of every topic of this repository's catalog, drawn from its schemas, for the tests that
round-trip them (in memory and on Kafka): the topic specs, the generated descriptors, publishers
and handler stubs by topic name, and hypothesis strategies for each topic's key and value models."""

from __future__ import annotations

import importlib
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import platform_events as pe
from schemabus.codegen.config import load_config
from schemabus.codegen.ir import NamedRef
from schemabus.codegen.pipeline import load_project
from schemabus.runtime import Handler, Publisher, Topic

from .codegen.avro_strategies import Models
from .codegen.test_json_roundtrip import FORMATS, inline
from .conftest import ROOT

CONFIG = load_config(ROOT / "pyproject.toml")
PROJECT = load_project(CONFIG)
MODELS = Models(PROJECT.named, importlib.import_module(f"{CONFIG.package}.avro_models"))
TOPICS = {t.name: t for t in PROJECT.topics}


def _strategy(file: str | None, kind: str) -> st.SearchStrategy[Any]:
    if kind == "string":
        return st.text(max_size=20)
    assert file is not None
    if file.endswith(".avsc"):
        root = PROJECT.avro[file].root
        assert isinstance(root, NamedRef)
        return MODELS.strategy(root)
    docs = {f: s.document for f, s in PROJECT.json.items()}
    return from_schema(inline(file, docs[file], docs), custom_formats=FORMATS)


def generated_topic(name: str) -> Topic[Any, Any]:
    return getattr(pe, name.replace(".", "_").upper())  # type: ignore[no-any-return]


def _pascal(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("."))


def publisher(name: str) -> type[Publisher[Any, Any]]:
    return getattr(pe, f"{_pascal(name)}Publisher")  # type: ignore[no-any-return]


def handler(name: str) -> type[Handler[Any, Any]]:
    return getattr(pe, f"{_pascal(name)}Handler")  # type: ignore[no-any-return]


def records(name: str) -> st.SearchStrategy[tuple[Any, Any]]:
    """(key, value) of topic ``name`` as its generated publisher takes them (key None without a key schema)."""
    spec, topic = TOPICS[name], generated_topic(name)

    def as_model(serde: Any, drawn: Any) -> Any:
        return drawn if serde is None or isinstance(drawn, serde.type) else serde.type.model_validate(drawn)

    value = _strategy(spec.value.file, spec.value.kind).map(lambda v: as_model(topic.value, v))
    key = _strategy(spec.key.file, spec.key.kind).map(lambda k: as_model(topic.key, k)) if spec.key else st.none()
    return st.tuples(key, value)


def examples(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same on every run (derandomized, no database)."""
    drawn: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Any) -> None:
        drawn.append(example)

    collect()
    return drawn[:count]
