"""JSON Schema -> Pydantic models: every file's schemas, named from the schemas.

The rules the models follow are README's ("JSON Schema"). One more on names: they are unique in the
package, never a numbered ``Thing1`` unless two schemas have the same name in the same place. The
parts: :mod:`.json_schemas` (locations, ``$ref``, keywords), :mod:`.json_names`, :mod:`.json_types`
(annotations) and :mod:`.json_definitions` (classes, aliases, RootModels, their order).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import JsonSchemaFile
from .json_definitions import Definition, JsonDefinitions
from .json_names import JsonNames
from .json_schemas import JsonSchemas


@dataclass
class JsonModels:
    """Every definition of the JSON models (before formatting), and the model class of each file's root."""

    definitions: list[Definition]  # in an order that imports
    roots: dict[str, str]  # schema file -> the model class of its root
    own_roots: dict[str, str]  # schema file -> the name given to its root, when the root has a definition

    @property
    def names(self) -> list[str]:
        """Every class and alias defined."""
        return [d.name for d in self.definitions]


def module_body(definitions: list[Definition]) -> tuple[list[str], list[str]]:
    """The lines of a module defining ``definitions`` (in their order), and the imports they need."""
    body = [line for d in definitions for line in ("", "", *d.lines)]
    text = "\n".join(body)
    imports = [
        imp
        for alias, imp in (
            ("_dt.", "import datetime as _dt"),
            ("_t.", "import typing as _t"),
            ("_uuid.", "import uuid as _uuid"),
            ("_te.", "import typing_extensions as _te"),
        )
        if alias in text
    ]
    return body, imports


class JsonPython:
    """Renders every JSON Schema file of a project, with one set of names (the package may split the
    definitions over several modules, which then import each other's names)."""

    def __init__(self, files: dict[str, JsonSchemaFile], taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.files = files
        self.schemas = JsonSchemas(files)
        self.names = JsonNames(files, taken)
        self.definitions = JsonDefinitions(self.schemas, self.names)

    def render(self) -> JsonModels:
        roots: dict[str, str] = {}
        for file in sorted(self.files):
            roots[file] = self.definitions.root(file)
        for key in self.names.locations():
            self.definitions.define(key)
        self.definitions.define_wanted()
        ordered = self.definitions.ordered()
        root_names = {f: self.names.located((f, "")) for f in self.files}
        own = {f: name for f, name in root_names.items() if self.definitions.defines(name)}
        return JsonModels(ordered, roots, own)
