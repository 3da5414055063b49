"""Examples of every topic of this repository's catalog, drawn from its schemas, for the tests that
round-trip them (in memory and on Kafka): the topic specs, the generated descriptors, publishers
and handler stubs by topic name, and hypothesis strategies for each topic's key and value models;
and one fixed cost event (decimals, a date, a local timestamp) for the tests that need one."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import platform_events as m
import platform_events as pe
from schemabus.codegen.config import load_config
from schemabus.codegen.ir import NamedRef
from schemabus.codegen.pipeline import load_project
from schemabus.runtime import Handler, Publisher, Topic

from .codegen.avro_strategies import Models, merged
from .conftest import ROOT
from .json_differential import FORMATS, generation_schema

CONFIG = load_config(ROOT / "pyproject.toml")
PROJECT = load_project(CONFIG)
MODELS = Models(PROJECT.named, merged(CONFIG.package, "avro_models"))
TOPICS = {t.name: t for t in PROJECT.topics}


def _strategy(file: str | None, kind: str) -> st.SearchStrategy[Any]:
    if kind == "string":
        return st.text(max_size=20)
    assert file is not None
    if file.endswith(".avsc"):
        root = PROJECT.avro[file].root
        assert isinstance(root, NamedRef)
        return MODELS.strategy(root)
    return from_schema(generation_schema(PROJECT.json[file]), custom_formats=FORMATS, codec="utf-8")


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
    )
    @given(strategy)
    def collect(example: Any) -> None:
        drawn.append(example)

    collect()
    # Every example drawn is valid (nothing filters them), so a shortfall means the strategy broke.
    assert len(drawn) >= count, f"hypothesis drew {len(drawn)} examples, not {count}"
    return drawn[:count]


def cost_recorded() -> tuple[m.CostRecordedKey, m.CostRecorded]:
    usage = uuid.UUID("5a9e1f0c-2b7d-4c1e-8f3a-6d2c9b8e7f10")
    value = m.CostRecorded.model_validate(
        {
            "token_usage_id": usage,
            "tenant_id": "tenant-7",
            "model": "gpt-x",
            "prompt_tokens": 1200,
            "completion_tokens": 350,
            "prompt_unit_price": Decimal("0.00000300"),
            "completion_unit_price": Decimal("0.00001500"),
            "prompt_cost": Decimal("0.00360000"),
            "completion_cost": Decimal("0.00525000"),
            "total_cost": Decimal("0.00885000"),
            "billing_date": dt.date(2026, 11, 28),
            "usage_local_time": dt.datetime(2026, 11, 28, 13, 0, 0),
            "timestamp": dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC),
        }
    )
    return m.CostRecordedKey(tenant_id="tenant-7", token_usage_id=str(usage)), value
