"""How the importer maps each type family (README, "Importing Pydantic models"), read from the
schema :func:`plan` computes, and the one-line errors of what Avro cannot hold."""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

import pytest
from click.testing import CliRunner
from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime, computed_field

from schemabus.codegen.cli import main
from schemabus.codegen.importer.plan import plan


class Colour(enum.StrEnum):
    """A colour."""

    red = "red"
    blue = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Part(BaseModel):
    """A part."""

    colour: Colour = Field(Colour.blue, description="Its colour.")


class Everything(BaseModel):
    """One of each type family.

    A second paragraph.
    """

    price: Decimal = Field(max_digits=9, decimal_places=3, description="Price.")
    at: AwareDatetime = Field(description="Instant.")
    wall: NaiveDatetime = Field(description="Wall clock.")
    day: dt.date = Field(description="Day.")
    clock: dt.time = Field(description="Clock.")
    ident: uuid.UUID = Field(default_factory=uuid.uuid4, description="Id.")
    small: Annotated[int, Field(ge=0, le=100)] = Field(description="Small.")
    big: int = Field(description="Big.")
    ratio: float = Field(description="Ratio.")
    blob: bytes = Field(b"\x01", description="Blob.")
    flag: bool = Field(True, description="Flag.")
    level: Level = Field(Level.HIGH, description="Level.")
    kind: Literal["a", "b"] = Field("a", description="Kind.")
    note: str | None = Field(None, description="Note.")
    first: Part = Field(description="First part.")
    second: Part | None = Field(None, description="Second part.")
    parts: list[Part] = Field(default_factory=list, description="More parts.")
    by_name: dict[str, Colour] = Field(default_factory=dict, description="Colours by name.")
    camel_case: str = Field("x", alias="camelCase", description="Aliased.")
    number: float | int | bool = Field(description="A number.")
    code: Literal[200, 404] = Field(200, description="A status.")
    always: Literal[True] | None = Field(None, description="True or nothing.")


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema["fields"]}


def test_each_type_family_maps_to_its_avro_type() -> None:
    result = plan([Everything], [], "avro", "com.example")
    schema = json.loads(result.files["everything.avsc"])
    assert schema["namespace"] == "com.example" and schema["doc"].startswith("One of each type family.")
    f = _fields(schema)
    assert f["price"]["type"] == {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 3}
    assert f["at"]["type"]["logicalType"] == "timestamp-micros"
    assert f["wall"]["type"]["logicalType"] == "local-timestamp-micros"
    assert f["day"]["type"] == {"type": "int", "logicalType": "date"}
    assert f["clock"]["type"] == {"type": "long", "logicalType": "time-micros"}
    assert f["ident"]["type"] == {"type": "string", "logicalType": "uuid"} and "default" not in f["ident"]
    assert "computes the default (uuid4)" in f["ident"]["doc"]
    assert f["small"]["type"] == "int" and "ge=0, le=100" in f["small"]["doc"]
    assert f["big"]["type"] == "long" and f["ratio"]["type"] == "double"
    assert (f["blob"]["type"], f["blob"]["default"]) == ("bytes", "\x01")
    assert (f["flag"]["type"], f["flag"]["default"]) == ("boolean", True)
    assert (f["level"]["type"], f["level"]["default"]) == ("int", 2) and "LOW=1, HIGH=2" in f["level"]["doc"]
    assert (f["kind"]["type"], f["kind"]["default"]) == ("string", "a") and "One of: 'a', 'b'." in f["kind"]["doc"]
    assert (f["note"]["type"], f["note"]["default"]) == (["null", "string"], None)
    # A nested model is defined once, where first met, and named afterwards; so is an enum.
    part = f["first"]["type"]
    assert part["type"] == "record" and part["name"] == "Part" and part["doc"] == "A part."
    assert part["fields"][0]["type"] == {
        "type": "enum",
        "name": "Colour",
        "doc": "A colour.",
        "symbols": ["red", "blue"],
        "default": "red",
    }
    assert part["fields"][0]["default"] == "blue"
    assert f["second"]["type"] == ["null", "com.example.Part"]
    assert f["parts"]["type"] == {"type": "array", "items": "com.example.Part"} and f["parts"]["default"] == []
    assert f["by_name"]["type"] == {"type": "map", "values": "com.example.Colour"}
    assert f["camelCase"]["aliases"] == ["camel_case"] and f["camelCase"]["doc"] == "Aliased."
    # A writer takes the first branch that holds a value: bool before int before float.
    assert f["number"]["type"] == ["boolean", "long", "double"]
    assert (f["code"]["type"], f["code"]["default"]) == ("int", 200) and "One of: 200, 404." in f["code"]["doc"]
    assert f["always"]["type"] == ["null", "boolean"] and "Always True." in f["always"]["doc"]


def test_a_topic_places_the_file_and_the_namespace_and_gives_a_catalog_entry() -> None:
    result = plan([Part], ["shop.part.painted"], "avro", "com.example")
    assert list(result.files) == ["shop/part/painted.avsc"]
    assert json.loads(result.files["shop/part/painted.avsc"])["namespace"] == "com.example.shop.part"
    assert result.entries == ['[topics."shop.part.painted"]\nvalue = "shop/part/painted.avsc"\ndoc = "A part."\n']


def test_json_output_is_pydantics_schema_cleaned_for_a_registry() -> None:
    result = plan([Everything], [], "json", None)
    schema = json.loads(result.files["everything.schema.json"])
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Everything" and "Part" in schema["$defs"]
    assert schema["additionalProperties"] is True
    assert "camelCase" in schema["properties"]


class Cat(BaseModel):
    """A cat."""

    kind: Literal["cat"] = Field("cat", description="Tag.")


class Dog(BaseModel):
    """A dog."""

    kind: Literal["dog"] = Field("dog", description="Tag.")


class Pet(BaseModel):
    """A discriminated union."""

    pet: Annotated[Cat | Dog, Field(discriminator="kind")] = Field(description="The pet.")


def test_a_discriminated_union_is_a_union_of_records_and_json_loses_openapis_discriminator() -> None:
    avro = json.loads(plan([Pet], [], "avro", "pets").files["pet.avsc"])
    assert [branch["name"] for branch in avro["fields"][0]["type"]] == ["Cat", "Dog"]
    text = plan([Pet], [], "json", None).files["pet.schema.json"]
    assert "oneOf" in text and "discriminator" not in text


# --- errors ---------------------------------------------------------------------------------


class Thing:
    pass


class IntKeys(BaseModel):
    counts: dict[int, str]


class Anything(BaseModel):
    payload: Any


class Arbitrary(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    thing: Thing


class BareDecimal(BaseModel):
    amount: Decimal


class Dashed(enum.Enum):
    IN_PROGRESS = "in-progress"


class BadSymbol(BaseModel):
    state: Dashed


class Pair(BaseModel):
    pair: tuple[int, str]


class TwoLists(BaseModel):
    either: list[int] | list[str]


class DashedAlias(BaseModel):
    agent_id: str = Field(alias="agent-id")


class ClockDelta(BaseModel):
    elapsed: dt.timedelta


class BareList(BaseModel):
    items: list  # type: ignore[type-arg]


class MixedLiteral(BaseModel):
    code: Literal["a", 1]


class Mixed(enum.Enum):
    A = "a"
    B = 2


class MixedEnum(BaseModel):
    value: Mixed


ERRORS = [
    ("IntKeys", "field 'counts': dict[int, str]: Avro map keys are strings, not int"),
    ("Anything", "field 'payload': Any has no Avro type"),
    ("Arbitrary", "field 'thing': Thing has no Avro type"),
    ("BareDecimal", "field 'amount': Decimal needs max_digits and decimal_places"),
    ("BadSymbol", "field 'state': enum Dashed: value 'in-progress' is not an Avro enum symbol"),
    ("Pair", "field 'pair': tuple[int, str]: a fixed-length tuple has no Avro type"),
    ("TwoLists", "field 'either': a union may hold one array only"),
    ("DashedAlias", "field 'agent_id': 'agent-id' is not an Avro name"),
    ("ClockDelta", "field 'elapsed': timedelta has no Avro type"),
    ("BareList", "field 'items': list needs its item type"),
    ("MixedLiteral", "field 'code': Literal['a', 1]: only a Literal of str, of int or of bool values"),
    ("MixedEnum", "field 'value': enum Mixed: only enums of str values or of int values"),
]


@pytest.mark.parametrize(("model", "message"), ERRORS, ids=[m for m, _ in ERRORS])
def test_a_type_avro_cannot_hold_is_one_error_line_naming_model_and_field(
    tmp_path: Path, model: str, message: str
) -> None:
    run = CliRunner().invoke(main, ["import", "pydantic", f"{__name__}:{model}", "--out", str(tmp_path)])
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    lines = run.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {__name__}:{model}: {message}"), run.output
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no.such.module:X", "cannot import no.such.module: ModuleNotFoundError"),
        (f"{__name__}:Missing", f"{__name__} has no Missing"),
        (f"{__name__}:Thing", "Thing is not a Pydantic model"),
        ("nocolon", "name a model as module.path:ClassName"),
    ],
)
def test_a_model_that_cannot_be_found_is_one_error_line(tmp_path: Path, spec: str, message: str) -> None:
    run = CliRunner().invoke(main, ["import", "pydantic", spec, "--out", str(tmp_path)])
    assert run.exit_code == 2 and run.output.startswith(f"error: {spec}: {message}"), run.output


def test_a_topic_the_catalog_has_is_an_error_and_the_catalog_is_unchanged(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[topics."shop.part.painted"]\nvalue = "x.avsc"\n')
    args = ["import", "pydantic", f"{__name__}:Part", "--out", str(tmp_path), "--topic", "shop.part.painted"]
    run = CliRunner().invoke(main, [*args, "--catalog", str(catalog)])
    assert run.exit_code == 2 and "the catalog has this topic already" in run.output, run.output
    assert catalog.read_text() == '[topics."shop.part.painted"]\nvalue = "x.avsc"\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.toml"]  # and no schema file written


T = TypeVar("T")


class Box(BaseModel, Generic[T]):
    item: T


def _other_part() -> type[BaseModel]:
    class Part(BaseModel):  # the same name as the module's Part, in the same namespace
        size: int

    return Part


def test_two_classes_of_one_avro_name_or_a_parametrized_generic_are_errors() -> None:
    other = _other_part()
    with pytest.raises(Exception, match=r"two models would write one file"):
        plan([Part, other], [], "avro", "com.example")
    with pytest.raises(Exception, match=r"com\.example\.shop\.part\.Part is also the Avro name of"):
        plan([Part, other], ["shop.part.painted", "shop.part.sized"], "avro", "com.example")
    with pytest.raises(Exception, match=r"'Box\[int\]' is not an Avro name"):
        plan([Box[int]], [], "avro", "com.example")


class Stamped(BaseModel):
    """With a plain datetime and a computed field."""

    at: dt.datetime = Field(description="When.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def year(self) -> int:
        return self.at.year


def test_a_plain_datetime_and_a_computed_field_are_noted() -> None:
    warnings = plan([Stamped], [], "avro", "x").warnings
    assert any("field 'at': datetime is written as timestamp-micros" in w for w in warnings)
    assert any("computed field 'year' is not in the schema" in w for w in warnings)
    run = CliRunner().invoke(main, ["import", "pydantic", f"{__name__}:Stamped", "--out", "unused", "--topic", "a.b"])
    assert run.exit_code == 2 and "a topic name is {domain}.{entity}.{action}" in run.output, run.output


def test_without_catalog_the_entries_are_printed(tmp_path: Path) -> None:
    run = CliRunner().invoke(
        main,
        ["import", "pydantic", f"{__name__}:Part", f"{__name__}:Pet", "--out", str(tmp_path)]
        + ["--topic", "shop.part.painted", "--topic", "shop.pet.adopted"],
    )
    assert run.exit_code == 0, run.output
    assert '[topics."shop.part.painted"]\nvalue = "shop/part/painted.avsc"\ndoc = "A part."\n\n' in run.stdout
    assert (tmp_path / "shop" / "pet" / "adopted.avsc").is_file()
    one_topic = CliRunner().invoke(
        main, ["import", "pydantic", f"{__name__}:Part", f"{__name__}:Pet", "--out", str(tmp_path), "--topic", "a.b.c"]
    )
    assert one_topic.exit_code == 2 and "give one --topic per model (2 models, 1 topics)" in one_topic.output


class WithDefaults(BaseModel):
    """A default of every kind."""

    price: Decimal = Field(Decimal("-12.50"), max_digits=6, decimal_places=2)
    top_price: Decimal = Field(Decimal("9999.99"), max_digits=6, decimal_places=2)
    ident: uuid.UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
    day: dt.date = dt.date(2024, 2, 29)
    clock: dt.time = dt.time(23, 59, 59, 999_999)
    at: AwareDatetime = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    wall: NaiveDatetime = dt.datetime(1969, 12, 31, 23, 59, 59, 1)
    blob: bytes = b"\x00\xff\x80"
    colour: Colour = Colour.blue
    level: Level = Level.HIGH
    either: int | str = "x"
    maybe: int | None = 7
    counts: dict[str, int] = {"a": 1, "b": -2}
    parts: list[Part] = [Part(colour=Colour.red)]
    part: Part = Part()
    part_or_none: Part | None = Part()
    none_default: int = None  # type: ignore[assignment]
    text: str = "héllo"
    ratio: float = 0.5
    flag: bool = True
    tags: tuple[str, ...] = ("a", "b")


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def test_every_default_comes_back_from_the_generated_model(tmp_path: Path) -> None:
    (path,) = _write(tmp_path, plan([WithDefaults], [], "avro", "defaults").files)
    fields = _fields(json.loads(path.read_text()))
    assert fields["either"]["type"] == ["string", "long"] and fields["maybe"]["type"] == ["long", "null"]
    assert fields["none_default"]["type"] == ["null", "long"] and "default is None" in fields["none_default"]["doc"]
    run = CliRunner().invoke(main, ["generate", "-q", "--output", str(tmp_path / "defaults_pkg"), str(path)])
    assert run.exit_code == 0, run.output
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module("defaults_pkg").WithDefaults
    finally:
        sys.path.remove(str(tmp_path))
    assert _plain(generated().model_dump(by_alias=True)) == _plain(WithDefaults().model_dump(by_alias=True))


def _write(root: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for rel, text in files.items():
        (root / rel).write_text(text)
        paths.append(root / rel)
    return paths
