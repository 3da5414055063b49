"""``schemabus topics plan|apply``: compare the catalog's topics with a cluster, and make the cluster match.

The cluster is ``--bootstrap-servers`` (or ``$SCHEMABUS_BOOTSTRAP_SERVERS``) with the ``SCHEMABUS_KAFKA_*``
settings (TLS, SASL); the catalog is the project's (``--project``). Exit codes, for CI:

* 0: the cluster matches the catalog (plan: nothing to do; apply: everything done).
* 1: plan only: changes are pending that ``apply`` would make (schemabus's "something to act on", as
  ``generate --check`` and ``check``; terraform's ``-detailed-exitcode`` says 2, which every schemabus
  command uses for errors).
* 2: an error: usage, the catalog, an unreachable broker (after ``--timeout``), a refusal of the cluster.
* 3: differences ``apply`` does not resolve: refused changes (fewer partitions, another replication
  factor, a topic the catalog marks deleted), or, for apply, a keyed topic's partitions not raised
  without ``--allow-repartition``. Takes precedence over 1.

Topics of a catalog domain that the catalog does not declare are listed, never touched, and do not
change the exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from schemabus.codegen.options import project_option, timeout_option

from .cli_options import CommandFailed, bootstrap_option, client_config, format_option

if TYPE_CHECKING:
    from .kafka.topics import TopicPlan, WantedTopic

__all__ = ["EXIT_PENDING", "EXIT_UNRESOLVED", "topics"]

EXIT_PENDING = 1
EXIT_UNRESOLVED = 3


def _text(error: Exception) -> str:
    """The error's message; a refusal's reason alone (its message speaks of publishing)."""
    from .errors import PublishError

    return error.reason if isinstance(error, PublishError) else str(error)


def _wanted(project: Path | None) -> list[WantedTopic]:
    """The catalog's topics (the schemas load too: a broken catalog or schema is an error, exit 2)."""
    from schemabus.codegen.cli import project_config
    from schemabus.codegen.pipeline import load_project

    from .kafka.topics import WantedTopic

    return [
        WantedTopic(
            t.name,
            t.partitions,
            {"retention.ms": str(t.retention_ms), "cleanup.policy": t.cleanup_policy, **dict(t.configs)},
            replication_factor=t.replication_factor,
            keyed=t.key is not None,
            deleted=t.deleted,
        )
        for t in load_project(project_config(project)).topics
    ]


def _plan(conf: dict[str, Any], project: Path | None, timeout: float) -> TopicPlan:
    from .kafka.topics import plan_topics, read_cluster

    wanted = _wanted(project)
    return plan_topics(wanted, read_cluster(conf, [w.name for w in wanted], timeout=timeout))


def _show(plan: TopicPlan) -> None:
    for change in plan.changes:
        click.echo(change.describe())
    for refusal in plan.refused:
        click.echo(refusal.describe())
    for name in plan.unmanaged:
        click.echo(f"unmanaged: {name} (in a catalog domain, not in the catalog; left alone)")


@click.group()
def topics() -> None:
    """Topics: plan and apply the catalog's topics on a Kafka cluster."""


@topics.command(name="plan")
@bootstrap_option
@project_option
@format_option
@timeout_option
def plan_command(bootstrap_servers: str, project: Path | None, fmt: str, timeout: float) -> None:
    """Compare the catalog's topics with the cluster: topics to create, partitions to raise, configs to
    set; changes apply refuses (fewer partitions, another replication factor, deleting a topic); topics
    of a catalog domain the catalog lacks (never touched). Changes nothing.

    Exit 0 when the cluster matches the catalog, 1 with changes pending, 3 with refused changes, 2 on
    errors (the catalog, an unreachable broker after --timeout seconds).
    """
    from .errors import SchemabusError, ServerUnavailableError

    try:
        plan = _plan(client_config(bootstrap_servers), project, timeout)
    except ServerUnavailableError:
        raise
    except SchemabusError as e:
        raise CommandFailed(_text(e)) from None
    if fmt == "json":
        click.echo(json.dumps(plan.to_json(), indent=2))
    else:
        _show(plan)
        click.echo(
            "no changes: the cluster matches the catalog"
            if plan.in_sync
            else f"{len(plan.changes)} to change, {len(plan.refused)} refused",
            err=True,
        )
    if plan.refused:
        sys.exit(EXIT_UNRESOLVED)
    if plan.changes:
        sys.exit(EXIT_PENDING)


@topics.command(name="apply")
@bootstrap_option
@project_option
@click.option(
    "--allow-repartition",
    is_flag=True,
    help="Raise the partitions of keyed topics too (it changes which partition each key goes to).",
)
@format_option
@timeout_option
def apply_command(
    bootstrap_servers: str, project: Path | None, allow_repartition: bool, fmt: str, timeout: float
) -> None:
    """Make the cluster match the catalog: create topics, raise partitions, set configs. Never deletes a
    topic or lowers a partition count (those are reported as refused); raises a keyed topic's
    partitions only with --allow-repartition.

    Exit 0 when the cluster matches the catalog afterwards, 3 when refused or held back changes remain,
    2 on errors (the catalog, an unreachable broker after --timeout seconds, a change the cluster refuses).
    """
    from .errors import SchemabusError, ServerUnavailableError
    from .kafka.topics import apply_plan

    conf = client_config(bootstrap_servers)
    try:
        plan = _plan(conf, project, timeout)
        applied = apply_plan(conf, plan, allow_repartition=allow_repartition, timeout=timeout)
    except ServerUnavailableError:
        raise
    except SchemabusError as e:
        raise CommandFailed(_text(e)) from None
    if fmt == "json":
        out = plan.to_json()
        out["applied"] = [c.topic for c in applied.done]  # per change, in the order of "changes"
        out["held"] = [{"topic": c.topic, "reason": "needs --allow-repartition"} for c in applied.held]
        click.echo(json.dumps(out, indent=2))
    else:
        for change in applied.done:
            click.echo(f"done: {change.describe().split(' (keyed:')[0]}")
        for held in applied.held:
            click.echo(f"held: {held.describe()}")
        for refusal in plan.refused:
            click.echo(refusal.describe())
        for name in plan.unmanaged:
            click.echo(f"unmanaged: {name} (in a catalog domain, not in the catalog; left alone)")
        if plan.in_sync:
            click.echo("no changes: the cluster matches the catalog", err=True)
    if plan.refused or applied.held:
        sys.exit(EXIT_UNRESOLVED)
