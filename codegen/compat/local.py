"""Compare schema files directly, without git or a registry (like Confluent's
``test-local-compatibility``): ``schemabus check --level LEVEL --previous V1 --previous V2 NEW``.

The format follows the file extension (``.avsc`` Avro, ``.json`` JSON Schema). Each file is one
version; an Avro file must be self-contained (named types used by full name must be defined in
it), a JSON Schema file may ``$ref`` other files beside it, which are read from disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..diagnostics import SchemaError, SchemaErrors, Source
from ..load.avro import read_json
from ..load.jsonschema import load_json_schema_files, ref_target
from .avro_rules import AvroVersion
from .avro_rules import can_read as avro_can_read
from .findings import Finding
from .json_rules import JsonVersion
from .json_rules import can_read as json_can_read
from .levels import Version, check_level


def _format(path: Path) -> str:
    if path.suffix == ".avsc":
        return "AVRO"
    if path.suffix == ".json":
        return "JSON"
    raise SchemaError(Source(str(path)), "unknown schema file type (expected .avsc or .json)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SchemaError(Source(str(path)), f"cannot read: {e}") from None


def load_avro_version(path: Path) -> AvroVersion:
    name = str(path)
    return AvroVersion.load([(name, _read(path))], name)


def load_json_version(path: Path) -> JsonVersion:
    """The file and every file its ``$ref``s reach by relative path (read from disk), validated;
    messages name each file by its path as given."""
    root = path.parent
    texts: dict[str, str] = {}
    queue = [path.name]
    while queue:
        rel = queue.pop()
        if str(root / rel) in texts:
            continue
        file = root / rel
        if not file.is_file():
            continue  # reported by the loader as an unresolvable $ref
        texts[str(file)] = _read(file)
        document = read_json(texts[str(file)], Source(str(file)))
        queue += [t for t, _ in (ref_target(rel, r) for r in _refs(document)) if t != rel]
    loaded = load_json_schema_files(sorted(texts.items()))
    schema = loaded[str(path)]
    return JsonVersion(str(path), schema.document, schema.index, schema.draft)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#") else []
        for k, v in node.items():
            if k not in ("const", "enum", "default", "examples"):
                out += _refs(v)
        return out
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def check_files(level: str, previous: list[Path], new: Path) -> list[Finding]:
    """Findings of ``level`` for ``new`` against ``previous`` (oldest first)."""
    formats = {_format(p) for p in [*previous, new]}
    if len(formats) > 1:
        raise SchemaError(Source(str(new)), "all versions must have the same format (all .avsc or all .json)")
    if formats == {"AVRO"}:
        avro = _load_all([*previous, new], load_avro_version)
        return check_level(level, avro[-1], avro[:-1], avro_can_read)
    documents = _load_all([*previous, new], load_json_version)
    return check_level(level, documents[-1], documents[:-1], json_can_read)


S = TypeVar("S")


def _load_all(paths: list[Path], load: Callable[[Path], S]) -> list[Version[S]]:
    """Every file loaded; the errors of all of them reported together."""
    errors: list[SchemaError] = []
    versions: list[Version[S]] = []
    for p in paths:
        try:
            versions.append(Version(str(p), load(p)))
        except SchemaErrors as e:
            errors += e.errors
        except SchemaError as e:
            errors.append(e)
    if errors:
        raise SchemaErrors(errors)
    return versions
