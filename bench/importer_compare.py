"""Compare ``schemabus import pydantic`` with pydantic-avro, py-avro-schema and dataclasses-avroschema
on the same Pydantic models, one probe per type family (README, "Importing Pydantic models").

Each probe is a model built on each tool's base class (``pydantic.BaseModel`` for schemabus and
py-avro-schema, ``pydantic_avro.AvroBase``, ``dataclasses_avroschema.pydantic.AvroBaseModel``) with the
same fields; the table shows the Avro type each tool writes for the probe's field, ``error`` when
the tool refuses the model (that is right for the last probes: Avro cannot hold them), and what a
tool does silently instead. Needs the ``bench`` extra (``pip install -e '.[bench]'``).

    python bench/importer_compare.py            # a Markdown table on stdout
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime, create_model

from schemabus.codegen.importer.plan import plan


class Colour(enum.Enum):
    """A str enum."""

    red = "red"
    blue = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


# name -> (annotation, default or Field): the probe model's single field "value".
PROBES: dict[str, tuple[Any, Any]] = {
    "Decimal(max_digits=10, decimal_places=2)": (Decimal, Field(max_digits=10, decimal_places=2)),
    "AwareDatetime": (AwareDatetime, ...),
    "NaiveDatetime": (NaiveDatetime, ...),
    "datetime": (dt.datetime, ...),
    "date": (dt.date, ...),
    "time": (dt.time, ...),
    "UUID": (uuid.UUID, ...),
    "str Enum, default blue": (Colour, Colour.blue),
    "IntEnum": (Level, ...),
    'Literal["a", "b"]': (Literal["a", "b"], ...),
    "int | None = None": (int | None, None),
    "int, ge=0 le=100": (Annotated[int, Field(ge=0, le=100)], ...),
    "float | int": (float | int, ...),
    "bytes": (bytes, ...),
    "dict[str, int]": (dict[str, int], ...),
    'alias="valueX"': (str, Field(alias="valueX")),
    "default_factory=uuid4": (uuid.UUID, Field(default_factory=uuid.uuid4)),
    "dict[int, str]": (dict[int, str], ...),
    "Any": (Any, ...),
    "timedelta": (dt.timedelta, ...),
}


def _schemabus(model: type[BaseModel]) -> dict[str, Any]:
    (text,) = plan([model], [], "avro", "bench").files.values()
    return dict(json.loads(text))


def _pydantic_avro(model: type[BaseModel]) -> dict[str, Any]:
    return dict(model.avro_schema())  # type: ignore[attr-defined]


def _py_avro_schema(model: type[BaseModel]) -> dict[str, Any]:
    import py_avro_schema as pas

    return dict(json.loads(pas.generate(model, namespace="bench")))


def _dataclasses_avroschema(model: type[BaseModel]) -> dict[str, Any]:
    return dict(json.loads(model.avro_schema()))  # type: ignore[attr-defined]


def _tools() -> dict[str, tuple[type[BaseModel], Callable[[type[BaseModel]], dict[str, Any]]]]:
    from dataclasses_avroschema.pydantic import AvroBaseModel
    from pydantic_avro import AvroBase

    return {
        "schemabus": (BaseModel, _schemabus),
        "pydantic-avro": (AvroBase, _pydantic_avro),
        "py-avro-schema": (BaseModel, _py_avro_schema),
        "dataclasses-avroschema": (AvroBaseModel, _dataclasses_avroschema),
    }


def field_of(schema: dict[str, Any]) -> str:
    """The probe's field, shortened: its type, and its default and aliases where set."""
    (field,) = schema["fields"]
    shown = _short(field["type"])
    if "default" in field:
        default = field["default"]
        # A factory's value frozen into the schema differs on every run: say what it is instead.
        shown += " = a random UUID" if _is_uuid(default) else f" = {json.dumps(default)}"
    aliases = ",".join(field.get("aliases", []))
    if field["name"] != "value" or aliases:
        shown += f" (name {field['name']}{', aliases ' + aliases if aliases else ''})"
    return shown


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _short(t: Any) -> str:
    if isinstance(t, list):
        return "[" + ", ".join(_short(b) for b in t) + "]"
    if isinstance(t, str):
        return t
    if "logicalType" in t:
        extra = f"({t['precision']},{t['scale']})" if t["logicalType"] == "decimal" else ""
        return f"{t['type']}:{t['logicalType']}{extra}"
    if t["type"] == "enum":
        default = f" default {t['default']}" if "default" in t else ""
        return f"enum{t['symbols']}{default}".replace("'", "")
    if t["type"] == "map":
        return f"map<{_short(t['values'])}>"
    if t["type"] == "array":
        return f"array<{_short(t['items'])}>"
    return str(t.get("type"))


def run() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for probe, (annotation, default) in PROBES.items():
        row = table.setdefault(probe, {})
        for tool, (base, to_schema) in _tools().items():
            try:
                model = create_model("Probe", __base__=base, value=(annotation, default))
                row[tool] = field_of(to_schema(model))
            except Exception as e:  # any refusal, by pydantic or the tool, is the tool's answer
                row[tool] = f"error ({type(e).__name__})"
    return table


def markdown(table: dict[str, dict[str, str]]) -> str:
    tools = list(_tools())
    lines = ["| field | " + " | ".join(tools) + " |", "| --- |" + " --- |" * len(tools)]
    for probe, row in table.items():
        cells = [row[t].replace("|", "\\|") for t in tools]
        lines.append(f"| `{probe.replace('|', chr(92) + '|')}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import importlib.metadata as md

    versions = ", ".join(f"{p} {md.version(p)}" for p in ("pydantic-avro", "py-avro-schema", "dataclasses-avroschema"))
    print(f"<!-- bench/importer_compare.py; {versions}; pydantic {md.version('pydantic')} -->")
    print(markdown(run()), end="")
