"""``[tool.schemabus]`` in pyproject.toml: where schemas are, where generated code goes, defaults."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .diagnostics import SchemaError, Source


@dataclass(frozen=True)
class Config:
    """Settings of one project; paths are relative to the directory of pyproject.toml."""

    root: Path
    schemas: str = "schemas"
    catalog: str = "catalog.toml"  # relative to ``schemas``
    output: str = "generated"  # the source root the package is written into
    package: str = "events"
    line_length: int = 120

    @property
    def schemas_dir(self) -> Path:
        return self.root / self.schemas

    @property
    def package_dir(self) -> Path:
        return self.root / self.output / self.package


_KEYS = {f.name for f in fields(Config)} - {"root"}


def find_pyproject(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / "pyproject.toml").is_file():
            return d / "pyproject.toml"
    return None


def load_config(pyproject: Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read ``[tool.schemabus]``; unknown keys are rejected with their name."""
    values: dict[str, Any] = {}
    root = Path.cwd()
    if pyproject is not None:
        root = pyproject.parent
        src = Source(pyproject.name)
        try:
            doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise SchemaError(src, f"invalid TOML: {e}") from None
        section = doc.get("tool", {}).get("schemabus", {})
        for key, value in section.items():
            if key not in _KEYS:
                raise SchemaError(
                    src.at("tool", "schemabus", key),
                    f'unknown key "{key}" in [tool.schemabus] (known: {", ".join(sorted(_KEYS))})',
                )
            expected = type(getattr(Config, key))
            if not isinstance(value, expected) or isinstance(value, bool):
                raise SchemaError(src.at("tool", "schemabus", key), f"{key} must be a {expected.__name__}")
            values[key] = value
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    package = values.get("package", Config.package)
    if not str(package).isidentifier():
        raise SchemaError(
            Source("pyproject.toml", "/tool/schemabus/package"), f"package {package!r} is not a Python identifier"
        )
    return Config(root=root, **values)
