"""Load JSON Schema files: read each in its draft, check it against that draft's metaschema, bring it
into one dialect (:mod:`.json_drafts`), resolve every ``$ref`` (:mod:`.json_refs`), bundle."""

from __future__ import annotations

import copy
import functools
import json
import posixpath
import urllib.parse
from collections.abc import Iterable
from typing import Any

from schemabus.runtime.json_walk import children, escape, schema_objects

from ..diagnostics import SchemaError, SchemaErrors, Source, resolve_pointer
from ..ir import JsonSchemaFile
from .avro import read_json
from .json_drafts import DEFAULT_DRAFT, Draft, declared_draft, known_drafts, normalize, parse_draft
from .json_refs import NormalizedDoc, RefError, RefIndex
from .metaschema import accepts

_META_VALIDATORS: dict[Draft, Any] = {}


def _meta_validator(draft: Draft) -> Any:
    """The validator of ``draft``'s metaschema, built once per draft."""
    if draft not in _META_VALIDATORS:
        import jsonschema.validators

        cls = jsonschema.validators.validator_for({"$schema": draft.metaschema})
        _META_VALIDATORS[draft] = cls(cls.META_SCHEMA)
    return _META_VALIDATORS[draft]


def _metaschema_errors(doc: Any, draft: Draft) -> list[Any]:
    """The violations of ``draft``'s metaschema in ``doc`` (``jsonschema`` errors), most general first.

    jsonschema-rs checks first (about 100 times faster on 2020-12's metaschema), against the metaschema
    documents of the ``jsonschema`` package (:mod:`.metaschema`; jsonschema-rs's own draft-04 accepts an
    empty or repeated ``enum``); the ``jsonschema`` package, whose error messages schemabus words, reads
    only a document it refuses.
    """
    if not isinstance(doc, dict):
        return []  # a boolean schema, valid from draft-06 on (draft-04 is refused before)
    if accepts(doc, draft):
        return []
    return sorted(_meta_validator(draft).iter_errors(doc), key=lambda e: list(e.absolute_path))


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_JSON_TYPE_NAMES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def _metaschema_message(err: Any, draft: Draft) -> str:
    """One sentence for a metaschema violation, with values as JSON (never Python reprs)."""
    kind, expected, instance = err.validator, err.validator_value, err.instance
    if isinstance(instance, bool) and draft is Draft.DRAFT4 and expected == "object":
        return 'draft-04 has no boolean schemas: write {} for true and {"not": {}} for false'
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{_show(instance)} is not of type {' or '.join(_show(t) for t in types)}"
    if kind == "enum":
        return f"{_show(instance)} is not one of {_show(expected)}"
    if kind == "required":
        missing = [name for name in expected if isinstance(instance, dict) and name not in instance]
        return f"{_show(missing[0] if missing else expected)} is required"
    if kind in ("minimum", "exclusiveMinimum", "minItems", "minLength", "minProperties"):
        return f"{_show(instance)} is below the {kind} of {_show(expected)}"
    if kind in ("maximum", "exclusiveMaximum", "maxItems", "maxLength", "maxProperties"):
        return f"{_show(instance)} is above the {kind} of {_show(expected)}"
    if kind == "uniqueItems":
        return f"{_show(instance)} has repeated items"
    if kind == "pattern":
        return f"{_show(instance)} does not match {_show(expected)}"
    if kind == "format":
        return f"{_show(instance)} is not a valid {_show(expected)}"
    if kind in ("anyOf", "oneOf") and isinstance(instance, bool) and draft is Draft.DRAFT4:
        return 'draft-04 has no boolean schemas: write {} for true and {"not": {}} for false'
    return f"{_show(instance)} is not valid under the {draft.value} metaschema ({kind}: {_show(expected, 60)})"


def _draft_of(doc: Any, src: Source, default: Draft) -> Draft:
    declared = declared_draft(doc)
    if declared is None:
        return default
    draft = parse_draft(declared)
    if draft is None:
        raise SchemaError(
            src.at("$schema"),
            f"unknown $schema {_show(declared)}: schemabus reads JSON Schema {known_drafts()} "
            f"(a file without $schema is {default.value})",
        )
    return draft


def load_json_schema_files(
    files: Iterable[tuple[str, str]], display_prefix: str = "", default_draft: Draft = DEFAULT_DRAFT
) -> dict[str, JsonSchemaFile]:
    """Parse and check ``(path relative to the schemas dir, text)`` pairs; errors name the file and pointer.

    Every error of every file is collected and raised together as :class:`SchemaErrors`.
    """
    docs: dict[str, NormalizedDoc] = {}
    texts: dict[str, str] = {}
    errors: list[SchemaError] = []
    for file, text in files:
        texts[file] = text
        src = Source(display_prefix + file)
        try:
            doc = read_json(text, src)
            if not isinstance(doc, dict | bool):
                raise SchemaError(src, f"a JSON Schema file must hold an object or a boolean, not {_show(doc)}")
            draft = _draft_of(doc, src, default_draft)
            if isinstance(doc, bool) and draft is Draft.DRAFT4:
                raise SchemaError(src, 'draft-04 has no boolean schemas; write {} for true, {"not": {}} for false')
            found = _metaschema_errors(doc, draft)
            if found:
                import jsonschema.exceptions

                for err in found[:1] + [e for e in found[1:] if e.absolute_path != found[0].absolute_path][:4]:
                    best = jsonschema.exceptions.best_match([err])
                    errors.append(SchemaError(src.at(*best.absolute_path), _metaschema_message(best, draft)))
                continue
            normalized, moves = normalize(doc, draft)
            errors += [
                SchemaError(Source(src.file, moves.original(at)), why)
                for at, why in _foreign_patterns(normalized, draft)
            ]
            docs[file] = NormalizedDoc(file, doc, normalized, draft, moves)
        except SchemaError as e:
            errors.append(e)
    index = RefIndex(docs)
    for file, doc in docs.items():
        for at, ref in refs(doc.normalized):
            src = Source(display_prefix + file, doc.moves.original(at + "/$ref"))
            try:
                target = index.resolve(file, at, ref)
            except RefError as e:
                errors.append(SchemaError(src, str(e)))
                continue
            other = docs[target.file].draft
            if other is not doc.draft:
                errors.append(
                    SchemaError(
                        src,
                        f"$ref {ref!r} leads to {target.file}, written in JSON Schema {other.value} while this file "
                        f"is {doc.draft.value}; files that refer to each other must use one draft",
                    )
                )
    if errors:
        raise SchemaErrors(errors)
    return {
        file: JsonSchemaFile(
            file,
            doc.raw,
            bundle(file, index),
            _title(doc.raw),
            texts[file],
            draft=doc.draft,
            normalized=doc.normalized,
            moves=doc.moves,
            index=index,
        )
        for file, doc in docs.items()
    }


def _foreign_patterns(node: Any, draft: Draft, at: str = "") -> Iterable[tuple[str, str]]:
    """``(pointer, why)`` of each ``pattern`` and ``patternProperties`` key of a normalized document
    that is not an ECMA-262 regular expression, JSON Schema's dialect: the serdes' validator
    (jsonschema-rs) could not read it, so the document could never be checked."""
    if isinstance(node, list):
        for i, v in enumerate(node):
            yield from _foreign_patterns(v, draft, f"{at}/{i}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        where = at + "/" + escape(key)
        if key == "pattern" and isinstance(value, str) and not _ecma_regex(value, draft):
            yield where, f"pattern {_show(value)} is not a regular expression of JSON Schema's dialect (ECMA-262)"
        elif key == "patternProperties" and isinstance(value, dict):
            for pattern in value:
                if not _ecma_regex(pattern, draft):
                    yield where, f"patternProperties key {_show(pattern)} is not an ECMA-262 regular expression"
    for where, value in children(node, at):
        yield from _foreign_patterns(value, draft, where)


@functools.cache
def _ecma_regex(pattern: str, draft: Draft) -> bool:
    from schemabus.runtime.json_schema import validator_class

    try:
        validator_class(draft.value)({"pattern": pattern})
    except ValueError:  # jsonschema_rs.ValidationError: the regex format of its metaschema
        return False
    return True


def index_documents(documents: dict[str, Any], default_draft: Draft = DEFAULT_DRAFT) -> RefIndex:
    """A :class:`RefIndex` of already checked documents (``{file: document as written}``), each read in
    its declared draft (``default_draft`` when it declares none)."""
    docs = {}
    for file, raw in documents.items():
        draft = parse_draft(declared_draft(raw) or "") or default_draft
        normalized, moves = normalize(raw, draft)
        docs[file] = NormalizedDoc(file, raw, normalized, draft, moves)
    return RefIndex(docs)


def _title(doc: Any) -> str:
    return str(doc.get("title") or "") if isinstance(doc, dict) else ""


def refs(node: Any, at: str = "") -> Iterable[tuple[str, str]]:
    """``(pointer of the schema holding it, $ref)`` for every ``$ref`` of a normalized document."""
    return ((where, n["$ref"]) for where, n in schema_objects(node, at) if isinstance(n.get("$ref"), str))


def ref_target(file: str, ref: str) -> tuple[str, str]:
    """``(target file, fragment)`` of a relative-path ``$ref`` written in ``file`` (paths relative to
    the schemas dir); see :class:`RefIndex` for ``$id`` and anchors."""
    target, _, fragment = ref.partition("#")
    if not target:
        return file, fragment
    return posixpath.normpath(posixpath.join(posixpath.dirname(file), target)), fragment


def bundle(file: str, index: RefIndex) -> str:
    """One self-contained document, as registered: the file, with every file it references embedded
    under ``$defs`` (``definitions`` before 2019-09) by path, and every ``$ref`` rewritten to a JSON
    pointer from the document's root. No ``$id`` is left below the root, so the document means the
    same to every validator, whatever base URI it assumes."""
    doc = index.docs[file]
    if not isinstance(doc.raw, dict):
        return json.dumps(doc.raw)
    container = "$defs" if doc.draft.order >= Draft.DRAFT2019_09.order else "definitions"
    if isinstance(doc.raw.get(container), dict) and any(k in doc.raw[container] for k in index.docs if k != file):
        raise SchemaError(Source(file, "/" + container), "a definition is named like a schema file; rename it")
    included = [file]
    for current in included:  # grows while it is walked: every file reached from this one
        for at, ref in refs(index.docs[current].normalized):
            reached = index.resolve(current, at, ref).file
            if reached not in included:
                included.append(reached)

    def place(target: str) -> str:
        return "" if target == file else "/" + container + "/" + target.replace("~", "~0").replace("/", "~1")

    copies: dict[str, Any] = {}
    for current in included:
        cdoc = index.docs[current]
        out = copy.deepcopy(cdoc.raw)
        for written in cdoc.moves.positions:
            node = resolve_pointer(out, written)
            if isinstance(node, dict) and (written or current != file):
                node.pop("$id", None)
                if cdoc.draft is Draft.DRAFT4:
                    node.pop("id", None)
        for at, ref in refs(cdoc.normalized):
            found = index.resolve(current, at, ref)
            node = resolve_pointer(out, cdoc.moves.original(at))
            # A URI fragment: the pointer percent-encoded (RFC 6901, section 6).
            fragment = urllib.parse.quote(place(found.file) + found.written, safe="/~!$&'()*+,;=:@")
            node["$ref" if "$ref" in node else "$dynamicRef"] = "#" + fragment
        copies[current] = out
    _check_dynamic_anchors(copies)
    root = copies[file]
    if "$schema" not in root and doc.draft is not DEFAULT_DRAFT:
        root["$schema"] = doc.draft.metaschema
    if len(included) > 1:
        defs = root.setdefault(container, {})
        for current in sorted(included[1:]):
            embedded = copies[current]
            if isinstance(embedded, dict):
                embedded.pop("$schema", None)
            defs[current] = embedded
    return json.dumps(root, separators=(",", ":"), ensure_ascii=False)


def _check_dynamic_anchors(copies: dict[str, Any]) -> None:
    """The bundle is one schema resource: a ``$dynamicAnchor`` that two resources declare (two files,
    or a subschema with an ``$id`` of its own, as generic "list of T" schemas do) would be declared
    twice in it, and a ``$dynamicRef`` to it would mean something else, or nothing, to a validator.
    That is refused, naming both places, rather than registered with another meaning."""
    seen: dict[str, tuple[str, str]] = {}
    for current, out in copies.items():
        for at, name in _dynamic_anchors(out):
            first = seen.setdefault(name, (current, at))
            if first != (current, at):
                raise SchemaError(
                    Source(current, at or "/"),
                    f'$dynamicAnchor "{name}" is declared here and at {first[0]}#{first[1] or "/"}: the schema '
                    "registered is one document (its files, and its subschemas with an $id, merged), where a "
                    "$dynamicRef to it would mean something else; schemabus does not support that",
                )


def _dynamic_anchors(node: Any) -> Iterable[tuple[str, str]]:
    return ((at, n["$dynamicAnchor"]) for at, n in schema_objects(node) if isinstance(n.get("$dynamicAnchor"), str))
