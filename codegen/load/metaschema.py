"""The metaschema check of JSON Schema files, fast for the valid ones.

The ``jsonschema`` package checks a document against its draft's metaschema and words what is wrong
with it, but importing it and walking a metaschema in Python cost more than the rest of a no-op
``schemabus check``. jsonschema-rs walks the same metaschema in a fraction of that time: the very
documents ``jsonschema`` uses (those of the jsonschema-specifications package, read from its files
without importing it, and given a private base URI so that jsonschema-rs cannot put copies of its
own in their place), formats not asserted, like ``jsonschema``'s metaschema validators.

Only its "valid" is trusted (:func:`accepts`): a document it refuses, or cannot take, goes to
``jsonschema``, which decides and words the errors. It is stricter than ``jsonschema`` in a few
corners (a ``$`` of a pattern before a final newline, NaN and infinite bounds), never more lenient:
tests/codegen/test_metaschema.py compares the two on every draft. Without jsonschema-specifications'
files (another layout), every document goes to ``jsonschema``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from .json_drafts import Draft

# jsonschema-specifications' folder of each draft: metaschema.json, and vocabularies/ from 2019-09 on.
_FOLDERS = {
    Draft.DRAFT4: "draft4",
    Draft.DRAFT6: "draft6",
    Draft.DRAFT7: "draft7",
    Draft.DRAFT2019_09: "draft201909",
    Draft.DRAFT2020_12: "draft202012",
}
_HOSTS = ("http://json-schema.org/", "https://json-schema.org/")
_PRIVATE_HOST = "https://metaschemas.schemabus.invalid/"

_VALIDATORS: dict[Draft, Any] = {}


def accepts(document: Any, draft: Draft) -> bool:
    """True when ``document`` is valid under ``draft``'s metaschema; False when it may not be (then
    ask ``jsonschema``)."""
    if draft not in _VALIDATORS:
        _VALIDATORS[draft] = _validator(draft)
    validator = _VALIDATORS[draft]
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(document))
    except Exception:  # a value jsonschema-rs cannot take: jsonschema decides
        return False


def _validator(draft: Draft) -> Any:
    """A jsonschema-rs validator of ``draft``'s metaschema, or None without its documents."""
    spec = importlib.util.find_spec("jsonschema_specifications")  # finds the package, runs none of it
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "schemas" / _FOLDERS[draft]
    try:
        root = _private(json.loads((folder / "metaschema.json").read_text(encoding="utf-8")))
        vocabularies = [
            _private(json.loads(path.read_text(encoding="utf-8")))
            for path in sorted((folder / "vocabularies").glob("*"))
            if path.is_file()
        ]
    except (OSError, ValueError):
        return None
    if draft.order >= Draft.DRAFT2019_09.order and not vocabularies:
        return None
    import jsonschema_rs

    cls = {
        Draft.DRAFT4: jsonschema_rs.Draft4Validator,
        Draft.DRAFT6: jsonschema_rs.Draft6Validator,
        Draft.DRAFT7: jsonschema_rs.Draft7Validator,
        Draft.DRAFT2019_09: jsonschema_rs.Draft201909Validator,
        Draft.DRAFT2020_12: jsonschema_rs.Draft202012Validator,
    }[draft]
    try:
        registry = jsonschema_rs.Registry([(v["$id"], v) for v in vocabularies]) if vocabularies else None
        return cls(root, validate_formats=False, registry=registry, retriever=_retrieve)
    except Exception:  # documents jsonschema-rs does not read as expected: jsonschema decides
        return None


def _private(node: Any) -> Any:
    """``node`` with every ``$id`` / ``id`` of json-schema.org moved to a private host (relative
    ``$ref``s follow, so the documents still refer to each other and to nothing else)."""
    if isinstance(node, list):
        return [_private(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("$id", "id") and isinstance(value, str) and value.startswith(_HOSTS):
            value = _PRIVATE_HOST + value.split("json-schema.org/", 1)[1]
        out[key] = _private(value)
    return out


def _retrieve(uri: str) -> Any:
    """Nothing is fetched: every document a metaschema refers to is in the registry."""
    raise LookupError(f"{uri} is not a metaschema document")
