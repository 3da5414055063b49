"""What the runtime's commands (``dlq``, ``topics``, ``lag``) share: the ``--bootstrap-servers`` and
``--format`` options, the client configuration they make of them, and the one-line failure.

Kept light: ``schemabus --help`` imports it (the configuration is imported when a command runs).
"""

from __future__ import annotations

import os
from typing import Any

import click

__all__ = ["ENV_BOOTSTRAP", "CommandFailed", "bootstrap_option", "client_config", "format_option"]

ENV_BOOTSTRAP = "SCHEMABUS_BOOTSTRAP_SERVERS"  # = runtime.config.ENV_BOOTSTRAP (a test keeps them equal)

bootstrap_option = click.option(
    "--bootstrap-servers",
    envvar=ENV_BOOTSTRAP,
    required=True,
    help=f"Kafka bootstrap servers, host:port[,host:port] (default: ${ENV_BOOTSTRAP}).",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)


class CommandFailed(click.ClickException):
    """A command that cannot do what was asked (a topic or group that does not exist, a refusal of the
    cluster): ``error: <message>``, exit 2 (1 means findings or pending changes)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def client_config(bootstrap_servers: str) -> dict[str, Any]:
    """The librdkafka configuration: these servers, and the SCHEMABUS_KAFKA_* settings (TLS, SASL)."""
    from .config import KafkaConfig

    kafka = KafkaConfig.from_env({**os.environ, ENV_BOOTSTRAP: bootstrap_servers})
    return dict(kafka.librdkafka_config())
