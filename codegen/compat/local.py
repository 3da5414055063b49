"""Compare schema files directly, without git or a registry (like Confluent's
``test-local-compatibility``): ``schemabus check --level LEVEL --previous V1 --previous V2 NEW``;
or schema texts as a registry holds them (:func:`check_texts`, the in-memory registry's check).

The format follows the file extension (``.avsc`` Avro, ``.json`` JSON Schema). Each file is one
version; an Avro file must be self-contained (named types used by full name must be defined in
it), a JSON Schema file may ``$ref`` other files beside it, which are read from disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..diagnostics import SchemaError, SchemaErrors, Source
from ..load.avro import read_json
from ..load.jsonschema import load_json_schema_files, ref_target, refs
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
    """The ``$ref`` of ``node`` that name another file."""
    return [ref for _, ref in refs(node) if not ref.startswith("#")]


def check_files(level: str, previous: list[Path], new: Path) -> list[Finding]:
    """Findings of ``level`` for ``new`` against ``previous`` (oldest first)."""
    formats = {_format(p) for p in [*previous, new]}
    if len(formats) > 1:
        raise SchemaError(Source(str(new)), "all versions must have the same format (all .avsc or all .json)")
    files = [(str(p), p) for p in [*previous, new]]
    if formats == {"AVRO"}:
        avro = _load_all(files, load_avro_version)
        return check_level(level, avro[-1], avro[:-1], avro_can_read)
    documents = _load_all(files, load_json_version)
    return check_level(level, documents[-1], documents[:-1], json_can_read)


def check_texts(
    level: str, schema_type: str, new: tuple[str, str], previous: Sequence[tuple[str, str]]
) -> list[Finding]:
    """Findings of ``level`` for the schema text ``new`` against ``previous`` (oldest first), each a
    ``(label, text)`` pair as a registry holds it: a self-contained Avro schema (``schema_type``
    ``"AVRO"``) or JSON Schema document (``"JSON"``). Labels name the versions in the findings; a
    text that does not load raises :class:`SchemaErrors`."""
    texts = [*previous, new]
    if schema_type == "AVRO":
        avro = _load_all([(label, (label, text)) for label, text in texts], _avro_text)
        return check_level(level, avro[-1], avro[:-1], avro_can_read)
    if schema_type == "JSON":
        documents = _load_all([(label, (label, text)) for label, text in texts], _json_text)
        return check_level(level, documents[-1], documents[:-1], json_can_read)
    raise ValueError(f"no compatibility rules for schema type {schema_type!r} (expected AVRO or JSON)")


def _avro_text(labelled: tuple[str, str]) -> AvroVersion:
    return AvroVersion.load([labelled], labelled[0])


def _json_text(labelled: tuple[str, str]) -> JsonVersion:
    label, text = labelled
    return JsonVersion(label, read_json(text, Source(label)))


S = TypeVar("S")
T = TypeVar("T")


def _load_all(items: list[tuple[str, T]], load: Callable[[T], S]) -> list[Version[S]]:
    """Every ``(label, item)`` loaded; the errors of all of them reported together."""
    errors: list[SchemaError] = []
    versions: list[Version[S]] = []
    for label, item in items:
        try:
            versions.append(Version(label, load(item)))
        except SchemaErrors as e:
            errors += e.errors
        except SchemaError as e:
            errors.append(e)
    if errors:
        raise SchemaErrors(errors)
    return versions
