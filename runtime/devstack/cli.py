"""``schemabus dev up|down|status``: a local Kafka and schema registry in the background.

``up`` prints shell assignments on stdout (progress goes to stderr), so::

    eval "$(schemabus dev up)"

sets ``SCHEMABUS_BOOTSTRAP_SERVERS`` and ``SCHEMABUS_REGISTRY_URL`` in the current shell.
"""

from __future__ import annotations

import shlex
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from schemabus.codegen.options import timeout_option

from .errors import DevStackError
from .kafka import KafkaProcess
from .process import ServerProcess
from .stack import STARTUP_TIMEOUT, DevStack, dev_run_dir, start_stack

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
def up(timeout: float, java: Path | None, brokers: int) -> None:
    """Start Kafka and the registry in the background; print their addresses as shell exports."""
    run_dir = dev_run_dir()
    existing = DevStack.load(run_dir)
    if existing is not None:
        if existing.servers and all(existing.running().values()):
            if len(existing.brokers) != brokers:
                raise click.ClickException(
                    f"already running with {len(existing.brokers)} broker(s) (run folder {run_dir}); "
                    f"`schemabus dev down` first to start {brokers}"
                )
            _progress(f"already running (run folder {run_dir}); `schemabus dev down` stops it")
            _print_exports(existing)
            return
        # Half of a previous stack may still run (the other crashed): start afresh.
        existing.stop()
    # Fresh data every time, like the in-memory registry.
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        stack = start_stack(run_dir, java=java, timeout=timeout, brokers=brokers, detached=True, progress=_progress)
    except DevStackError as exc:
        # When both servers failed, the second one's message is a note on the first.
        raise click.ClickException("\n".join([str(exc), *getattr(exc, "__notes__", [])])) from None
    _progress(f"started; logs in {run_dir}; `schemabus dev down` stops it")
    _print_exports(stack)


@dev.command()
def down() -> None:
    """Stop the servers that `schemabus dev up` started (by their PIDs)."""
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


if __name__ == "__main__":
    dev()
