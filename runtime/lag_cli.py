"""``schemabus lag``: how far consumer groups are behind, per partition, in records and in time.

The cluster is ``--bootstrap-servers`` (or ``$SCHEMABUS_BOOTSTRAP_SERVERS``) with the
``SCHEMABUS_KAFKA_*`` settings (TLS, SASL). Every group with committed offsets is shown, or the
``--group`` ones (a group without committed offsets is an error naming it, exit 2); ``--topic``
limits it to those topics. The measuring is :func:`schemabus.runtime.consumer.lag.read_lag`; this
module renders it: a ``rich`` table per group and a summary line, or a JSON document, once or every
``--interval`` seconds with ``--watch`` (until Ctrl-C, exit 0).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from schemabus.codegen.options import timeout_option

from .cli_options import CommandFailed, bootstrap_option, client_config

# rich and confluent-kafka are imported when the command runs, not by `schemabus lag --help`.
if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from .consumer.lag import GroupLag, PartitionLag

__all__ = ["format_age", "lag", "render", "summary", "watch"]


def format_age(seconds: float | None) -> str:
    """A time lag for people: ``0s``, ``4.2s``, ``3m05s``, ``2h07m``, ``3d04h``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    if seconds < 60:
        return "0s" if seconds == 0 else f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def summary(group: GroupLag) -> str:
    """The group's line under its table: total lag, largest time lag, how many partitions."""
    n = len(group.partitions)
    return (
        f"{group.group}: lag {group.total_lag} record{'s' if group.total_lag != 1 else ''}, "
        f"max time lag {format_age(group.max_time_lag)}, {n} partition{'s' if n != 1 else ''}"
    )


def render(lags: Sequence[PartitionLag], *, empty: str = "no consumer group has committed offsets") -> RenderableType:
    """A table per consumer group (topic, partition, committed, end, lag, time lag) with its summary
    line; ``empty`` when there is no group."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from .consumer.lag import group_lags

    groups = group_lags(lags)
    if not groups:
        return Text(empty)
    parts: list[RenderableType] = []
    for g in groups:
        table = Table(
            title=f"group {g.group}", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
        )
        table.add_column("topic", overflow="fold")
        for name in ("partition", "committed", "end", "lag", "time lag"):
            table.add_column(name, justify="right", no_wrap=True)
        for p in g.partitions:
            table.add_row(
                p.topic,
                str(p.partition),
                "-" if p.committed is None else str(p.committed),
                str(p.high_watermark),
                str(p.lag),
                format_age(p.time_lag),
            )
        parts += [table, Text(summary(g)), Text("")]
    return Group(*parts[:-1])


def watch(
    console: Console,
    read: Callable[[], list[PartitionLag]],
    show: Callable[[list[PartitionLag]], RenderableType],
    interval: float,
    *,
    iterations: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Read and show the lag every ``interval`` seconds, until interrupted (or ``iterations`` times).

    On a terminal the view is redrawn in place (``rich.live.Live``); elsewhere (a CI log, a pipe)
    each refresh is printed after the last one, under a line with the time.
    """
    from rich.console import Group
    from rich.live import Live
    from rich.rule import Rule

    def header() -> str:
        return f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, every {interval:g}s (Ctrl-C to stop)"

    done = 0
    if console.is_terminal:
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                live.update(Group(Rule(header(), align="left"), show(read())), refresh=True)
                done += 1
                if iterations is not None and done >= iterations:
                    return
                sleep(interval)
    while True:
        lags = read()
        console.print(Rule(header(), align="left"))
        console.print(show(lags))
        done += 1
        if iterations is not None and done >= iterations:
            return
        sleep(interval)


@click.command()
@bootstrap_option
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="Consumer group to show (repeatable); default: every group with committed offsets.",
)
@click.option("--topic", "topics", multiple=True, metavar="TOPIC", help="Only these topics (repeatable).")
@click.option("--watch", "watching", is_flag=True, help="Refresh every --interval seconds until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between refreshes with --watch.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json with --watch: one document per line and refresh).",
)
@timeout_option
def lag(
    bootstrap_servers: str,
    groups: tuple[str, ...],
    topics: tuple[str, ...],
    watching: bool,
    interval: float,
    fmt: str,
    timeout: float,
) -> None:
    """Consumer lag: per group and partition, the committed offset, the end offset, the lag in records
    and the time lag (the age of the oldest record not consumed yet).

    Reads from outside the groups: it joins none and commits nothing. Exit 2 for a --group without
    committed offsets (on the --topic ones), a --topic that does not exist, or an unreachable broker
    (after --timeout seconds).
    """
    from rich.console import Console

    from .consumer.lag import lag_document, read_lag
    from .errors import SchemabusError, ServerUnavailableError

    conf = client_config(bootstrap_servers)
    on = f" on topic {', '.join(topics)}" if topics else ""

    def read() -> list[PartitionLag]:
        try:
            return read_lag(conf, list(groups) or None, list(topics) or None, timeout=timeout)
        except ServerUnavailableError:
            raise
        except (LookupError, SchemabusError) as e:
            raise CommandFailed(str(e)) from None

    def show(lags: list[PartitionLag]) -> RenderableType:
        return render(lags, empty=f"no consumer group has committed offsets{on}")

    console = Console(highlight=False, soft_wrap=False)
    try:
        if fmt == "json" and watching:
            while True:
                click.echo(json.dumps(lag_document(read())))
                time.sleep(interval)
        elif fmt == "json":
            click.echo(json.dumps(lag_document(read()), indent=2))
        elif watching:
            watch(console, read, show, interval)
        else:
            console.print(show(read()))
    except KeyboardInterrupt:
        return
