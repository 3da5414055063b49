"""``schemabus dev up|down|status|restart``: a local Kafka and schema registry in the background.

``up`` prints shell assignments on stdout (progress goes to stderr), so::

    eval "$(schemabus dev up)"

sets ``SCHEMABUS_BOOTSTRAP_SERVERS`` and ``SCHEMABUS_REGISTRY_URL`` in the current shell.
The stack's data (topics, records, offsets, schemas) outlives ``down``; ``up --fresh``
starts clean.
"""

from __future__ import annotations

import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from schemabus.codegen.options import timeout_option

from .errors import DevStackError
from .kafka import KafkaProcess
from .process import ServerProcess
from .stack import STARTUP_TIMEOUT, DevStack, data_dirs, dev_run_dir, start_stack

# Every broker is a controller too, and each takes ~400 MiB: more would not fit a laptop's test run.
MAX_BROKERS = 5


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _print_exports(stack: DevStack) -> None:
    for name, value in stack.env().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@click.group()
def dev() -> None:
    """Run a local Kafka broker and schema registry (no Docker needed)."""


@dev.command()
@click.option(
    "--timeout",
    type=float,
    default=STARTUP_TIMEOUT,
    show_default=True,
    help="Seconds each server may take to become ready (downloads not included).",
)
@click.option(
    "--java",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The java executable to run the servers with (default: the newest Java 17+ found).",
)
@click.option(
    "--brokers",
    type=click.IntRange(1, MAX_BROKERS),
    default=1,
    show_default=True,
    help="Kafka brokers: 1 has a SASL/PLAIN listener too; 3 is a KRaft cluster whose topics get "
    "3 replicas and min.insync.replicas=2.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Delete the data of earlier runs (topics, records, offsets, schemas) first; "
    "a running stack is stopped for that.",
)
def up(timeout: float, java: Path | None, brokers: int, fresh: bool) -> None:
    """Start Kafka and the registry in the background; print their addresses as shell exports.

    The data of the previous `schemabus dev up` (kept by `dev down`) is used again, unless --fresh.
    """
    run_dir = dev_run_dir()
    existing = DevStack.load(run_dir)
    if existing is not None:
        if existing.servers and all(existing.running().values()) and not fresh:
            if len(existing.brokers) != brokers:
                raise click.ClickException(
                    f"already running with {len(existing.brokers)} broker(s) (run folder {run_dir}); "
                    f"`schemabus dev down` first to start {brokers}"
                )
            _progress(f"already running (run folder {run_dir}); `schemabus dev down` stops it")
            _print_exports(existing)
            return
        # Half of a previous stack may still run (the other crashed), or --fresh asked for a
        # clean start: stop what runs, keeping the data for start_stack to reuse or delete.
        existing.keep_data = True
        existing.stop()
        (run_dir / "state.json").unlink(missing_ok=True)
    kept = [] if fresh else data_dirs(run_dir)
    try:
        stack = start_stack(
            run_dir,
            java=java,
            timeout=timeout,
            brokers=brokers,
            detached=True,
            fresh=fresh,
            progress=_progress,
        )
    except DevStackError as exc:
        # When both servers failed, the second one's message is a note on the first.
        raise click.ClickException("\n".join([str(exc), *getattr(exc, "__notes__", [])])) from None
    data = "with the data of the previous run" if kept else "with no data"
    _progress(f"started {data}; logs in {run_dir}; `schemabus dev down` stops it")
    _print_exports(stack)


@dev.command()
def down() -> None:
    """Stop the servers that `schemabus dev up` started (by their PIDs), keeping their data.

    The next `schemabus dev up` finds the topics, records, offsets and schemas again;
    `schemabus dev up --fresh` deletes them.
    """
    run_dir = dev_run_dir()
    stack = DevStack.load(run_dir)
    if stack is None:
        _progress("not running")
        return
    running = stack.running()
    stack.stop()
    for server in stack.servers:
        done = "stopped" if running[server.name] else "was not running"
        _progress(f"{server.name}: {done} (pid {server.pid})")
    (run_dir / "state.json").unlink(missing_ok=True)
    if stack.keep_data and data_dirs(run_dir):
        _progress(f"data kept in {run_dir} for the next `schemabus dev up` (`--fresh` deletes it)")


def _probe(server: ServerProcess, timeout: float) -> str | None:
    """None when ``server`` answers a request within ``timeout`` seconds, else the error line."""
    from ..errors import ServerUnavailableError

    kind = "Kafka broker" if isinstance(server, KafkaProcess) else "schema registry"
    if not server.is_running():
        return (
            f"{kind} {server.address} is unavailable: its process (pid {server.pid}) is not running; "
            f"log: {server.log_path}"
        )
    try:
        if isinstance(server, KafkaProcess):
            from confluent_kafka.admin import AdminClient

            from ..kafka_logging import BrokerErrors

            errors = BrokerErrors(server.address)
            admin = AdminClient({"bootstrap.servers": server.address, **errors.config()})
            errors.call("read the cluster metadata", lambda: admin.list_topics(timeout=timeout), client=admin)
        else:
            from ..config import RegistryConfig
            from ..registry_client import ConfluentRegistry

            registry = ConfluentRegistry(
                RegistryConfig(url=server.address, timeout_s=min(10.0, timeout), retry_timeout_s=timeout)
            )
            try:
                registry.call("list the subjects", registry.client.get_subjects)
            finally:
                registry.close()
    except ServerUnavailableError as e:
        return str(e)
    return None


@dev.command()
@timeout_option
def status(timeout: float) -> None:
    """Show whether the `schemabus dev up` servers run and answer.

    Exit 0 when every server answers (each broker of a cluster on its own line), 1 when no stack
    was started; 2 when a server is stopped or gives no answer within --timeout seconds (one error
    line each, naming the server and its address).
    """
    stack = DevStack.load(dev_run_dir())
    if stack is None or not stack.servers:
        click.echo("not running (no `schemabus dev up` stack)")
        raise SystemExit(1)
    with ThreadPoolExecutor(max_workers=len(stack.servers)) as pool:  # all within one --timeout
        problems = list(pool.map(lambda server: _probe(server, timeout), stack.servers))
    for server, problem in zip(stack.servers, problems):
        state = "running" if problem is None else "stopped" if not server.is_running() else "no answer"
        # Kafka's second listener (SASL/PLAIN dev users, ACLs enforced), for security tests.
        sasl = f" + SASL {server.sasl.address}" if isinstance(server, KafkaProcess) and server.sasl else ""
        click.echo(
            f"{server.name:<8} {state:<9} pid {server.pid:<7} {server.address}{sasl}  "
            f"({server.version}; log {server.log_path})"
        )
    for problem in problems:
        if problem is not None:
            click.echo(f"error: {problem}", err=True)
    if any(problems):
        raise SystemExit(2)


def _to_restart(stack: DevStack, target: str | None, node: int | None) -> list[ServerProcess]:
    if target != "broker" and node is not None:
        raise click.UsageError(f"a node id goes with `broker` only, not with `{target or 'all'}`")
    if target is None:
        return stack.servers
    if target == "registry":
        if stack.registry is None:
            raise click.ClickException("this stack has no registry")
        return [stack.registry]
    if not stack.brokers:
        raise click.ClickException("this stack has no Kafka")
    if target == "kafka":
        return list(stack.brokers)
    if node is None:
        raise click.UsageError(f"`broker` needs a node id ({', '.join(str(b.node_id) for b in stack.brokers)})")
    try:
        return [stack.broker(node)]
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


@dev.command()
@click.argument("target", type=click.Choice(["kafka", "registry", "broker"]), required=False)
@click.argument("node", type=int, required=False)
@click.option(
    "--timeout",
    type=float,
    default=STARTUP_TIMEOUT,
    show_default=True,
    help="Seconds each server may take to answer again.",
)
def restart(target: str | None, node: int | None, timeout: float) -> None:
    """Stop and start servers of the `schemabus dev up` stack, keeping their data, ports and addresses.

    TARGET is `kafka` (every broker), `registry`, or `broker N` (node N of a cluster); without
    it, every server restarts. Prints each restart and how long it took.
    """
    stack = DevStack.load(dev_run_dir())
    if stack is None or not stack.servers:
        raise click.ClickException("not running (no `schemabus dev up` stack)")
    servers = _to_restart(stack, target, node)
    before = {server.name: server.pid for server in servers}
    for server in servers:
        _progress(f"{server.name}: restarting (pid {server.pid}, {server.address})")
    started = time.monotonic()
    try:
        stack.restart(servers, timeout=timeout)
    except DevStackError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        raise click.ClickException(f"{exc}; `schemabus dev down` and `dev up` to record it") from None
    took = time.monotonic() - started
    for server in servers:
        _progress(
            f"{server.name}: restarted (pid {before[server.name]} -> {server.pid}), answering at {server.address}"
        )
    names = ", ".join(server.name for server in servers)
    click.echo(f"restarted {names} in {took:.1f} s")


if __name__ == "__main__":
    dev()
