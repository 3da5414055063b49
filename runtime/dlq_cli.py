"""``schemabus dlq inspect|replay``: look at dead-lettered records and send them back to their topics."""

from __future__ import annotations

import json

import click

from .devstack.stack import ENV_BOOTSTRAP
from .dlq import DLQ_PREFIX, HEADER_ORIGINAL_TOPIC, DeadLetterError, describe, dlq_topic_name, read_dead_letters, replay

__all__ = ["dlq"]

_bootstrap = click.option(
    "--bootstrap-servers",
    envvar=ENV_BOOTSTRAP,
    required=True,
    help=f"Kafka bootstrap servers, host:port[,host:port] (default: ${ENV_BOOTSTRAP}).",
)
_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
_timeout = click.option(
    "--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for the broker."
)


@click.group()
def dlq() -> None:
    """Dead-letter topics (dlq.{topic}): inspect and replay records that could not be handled."""


@dlq.command()
@click.argument("topic")
@_bootstrap
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most this many.")
@_format
@click.option("--stacktrace", is_flag=True, help="Show each record's stack trace (text format).")
@_timeout
def inspect(topic: str, bootstrap_servers: str, limit: int, fmt: str, stacktrace: bool, timeout: float) -> None:
    """Show the records of a dead-letter topic, oldest first.

    TOPIC is the dead-letter topic (dlq.orders.order.placed) or the topic whose dead letters to show
    (orders.order.placed).
    """
    dlq_topic = topic if topic.startswith(DLQ_PREFIX) else dlq_topic_name(topic)
    try:
        letters = read_dead_letters(bootstrap_servers, dlq_topic, limit, timeout=timeout)
    except (LookupError, TimeoutError) as e:
        raise click.ClickException(str(e)) from None
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in letters], indent=2))
    elif letters:
        click.echo(describe(letters, stacktrace=stacktrace))
    else:
        click.echo(f"{dlq_topic}: no dead letters")


@dlq.command(name="replay")
@click.argument("dlq_topic")
@_bootstrap
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Replay at most this many records.")
@click.option(
    "--group",
    default=None,
    help="Consumer group that remembers what was replayed (default: schemabus.dlq-replay.DLQ_TOPIC).",
)
@_format
@_timeout
def replay_command(
    dlq_topic: str, bootstrap_servers: str, limit: int | None, group: str | None, fmt: str, timeout: float
) -> None:
    """Republish the records of DLQ_TOPIC to their original topics (key, value and headers as they were).

    Records already replayed (by an earlier run with the same --group) are not republished.
    """
    try:
        result = replay(bootstrap_servers, dlq_topic, group=group, limit=limit, timeout=timeout)
    except (LookupError, TimeoutError, DeadLetterError) as e:
        raise click.ClickException(str(e)) from None
    if fmt == "json":
        out = {
            "dlq_topic": dlq_topic,
            "replayed": dict(sorted(result.replayed.items())),
            "skipped": [{"partition": d.partition, "offset": d.offset} for d in result.skipped],
        }
        click.echo(json.dumps(out, indent=2))
        return
    for topic, count in sorted(result.replayed.items()):
        click.echo(f"replayed {count} record{'s' if count != 1 else ''} to {topic}")
    for d in result.skipped:
        click.echo(f"skipped {d.topic}[{d.partition}]@{d.offset}: it has no {HEADER_ORIGINAL_TOPIC} header")
    if not result.replayed and not result.skipped:
        click.echo(f"{dlq_topic}: nothing to replay")
