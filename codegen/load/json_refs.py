"""``$ref`` across JSON Schema files: by relative path, by ``$id`` (absolute URIs too, as registry
references work), by JSON pointer and by anchor.

Every file is a resource at ``file:///<its path under the schemas directory>``; a ``$id`` (at its
root or inside it) makes the schema under it a resource at that URI, resolved against the
enclosing base as RFC 3986 says. A ``$ref`` resolves against the base of the schema it is written
in; when no file has the URI it names and the ``$ref`` is a relative path, it is tried as a path
relative to the file, so ``"../common/address.schema.json"`` works with or without ``$id``s.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from schemabus.runtime.json_walk import children

from ..diagnostics import resolve_pointer
from .json_drafts import Draft, PointerMap, normalize

_FILE_ROOT = "file:///"


def file_uri(file: str) -> str:
    """The retrieval URI of a schema file (its path relative to the schemas directory, or absolute)."""
    return _FILE_ROOT + urllib.parse.quote(file.lstrip("/"))


@dataclass(frozen=True)
class NormalizedDoc:
    """One file: as written, in the 2020-12 dialect, and how the two relate."""

    file: str
    raw: Any
    normalized: Any
    draft: Draft
    moves: PointerMap


@dataclass(frozen=True)
class Target:
    """What a ``$ref`` points at: the schema (normalized), and where it is."""

    file: str
    pointer: str  # in the normalized document ("" when the target is not part of the document tree)
    written: str  # the pointer in the file as written
    schema: Any
    by_path: bool = False  # found as a path relative to the file, not through the URIs of $ids


class RefError(LookupError):
    """A ``$ref`` that resolves to nothing; the message says why."""


class RefIndex:
    """The resources and anchors of a set of files, for resolving ``$ref``."""

    def __init__(self, docs: dict[str, NormalizedDoc]) -> None:
        self.docs = docs
        self._resources: dict[str, tuple[str, str]] = {}  # uri -> (file, normalized pointer)
        self._anchors: dict[tuple[str, str], tuple[str, str]] = {}  # (resource uri, anchor) -> same
        self._bases: dict[str, dict[str, str]] = {}  # file -> {normalized pointer of a $id: base uri}
        self._detached: dict[tuple[str, str], Any] = {}
        for file, doc in docs.items():
            self._bases[file] = {}
            self._index(file, doc.normalized, "", file_uri(file), is_root=True)

    def _index(self, file: str, node: Any, at: str, base: str, *, is_root: bool = False) -> None:
        if isinstance(node, list):
            for i, v in enumerate(node):
                self._index(file, v, f"{at}/{i}", base)
            return
        if not isinstance(node, dict):
            return
        if is_root:
            self._resources.setdefault(base, (file, at))
        ident = node.get("$id")
        if isinstance(ident, str) and ident:
            base = urllib.parse.urldefrag(urllib.parse.urljoin(base, ident))[0]
            self._resources.setdefault(base, (file, at))
            self._bases[file][at] = base
        elif is_root:
            self._bases[file][at] = base
        anchor = node.get("$anchor")
        if isinstance(anchor, str):
            self._anchors.setdefault((base, anchor), (file, at))
        for where, value in children(node, at):
            self._index(file, value, where, base)

    def base_uri(self, file: str, at: str) -> str:
        """The base URI of the schema at normalized pointer ``at`` of ``file``."""
        bases = self._bases[file]
        best = ""
        for prefix in bases:
            if len(prefix) > len(best) and (at == prefix or at.startswith(prefix + "/")):
                best = prefix
        return bases.get(best, file_uri(file))

    def resolve(self, file: str, at: str, ref: str) -> Target:
        """The target of ``ref`` written in the schema at normalized pointer ``at`` of ``file``."""
        full = urllib.parse.urljoin(self.base_uri(file, at), ref)
        uri, fragment = urllib.parse.urldefrag(full)
        found = self._resources.get(uri)
        path = ref.partition("#")[0]
        by_path = False
        if found is None and path and "://" not in path and not path.startswith("urn:"):
            uri = urllib.parse.urldefrag(urllib.parse.urljoin(file_uri(file), path))[0]
            found = self._resources.get(uri)
            by_path = True
        if found is None:
            if ("://" in uri and not uri.startswith(_FILE_ROOT)) or uri.startswith("urn:"):
                raise RefError(f"remote $ref {ref!r}: no schema file has the $id {uri!r}")
            missing = urllib.parse.unquote(uri.removeprefix(_FILE_ROOT))
            raise RefError(f"$ref {ref!r}: no schema file {('/' if file.startswith('/') else '') + missing!r}")
        target_file, root = found
        fragment = urllib.parse.unquote(fragment)
        if fragment and not fragment.startswith("/"):
            anchored = self._anchors.get((uri, fragment))
            if anchored is None:
                raise RefError(f"$ref {ref!r}: no anchor {fragment!r} in {target_file}")
            target_file, root = anchored
            fragment = ""
        return self._at(target_file, root, fragment, ref, by_path)

    def _at(self, file: str, root: str, fragment: str, ref: str, by_path: bool) -> Target:
        doc = self.docs[file]
        written_root = doc.moves.original(root)
        written = written_root + fragment
        position = doc.moves.positions.get(written)
        if position is not None:
            return Target(file, position, written, resolve_pointer(doc.normalized, position), by_path)
        # Not a schema the file holds where a schema keyword expects one (say, under an unknown
        # keyword): read it as a schema of the file's draft on its own.
        try:
            raw = resolve_pointer(doc.raw, written)
        except LookupError:
            raise RefError(f"$ref {ref!r}: nothing at #{fragment} in {file}") from None
        key = (file, written)
        if key not in self._detached:
            self._detached[key] = normalize(raw, doc.draft)[0]
        return Target(file, "", written, self._detached[key], by_path)
