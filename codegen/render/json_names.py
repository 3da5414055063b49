"""The names of the JSON models: classes from titles, definition keys, file names and properties,
unique in the module; attributes from property names. Every identifier is made in :mod:`..naming`."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from .. import naming
from ..ir import JsonSchemaFile
from .json_schemas import Key, escape, title

# Module-level names of the generated module (imported under underscore aliases).
MODULE_IMPORTS = frozenset({"_dt", "_js", "_pd", "_t", "_te", "_uuid", "MISSING"})


class JsonNames:
    """The class name of each named location, and every name the module's classes and fields take."""

    def __init__(self, files: dict[str, JsonSchemaFile], taken: set[str] | frozenset[str] = frozenset()) -> None:
        self._taken: set[str] = set(taken) | set(MODULE_IMPORTS)
        self._names: dict[Key, str] = {}
        self._copies: dict[tuple[str, str], str] = {}
        self._attributes: set[str] = set()  # every field name: class names avoid them, and vice versa
        self._name_files(files)

    def _name_files(self, files: dict[str, JsonSchemaFile]) -> None:
        """Each file's root, and each entry of its ``$defs``/``definitions``."""
        for file in sorted(files):
            doc = files[file].normalized
            self.name((file, ""), title(doc) or _file_stem(file), file)
            if isinstance(doc, dict):
                for container in ("$defs", "definitions"):
                    defs = doc.get(container)
                    if isinstance(defs, dict):
                        for key, sub in defs.items():
                            where = "/" + container + "/" + escape(key)
                            wanted = title(sub) or key
                            # The same definition copied into several files is one type.
                            same = (wanted, json.dumps(sub, sort_keys=True))
                            if "$ref" not in same[1] and same in self._copies:
                                self._names[(file, where)] = self._copies[same]
                            else:
                                self._copies[same] = self.name((file, where), wanted, file)

    def get(self, key: Key) -> str | None:
        return self._names.get(key)

    def locations(self) -> list[Key]:
        """Every location named so far."""
        return list(self._names)

    def name(self, key: Key, wanted: str, file: str) -> str:
        """The name of the class at ``key``: given once, ``wanted`` if it is free, else with its file's
        name (and then its folders') in front, else numbered."""
        if key in self._names:
            return self._names[key]
        candidates = [naming.pascal(wanted)]
        stem = naming.pascal(_file_stem(file))
        if stem != candidates[0]:
            candidates.append(stem + candidates[0])
        parts = [naming.pascal(p) for p in posixpath.dirname(file).split("/") if p]
        if parts:
            candidates.append("".join(parts) + candidates[-1])
        for name in candidates:
            free = name not in self._taken and name not in self._attributes
            if free and naming.class_name(name, set()) == name:  # not a keyword or a reserved name
                self._taken.add(name)
                self._names[key] = name
                return name
        name = naming.class_name(candidates[-1], self._taken | self._attributes)
        self._taken.add(name)
        self._names[key] = name
        return name

    def located(self, key: Key) -> str:
        """The name of the schema at ``key``, named after its pointer's last token unless it has one."""
        return self._names.get(key) or self.name(key, _pointer_name(key[1]), key[0])

    def inline_class(self, schema: dict[str, Any], key: Key, hint: str, wrapping: Key | None) -> str:
        """The name of an inline object's class: its title, else ``hint``; ``wrapping`` is the root a
        RootModel is being made for, whose object is a class of its own name."""
        if key == wrapping:
            key, hint = (key[0], key[1] + "/#object"), hint + "Object"
        elif key in self._names:
            return self._names[key]
        return self.name(key, hint if key[1].endswith("#object") else title(schema) or hint, key[0])

    def field(self, wire: str, used: set[str]) -> str:
        """The attribute of property ``wire`` in a class whose attributes so far are ``used``."""
        attr = naming.field_name(wire, self._taken, used, ascii_only=False)
        self._attributes.add(attr)
        return attr


def _file_stem(file: str) -> str:
    name = posixpath.basename(file)
    for suffix in (".schema.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "Model"
    return name or "Model"


def _pointer_name(pointer: str) -> str:
    last = pointer.removeprefix("!").rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    return last or "Model"
