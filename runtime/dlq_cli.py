"""``schemabus dlq inspect|replay``: look at dead-lettered records and send them back to their topics.

Both take a dead-letter topic (``dlq.orders.order.placed``) or the topic whose dead letters to use
(``orders.order.placed``). The cluster is ``--bootstrap-servers`` (or ``$SCHEMABUS_BOOTSTRAP_SERVERS``)
with the ``SCHEMABUS_KAFKA_*`` settings (TLS, SASL) of :class:`~schemabus.runtime.config.KafkaConfig`.
A broker that does not answer within ``--timeout`` seconds ends the command with one line naming
it (exit 2; the ``schemabus`` command prints it), as does a topic that does not exist.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from schemabus.codegen.options import timeout_option

from .cli_options import CommandFailed, bootstrap_option, client_config, format_option

# What the commands run (confluent-kafka, pydantic settings, the dead-letter functions) is imported
# when they run, not by `schemabus dlq --help`.
if TYPE_CHECKING:
    from confluent_kafka import KafkaException

__all__ = ["dlq"]


def _refused(bootstrap_servers: str, e: KafkaException) -> CommandFailed:
    """A refusal of the cluster (an ACL, a fatal error) as one line; unreachable brokers are raised as
    ServerUnavailableError by the dlq functions."""
    from confluent_kafka import KafkaError

    error = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
    reason = f"{error.name()}: {error.str()}" if error is not None else str(e)
    return CommandFailed(f"Kafka {bootstrap_servers} refused: {reason}")


def _dead_letter_topic(topic: str) -> str:
    """``topic`` if it is a dead-letter topic, else the dead-letter topic of ``topic``."""
    from .dlq import dlq_topic_name, is_dlq_topic

    return topic if is_dlq_topic(topic) else dlq_topic_name(topic)


@click.group()
def dlq() -> None:
    """Dead-letter topics (dlq.{topic}): inspect and replay records that could not be handled."""


@dlq.command()
@click.argument("topic")
@bootstrap_option
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most this many.")
@format_option
@click.option("--stacktrace", is_flag=True, help="Show each record's stack trace (text format).")
@timeout_option
def inspect(topic: str, bootstrap_servers: str, limit: int, fmt: str, stacktrace: bool, timeout: float) -> None:
    """Show the records of a dead-letter topic, oldest first.

    TOPIC is the dead-letter topic (dlq.orders.order.placed) or the topic whose dead letters to show
    (orders.order.placed).
    """
    from confluent_kafka import KafkaException

    from .dlq import describe, read_dead_letters

    dlq_topic = _dead_letter_topic(topic)
    try:
        letters = read_dead_letters(client_config(bootstrap_servers), dlq_topic, limit, timeout=timeout)
    except LookupError as e:
        raise CommandFailed(str(e)) from None
    except KafkaException as e:
        raise _refused(bootstrap_servers, e) from None
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in letters], indent=2))
    elif letters:
        click.echo(describe(letters, stacktrace=stacktrace))
    else:
        click.echo(f"{dlq_topic}: no dead letters")


@dlq.command(name="replay")
@click.argument("topic")
@bootstrap_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Replay at most this many records.")
@click.option(
    "--group",
    default=None,
    help="Consumer group that remembers what was replayed (default: schemabus.dlq-replay.DLQ_TOPIC).",
)
@format_option
@timeout_option
def replay_command(
    topic: str, bootstrap_servers: str, limit: int | None, group: str | None, fmt: str, timeout: float
) -> None:
    """Republish the records of a dead-letter topic to their original topics (key, value and headers
    as they were).

    TOPIC is the dead-letter topic (dlq.orders.order.placed) or the topic whose dead letters to replay
    (orders.order.placed). Records already replayed (by an earlier run with the same --group) are not
    republished. A dead letter that is a reference to its record (too large to copy) is replayed by
    reading the record from its original topic at its offset; when that topic no longer has it, the
    command says so and exits with 1.
    """
    from confluent_kafka import KafkaException

    from .dlq import HEADER_ORIGINAL_TOPIC, DeadLetterError, replay

    dlq_topic = _dead_letter_topic(topic)
    try:
        result = replay(client_config(bootstrap_servers), dlq_topic, group=group, limit=limit, timeout=timeout)
    except (LookupError, DeadLetterError) as e:
        raise CommandFailed(str(e)) from None
    except KafkaException as e:
        raise _refused(bootstrap_servers, e) from None
    if fmt == "json":
        out = {
            "dlq_topic": dlq_topic,
            "replayed": dict(sorted(result.replayed.items())),
            "skipped": [{"partition": d.partition, "offset": d.offset} for d in result.skipped],
        }
        if result.fetched:
            out["read_from_original"] = dict(sorted(result.fetched.items()))
        if result.missing:
            out["missing"] = [
                {
                    "partition": d.partition,
                    "offset": d.offset,
                    "original": {
                        "topic": d.original_topic,
                        "partition": d.original_partition,
                        "offset": d.original_offset,
                    },
                }
                for d in result.missing
            ]
        click.echo(json.dumps(out, indent=2))
    else:
        for target, count in sorted(result.replayed.items()):
            click.echo(f"replayed {count} record{'s' if count != 1 else ''} to {target}")
            fetched = result.fetched[target]
            if fetched:
                click.echo(
                    f"  {fetched} of them read back from {target}: "
                    f"{'its dead letter was a reference' if fetched == 1 else 'their dead letters were references'}"
                )
        for d in result.skipped:
            click.echo(f"skipped {d.topic}[{d.partition}]@{d.offset}: it has no {HEADER_ORIGINAL_TOPIC} header")
        for d in result.missing:
            click.echo(
                f"cannot replay {d.topic}[{d.partition}]@{d.offset}: its payload was not copied and "
                f"{d.source} is no longer there (past the topic's retention, or compacted away)"
            )
        if not result.replayed and not result.skipped and not result.missing:
            click.echo(f"{dlq_topic}: nothing to replay")
    if result.missing:
        click.get_current_context().exit(1)
