"""The report of ``schemabus check``: :func:`schemabus.codegen.diagnostics.render`, shared with ``lint``."""

from ..diagnostics import render

__all__ = ["render"]
