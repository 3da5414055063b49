"""``python -m schemabus.codegen`` runs the ``schemabus`` command line."""

from .cli import main

main()
