"""The ``schemabus lint`` command lives with the other commands in ``codegen/cli.py``; kept for imports."""

from ..cli import EXIT_FINDINGS, lint

__all__ = ["EXIT_FINDINGS", "lint"]
