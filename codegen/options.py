"""Command-line options several ``schemabus`` commands share, declared once."""

from __future__ import annotations

from pathlib import Path

import click

project_option = click.option(
    "--project",
    type=click.Path(path_type=Path),
    help="pyproject.toml (or its directory) holding [tool.schemabus]; default: the nearest one.",
)
report_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Report format; github prints GitHub Actions annotations.",
)
registry_url_option = click.option(
    "--registry-url", metavar="URL", help="Schema registry base URL (default: $SCHEMABUS_REGISTRY_URL)."
)
DEFAULT_TIMEOUT = 15.0
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to keep trying an unreachable Kafka broker or schema registry; then one error line, exit 2.",
)
