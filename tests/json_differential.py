"""Differential checks of generated JSON Schema models against the reference validator.

For a schema file, instances come from hypothesis-jsonschema; the reference is the ``jsonschema``
package (the file's draft, formats asserted) validating the bundled schema as registered. Then:

* an instance the reference accepts must be accepted by the model (JSON mode, as a user parses)
  and by the serde (as a consumer reads it), and written back by the serde as the same document;
* a mutated instance the reference refuses must be refused by the serde, and publishing it must
  fail (the model refuses it, or the serde does).

Every disagreement is a string naming the file, the instance and what went wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import idna
import jsonschema
import jsonschema.validators
import pydantic
import regress
from hypothesis import strategies as st

from schemabus.codegen.ir import JsonSchemaFile
from schemabus.runtime import DeserializationError, JsonSerde

# Formats in the subset the typed models represent exactly (see README, "JSON Schema"): years from 1,
# at most microseconds. hypothesis-jsonschema's own strategies also draw year 0 and longer fractions,
# which the models refuse or truncate (tested as known disagreements in test_json_differential).
_OFFSETS = [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(-dt.timedelta(hours=8))]
FORMATS: dict[str, st.SearchStrategy[str]] = {
    "date-time": st.datetimes(min_value=dt.datetime(1, 1, 2), timezones=st.sampled_from(_OFFSETS)).map(
        lambda d: d.isoformat()
    ),
    "date": st.dates().map(str),
    "uuid": st.uuids().map(str),
    "email": st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8})?@[a-z]{1,8}\.(com|org|io)", fullmatch=True),
    "uri": st.from_regex(r"https://[a-z]{1,10}\.(com|org)(/[a-z0-9]{1,8}){0,2}", fullmatch=True),
}
# What hypothesis-jsonschema knows; other formats are dropped from the schema it draws from.
_KNOWN_FORMATS = {
    *FORMATS,
    "time",
    "hostname",
    "ipv4",
    "ipv6",
    "uri-reference",
    "iri",
    "iri-reference",
    "json-pointer",
    "relative-json-pointer",
    "regex",
    "color",
    "idn-email",
    "idn-hostname",
}


@dataclass
class JsonCase:
    """One schema file with its generated model and serde."""

    label: str
    schema: JsonSchemaFile
    model: type[pydantic.BaseModel]
    serde: JsonSerde[Any]
    disagreements: list[str] = field(default_factory=list)
    valid: int = 0
    refused: int = 0

    known: list[str] = field(default_factory=list)  # disagreements the README lists

    def __post_init__(self) -> None:
        self._reference = reference_validator(json.loads(self.schema.bundled), self.schema.draft.metaschema)

    def reference_accepts(self, instance: Any) -> bool:
        return bool(self._reference.is_valid(instance))

    def check_valid(self, instance: Any) -> None:
        """``instance`` is valid for the reference: model and serde accept it and write it back."""
        self.valid += 1
        text = json.dumps(instance)
        try:
            self.model.model_validate_json(text)
        except pydantic.ValidationError as e:
            if self._typeless_root() and not isinstance(instance, dict):
                self.known.append(f"{self.label}: {json.dumps(instance)[:80]}: a root without type is an object")
                return
            self._disagree(instance, f"the model refuses a valid document: {_first_error(e)}")
            return
        try:
            value = self.serde.deserialize(b"\0\0\0\0\1" + text.encode(), 1, None)
        except DeserializationError as e:
            if 'is not a "hostname"' in str(e) and _UPPER_ACE.search(text):
                self.known.append(f"{self.label}: {text[:80]}: an upper-case ACE prefix in a hostname")
                return
            self._disagree(instance, f"the serde refuses a valid document: {e}")
            return
        try:
            written = json.loads(self.serde.encode(value))
        except ValueError as e:
            self._disagree(instance, f"the serde cannot write back a valid document: {e}")
            return
        if canonical(written) != canonical(instance):
            self._disagree(instance, f"written back as {json.dumps(written)[:300]}")

    def check_refused(self, mutant: Any) -> None:
        """``mutant`` is invalid for the reference: the serde refuses to read it, and publishing it either
        fails or (where pydantic converts a Python value, ``True`` to ``1``) writes a valid document."""
        self.refused += 1
        text = json.dumps(mutant)
        try:
            self.serde.deserialize(b"\0\0\0\0\1" + text.encode(), 1, None)
            self._disagree(mutant, "the serde reads a document the reference refuses")
        except DeserializationError:
            pass
        try:
            value = self.model.model_validate(mutant)
        except (pydantic.ValidationError, TypeError):
            return
        try:
            written = json.loads(self.serde.encode(value))
        except ValueError:
            return
        if not self.reference_accepts(written):
            self._disagree(mutant, f"published as {json.dumps(written)[:300]}, which the reference refuses")

    def _typeless_root(self) -> bool:
        """The README's listed disagreement: a root without ``"type"`` is modelled as an object."""
        root = self.schema.normalized
        return isinstance(root, dict) and "type" not in root and not issubclass(self.model, pydantic.RootModel)

    def _disagree(self, instance: Any, what: str) -> None:
        self.disagreements.append(f"{self.label}: {json.dumps(instance)[:300]}: {what}")


def reference_validator(schema: Any, metaschema: str) -> Any:
    """The reference: ``jsonschema``'s validator of the draft ``metaschema`` names, every format asserted,
    patterns read as ECMA-262 (:func:`_ascii_patterns`), and three keywords as JSON Schema defines them
    where the package approximates:

    * ``multipleOf`` in decimal arithmetic on the numbers as written (the package divides floats:
      it refuses 0.3 as a multiple of 0.1 and accepts 1320.6000000000001 as one of 0.01);
    * the ``regex`` format as an ECMA-262 regular expression in Unicode mode (``regress``; the package
      compiles Python's dialect, which reads ``a?+`` and ``\\A``);
    * the ``hostname`` format also holds a label with ``--`` in its third and fourth places to be an
      A-label, ``xn--`` and valid Punycode (RFC 5891 4.2.3.1; the package reads only RFC 1123).
    """
    cls = jsonschema.validators.validator_for({"$schema": metaschema})
    checker = jsonschema.FormatChecker()
    checker.checkers = dict(cls.FORMAT_CHECKER.checkers)
    checker.checks("regex", raises=regress.RegressError)(_is_ecma_regex)
    host = checker.checkers.get("hostname")
    if host is not None:
        checker.checks("hostname", raises=host[1])(lambda v: host[0](v) and _a_labels_valid(v))
    exact = jsonschema.validators.extend(cls, {"multipleOf": _multiple_of})
    return exact(_ascii_patterns(schema), format_checker=checker)


def _is_ecma_regex(instance: object) -> bool:
    return not isinstance(instance, str) or bool(regress.Regex(instance, "u"))


def _a_labels_valid(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    for label in instance.split("."):
        if label[2:4] == "--":
            if label[:4].lower() != "xn--":
                return False
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return False
    return True


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    if not validator.is_type(instance, "number"):
        return
    if (Fraction(Decimal(repr(instance))) / Fraction(Decimal(repr(divisor)))).denominator != 1:
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {divisor!r}")


# jsonschema-rs reads the ACE prefix case-sensitively: it refuses a valid A-label spelled XN--.
_UPPER_ACE = re.compile(r"(^|[.\"])(?!xn--)[xX][nN]--")


def _ascii_patterns(node: Any) -> Any:
    """The schema with its patterns in ECMA-262's sense for Python's ``re``: JSON Schema's regex
    dialect reads ``\\d`` and ``\\w`` as ASCII classes (Python: Unicode), its ``.`` stops at every
    line terminator (Python: only at ``\\n``), its ``$`` only at the end (Python: also before a final
    ``\\n``)."""
    if isinstance(node, list):
        return [_ascii_patterns(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = _ascii(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {_ascii(p): _ascii_patterns(v) for p, v in value.items()}
        elif key in ("enum", "const", "default", "examples"):
            out[key] = value
        else:
            out[key] = _ascii_patterns(value)
    return out


_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_"}


def _ascii(pattern: str) -> str:
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _CLASSES:
                out.append(_CLASSES[nxt] if in_class else f"[{_CLASSES[nxt]}]")
            elif nxt.lower() in _CLASSES and not in_class:
                out.append(f"[^{_CLASSES[nxt.lower()]}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif c == "." and not in_class:
            c = "[^\n\r\u2028\u2029]"
        elif c == "$" and not in_class:
            c = "\\Z"
        out.append(c)
        i += 1
    return "".join(out)


def _first_error(e: pydantic.ValidationError) -> str:
    err = e.errors()[0]
    return f"{'/'.join(str(p) for p in err['loc'])}: {err['msg']}"


_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def canonical(value: Any) -> Any:
    """A JSON value with the spellings a typed model may change made equal: date-times as instants
    (``Z`` and ``+00:00`` alike), UUIDs in lower case. Numbers compare as numbers (1 == 1.0)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, str):
        match = _DATE_TIME.fullmatch(value)
        if match:  # the instant to the second, and the fraction's digits exactly (none are lost)
            whole = value[: match.start(1)] + value[match.end(1) :] if match.group(1) else value
            text = whole.replace("z", "Z").replace("t", "T").replace(" ", "T").replace("Z", "+00:00")
            try:
                return ("date-time", dt.datetime.fromisoformat(text), (match.group(1) or ".").rstrip("0"))
            except ValueError:
                return value
        if _UUID.fullmatch(value):
            return value.lower()
    return value


# --- what hypothesis-jsonschema draws from ---------------------------------------------------


def generation_schema(schema: JsonSchemaFile, depth: int = 3) -> Any:
    """The file's schema for hypothesis-jsonschema: every ``$ref`` inlined (recursion cut after
    ``depth`` levels with ``false``, which only narrows what is drawn: every instance is checked
    against the real schema), in the draft-07 spelling it reads, unknown formats dropped."""
    index = schema.index
    assert index is not None

    def convert(node: Any, file: str, at: str, budget: int) -> Any:
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), str):
            if budget == 0:
                return False
            target = index.resolve(file, at, node["$ref"])
            inner = convert(target.schema, target.file, target.pointer, budget - 1)
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {"allOf": [inner, convert(rest, file, at, budget)]} if _asserts(rest) else inner
        out: dict[str, Any] = {}
        for key, value in node.items():
            where = f"{at}/{key}"
            if key in _DROP or (key == "format" and value not in _KNOWN_FORMATS):
                continue
            if key in ("properties", "patternProperties", "dependentSchemas"):
                target_key = "dependencies" if key == "dependentSchemas" else key
                out.setdefault(target_key, {}).update(
                    {n: convert(v, file, f"{where}/{n}", budget) for n, v in value.items()}
                )
            elif key == "dependentRequired":
                out.setdefault("dependencies", {}).update(value)
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [convert(v, file, f"{where}/{i}", budget) for i, v in enumerate(value)]
            elif key == "prefixItems":
                out["items"] = [convert(v, file, f"{where}/{i}", budget) for i, v in enumerate(value)]
            elif key == "items":
                converted = convert(value, file, where, budget)
                out["additionalItems" if "prefixItems" in node else "items"] = converted
            elif key in ("additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"):
                out[key] = convert(value, file, where, budget)
            else:
                out[key] = value
        return out

    return convert(schema.normalized, schema.file, "", depth)


_DROP = frozenset(
    {
        "$defs",
        "definitions",
        "$id",
        "$anchor",
        "$schema",
        "$comment",
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
        "contentSchema",
        "minContains",
        "maxContains",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)


def _asserts(node: dict[str, Any]) -> bool:
    return any(k not in ("title", "description", "$comment", "default", "examples") for k in node)


# --- mutations --------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutants(draw: Callable[..., Any], instance: Any) -> Any:
    """``instance`` with one change: a value replaced by any JSON, an object property removed or added,
    an array item removed."""
    paths = list(_paths(instance))
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(["replace", "remove", "add"]))
    copy = json.loads(json.dumps(instance))
    parent, key = None, None
    node = copy
    for step in path:
        parent, key = node, step
        node = node[step]
    if op == "add" and isinstance(node, dict):
        node[draw(st.text(max_size=6))] = draw(_JSON)
        return copy
    if op == "remove" and parent is not None:
        del parent[key]  # type: ignore[arg-type]
        return copy
    replacement = draw(_JSON)
    if parent is None:
        return replacement
    parent[key] = replacement  # type: ignore[index]
    return copy


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Any:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))
