"""Load JSON Schema files: check them against their metaschema, resolve ``$ref`` across files, bundle."""

from __future__ import annotations

import copy
import json
import posixpath
from collections.abc import Iterable
from typing import Any

import jsonschema
import jsonschema.validators

from ..diagnostics import SchemaError, SchemaErrors, Source, resolve_pointer
from ..ir import JsonSchemaFile
from .avro import read_json

_META_VALIDATORS: dict[type, Any] = {}


def _meta_validator(doc: dict[str, Any]) -> Any:
    """The validator of the document's own metaschema (by its ``$schema``), built once per draft."""
    cls = jsonschema.validators.validator_for(doc, default=jsonschema.Draft202012Validator)
    if cls not in _META_VALIDATORS:
        _META_VALIDATORS[cls] = cls(cls.META_SCHEMA)
    return _META_VALIDATORS[cls]


def _refs(node: Any, path: tuple[str | int, ...] = ()) -> Iterable[tuple[str, tuple[str | int, ...]]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref, path + ("$ref",)
        for k, v in node.items():
            if k not in ("const", "enum", "default", "examples"):
                yield from _refs(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _refs(v, path + (i,))


def _resolve_pointer(doc: Any, fragment: str) -> bool:
    try:
        resolve_pointer(doc, fragment)
    except LookupError:
        return False  # also anchors, which the generator does not support
    return True


def ref_target(file: str, ref: str) -> tuple[str, str]:
    """``(target file, fragment)`` of a ``$ref`` written in ``file`` (paths relative to the schemas dir)."""
    target, _, fragment = ref.partition("#")
    if not target:
        return file, fragment
    return posixpath.normpath(posixpath.join(posixpath.dirname(file), target)), fragment


def load_json_schema_files(files: Iterable[tuple[str, str]], display_prefix: str = "") -> dict[str, JsonSchemaFile]:
    """Parse and check ``(path relative to the schemas dir, text)`` pairs; errors name the file and pointer."""
    docs: dict[str, Any] = {}
    texts: dict[str, str] = {}
    errors: list[SchemaError] = []
    for file, text in files:
        texts[file] = text
        src = Source(display_prefix + file)
        try:
            doc = read_json(text, src)
            if not isinstance(doc, dict):
                raise SchemaError(src, "a JSON Schema file must hold an object")
            err = jsonschema.exceptions.best_match(_meta_validator(doc).iter_errors(doc))
            if err is not None:
                raise SchemaError(src.at(*err.absolute_path), err.message)
            docs[file] = doc
        except SchemaError as e:
            errors.append(e)
    for file, doc in docs.items():
        src = Source(display_prefix + file)
        for ref, path in _refs(doc):
            if "://" in ref:
                errors.append(SchemaError(src.at(*path), f"remote $ref {ref!r} is not supported; use a relative path"))
                continue
            target, fragment = ref_target(file, ref)
            if target not in docs:
                errors.append(SchemaError(src.at(*path), f"$ref {ref!r}: no schema file {target!r}"))
            elif not _resolve_pointer(docs[target], fragment):
                errors.append(SchemaError(src.at(*path), f"$ref {ref!r}: nothing at #{fragment} in {target}"))
    if errors:
        raise SchemaErrors(errors)
    return {
        file: JsonSchemaFile(file, doc, bundle(file, docs), str(doc.get("title") or ""), texts[file])
        for file, doc in docs.items()
    }


def bundle(file: str, docs: dict[str, Any]) -> str:
    """One self-contained document: every file it references is embedded under ``$defs`` by its ``$id``
    (a JSON Schema 2020-12 compound document), so relative ``$ref``s keep resolving unchanged."""
    root = copy.deepcopy(docs[file])
    root.setdefault("$id", file)
    needed: list[str] = []
    queue = [file]
    while queue:
        current = queue.pop()
        for ref, _ in _refs(docs[current]):
            target, _ = ref_target(current, ref)
            if target != file and target not in needed:
                needed.append(target)
                queue.append(target)
    if needed:
        defs = root.setdefault("$defs", {})
        for target in sorted(needed):
            embedded = copy.deepcopy(docs[target])
            embedded.pop("$schema", None)
            # A relative $id resolves against the root's base, exactly as the $ref that names it does.
            embedded["$id"] = posixpath.relpath(target, posixpath.dirname(file) or ".")
            defs[target] = embedded
    return json.dumps(root, separators=(",", ":"), ensure_ascii=False)
