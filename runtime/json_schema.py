"""Building blocks of the models generated from JSON Schema, and the validator their serdes use.

A generated model never refuses a document its schema accepts, and refuses what it can express
(types, required properties, closed objects, bounds, lengths, patterns, tuples, literals). What a
model cannot express (``not``, ``if``/``then``/``else``, ``uniqueItems``, ``oneOf``'s "exactly
one", ``patternProperties``, ...) the serde checks: :class:`~schemabus.runtime.serde.JsonSerde`
validates every document it writes or reads against the schema (:func:`document_validator`).

Absent and ``null`` are different in JSON Schema, and models keep them apart: an optional property
that is absent is ``pydantic.MISSING`` (and is left out when the model is written), ``None`` is
``null``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, Never, get_args

import pydantic
from pydantic_core import core_schema

from .json_walk import DATA_KEYWORDS, NAME_MAPS

__all__ = ["VARIADIC", "JsonRecord", "NonArray", "NonObject", "Nothing", "document_validator"]


class JsonRecord(pydantic.BaseModel):
    """The base of every model generated from a JSON Schema object.

    Properties the schema does not list are kept (and written back) unless the schema closes the
    object (``additionalProperties: false``, then ``extra="forbid"``). Fields are set by their
    Python name or their JSON name. Patterns are ECMA-262 in JSON Schema; Python's ``re`` reads
    the same syntax for what models check (lookaround included), where Rust's regex engine does not.
    """

    model_config = pydantic.ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        regex_engine="python-re",
        allow_inf_nan=False,
        defer_build=True,  # models build on first use: importing a package of many models stays cheap
    )


# The base itself (no fields) builds now: pydantic's first build in a process looks up its plugins
# (a scan of installed packages' entry points, about 20 ms), a cost for import, not for a first record.
JsonRecord.model_rebuild(force=True)


# JSON values that are not objects (resp. not arrays): a schema with object (array) keywords and no
# "type" accepts every other kind of value unchanged.
NonObject = bool | int | float | str | list[pydantic.JsonValue] | None
NonArray = bool | int | float | str | dict[str, pydantic.JsonValue] | None


class _Refuse:
    """The schema ``false``: no value is valid."""

    def __get_pydantic_core_schema__(self, source: Any, handler: pydantic.GetCoreSchemaHandler) -> Any:
        def refuse(value: Any) -> Any:
            raise ValueError("no value is allowed here (the schema is false)")

        return core_schema.no_info_plain_validator_function(refuse)


Nothing = Annotated[Never, _Refuse()]


class _Variadic:
    """``Annotated[tuple[A, B, *tuple[T, ...]], VARIADIC]``: the tuple pydantic cannot read from that
    annotation by itself (items A and B, then any number of T), as JSON Schema's ``prefixItems`` with
    ``items`` writes it."""

    def __get_pydantic_core_schema__(self, source: Any, handler: pydantic.GetCoreSchemaHandler) -> Any:
        *prefix, rest = get_args(source)
        (unpacked,) = get_args(rest)  # Unpack[tuple[T, ...]]
        item = get_args(unpacked)[0]
        items = [handler.generate_schema(a) for a in prefix] + [handler.generate_schema(item)]
        return core_schema.tuple_schema(items, variadic_item_index=len(prefix))


VARIADIC = _Variadic()


def validator_class(draft: str) -> Any:
    """jsonschema-rs's validator class of a draft (``draft-07``, ``2020-12``, ...)."""
    import jsonschema_rs

    return {
        "draft-04": jsonschema_rs.Draft4Validator,
        "draft-06": jsonschema_rs.Draft6Validator,
        "draft-07": jsonschema_rs.Draft7Validator,
        "2019-09": jsonschema_rs.Draft201909Validator,
        "2020-12": jsonschema_rs.Draft202012Validator,
    }[draft]


def _assertions_only(node: Any, *, names: bool = False) -> Any:
    """The schema without ``contentEncoding``/``contentMediaType``: annotations in every draft (a
    validator *may* check them), which jsonschema-rs would check, and the reference does not.
    ``names``: ``node`` maps names to schemas (a property may be called "default")."""
    if isinstance(node, list):
        return [_assertions_only(v) for v in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {k: _assertions_only(v) for k, v in node.items()}
    return {
        k: v if k in DATA_KEYWORDS else _assertions_only(v, names=k in NAME_MAPS)
        for k, v in node.items()
        if not (k in ("contentEncoding", "contentMediaType") and isinstance(v, str))
    }


@functools.cache
def document_validator(schema: str, draft: str) -> Callable[[Any], None]:
    """A function that raises ``ValueError`` (with the first violation, its location and the
    keyword) when a JSON document does not satisfy ``schema`` read as JSON Schema ``draft``.

    jsonschema-rs validates (formats included, as Confluent's validators do), about 1 µs for an
    event of a dozen properties.
    """
    validator = validator_class(draft)(_assertions_only(json.loads(schema)), validate_formats=True)
    is_valid = validator.is_valid

    def validate(document: Any) -> None:
        if not is_valid(document):
            error = next(iter(validator.iter_errors(document)))
            where = "".join(f"/{p}" for p in error.instance_path) or "/"
            keyword = "/".join(str(p) for p in error.schema_path)
            raise ValueError(f"{where}: {error.message} (schema {keyword})")

    return validate
