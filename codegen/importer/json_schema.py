"""A model's JSON Schema as a registry takes it: pydantic's own ``model_json_schema()``, cleaned.

- mode ``serialization``: the schema of what the model writes (``model_dump_json``), which is what
  a consumer reads off the topic;
- ``$schema`` says the draft pydantic writes (2020-12), ``title`` is the model's name, ``$defs`` stay;
- ``discriminator`` (an OpenAPI keyword pydantic adds beside ``oneOf``) is dropped: JSON Schema does
  not define it and the ``oneOf`` says the same;
- an object with properties and no ``additionalProperties`` says ``true``: pydantic's default
  (``extra="ignore"``) accepts other properties, and lint's JSON_ADDITIONAL_PROPERTIES asks for it
  to be said.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NOT_JSON_SCHEMA = ("discriminator",)


def registry_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = clean(model.model_json_schema(by_alias=True, mode="serialization"))
    schema["title"] = model.__name__
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
