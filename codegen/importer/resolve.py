"""Find the Pydantic model classes that ``module.path:ClassName`` names."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from pydantic import BaseModel

from ..diagnostics import SchemaError, Source


def model_source(model: type) -> Source:
    """Where errors about a model (or an enum it uses) point: ``module:QualName``."""
    return Source(f"{model.__module__}:{model.__qualname__}")


def resolve_model(spec: str) -> type[BaseModel]:
    """The class named by ``module.path:ClassName`` (``Outer.Inner`` reaches a nested class).

    The current directory is importable, as it is for ``python -m``: a project's own package is
    found when the command runs at its root.
    """
    src = Source(spec)
    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise SchemaError(src, "name a model as module.path:ClassName")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        found: object = importlib.import_module(module_name)
    except Exception as e:  # the user's module: any error it raises on import is theirs to see
        raise SchemaError(src, f"cannot import {module_name}: {type(e).__name__}: {e}") from None
    for part in qualname.split("."):
        if not hasattr(found, part):
            raise SchemaError(src, f"{module_name} has no {qualname}")
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise SchemaError(src, f"{qualname} is not a Pydantic model (a pydantic.BaseModel subclass)")
    return found
