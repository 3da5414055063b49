"""The report of ``schemabus lint``: :func:`schemabus.codegen.diagnostics.render`, shared with ``check``."""

from ..diagnostics import render

__all__ = ["render"]
