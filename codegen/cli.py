"""The `schemabus` command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="schemabus")
def main() -> None:
    """schemabus: schema-first toolchain for Kafka event buses."""
