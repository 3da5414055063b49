"""A model's JSON Schema as a registry takes it: pydantic's own ``model_json_schema()``, cleaned.

- mode ``serialization``: the schema of what the model writes (``model_dump_json``), which is what
  a consumer reads off the topic;
- ``$schema`` says the draft pydantic writes (2020-12), ``title`` is the model's name, ``$defs`` stay,
  and the root has the model's docstring as its description (pydantic leaves it on the ``$defs``
  entry of a recursive model);
- ``discriminator`` (an OpenAPI keyword pydantic adds beside ``oneOf``) is dropped: JSON Schema does
  not define it and the ``oneOf`` says the same;
- a ``NaiveDatetime`` is a string of the local date-time pattern, not ``format: date-time``, and a
  ``time`` one of the time-of-day pattern (offset optional), not ``format: time``: RFC 3339 defines
  both formats with an offset, so validators (and the generated model) refuse a naive value there;
- an object with properties and no ``additionalProperties`` says ``true``: pydantic's default
  (``extra="ignore"``) accepts other properties, and lint's JSON_ADDITIONAL_PROPERTIES asks for it
  to be said.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from .avro_types import own_doc

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NOT_JSON_SCHEMA = ("discriminator",)
LOCAL_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"
TIME_OF_DAY = r"^[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$"


class RegistrySchema(GenerateJsonSchema):
    """Pydantic's generator, with the types whose JSON Schema says more than their JSON holds."""

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        if schema.get("tz_constraint") == "naive":
            return {"type": "string", "pattern": LOCAL_DATETIME}
        return super().datetime_schema(schema)

    def time_schema(self, schema: core_schema.TimeSchema) -> JsonSchemaValue:
        if schema.get("tz_constraint") == "aware":
            return super().time_schema(schema)
        return {"type": "string", "pattern": TIME_OF_DAY}


def registry_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = clean(model.model_json_schema(by_alias=True, mode="serialization", schema_generator=RegistrySchema))
    schema["title"] = model.__name__
    doc = own_doc(model)
    if doc and "description" not in schema:  # a recursive model's root is a $ref to its $defs entry
        schema["description"] = doc
    return {"$schema": DRAFT, **schema}


def clean(node: Any) -> Any:
    """``node`` without keywords JSON Schema does not define, its objects' openness said."""
    if isinstance(node, list):
        return [clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: clean(v) for k, v in node.items() if k not in _NOT_JSON_SCHEMA}
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = True
    return out
