"""Kafka and the registry together: start both at once, record them, stop them.

A *run folder* holds one stack's configuration, data, logs and ``state.json`` (PIDs,
addresses, log paths, and each server's command, so that another process can restart it).
Test sessions get a new one under ``<cache>/runs/`` each time, and its data is deleted when
the stack stops; ``schemabus dev up`` uses the fixed ``<cache>/dev`` so that ``dev down``
finds it, and keeps its data (Kafka's log dirs, the registry's database) from one start to
the next, until ``dev up --fresh``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import DevStackError
from .fetch import cache_dir
from .kafka import SERVER as KAFKA
from .kafka import (
    KafkaProcess,
    SaslListener,
    quorum_leader,
    restart_kafka,
    restart_kafka_nodes,
    start_kafka_cluster,
)
from .process import ServerProcess, pid_alive
from .registry import DATA_DIR as REGISTRY_DATA_DIR
from .registry import SERVER as REGISTRY
from .registry import restart_registry, start_registry

ENV_BOOTSTRAP = "SCHEMABUS_BOOTSTRAP_SERVERS"
ENV_REGISTRY = "SCHEMABUS_REGISTRY_URL"
STATE_FILE = "state.json"
# Finished test-session run folders kept for their logs; older ones are deleted.
KEEP_RUNS = 5
STARTUP_TIMEOUT = 120.0


def _quiet(_: str) -> None:
    pass


def dev_run_dir(cache: Path | None = None) -> Path:
    """The run folder of ``schemabus dev up``/``down``/``status``."""
    return (cache if cache is not None else cache_dir()) / "dev"


def _runs_dir(cache: Path | None) -> Path:
    return (cache if cache is not None else cache_dir()) / "runs"


def data_dirs(run_dir: Path) -> list[Path]:
    """The data folders a stack keeps in ``run_dir`` (those that exist): Kafka's log dirs, in the
    single-broker and the cluster layout, and the registry's database folder. Logs and
    configuration are not data."""
    kafka = run_dir / KAFKA
    candidates = [kafka / "data", *sorted(kafka.glob("node-*/data")), run_dir / REGISTRY / REGISTRY_DATA_DIR]
    return [path for path in candidates if path.is_dir()]


def delete_data(run_dir: Path) -> list[Path]:
    """Delete the stack's data folders in ``run_dir`` (see ``data_dirs``); return those deleted.

    Only for a stack that is not running.
    """
    deleted = data_dirs(run_dir)
    for path in deleted:
        shutil.rmtree(path, ignore_errors=True)
    return deleted


@dataclass
class DevStack:
    """A running (or stopped) set of servers and the run folder they live in.

    Use ``bootstrap_servers`` and ``registry_url`` to connect, ``env()`` for the
    ``SCHEMABUS_*`` variables, and ``stop()`` (or a ``with`` block) to end it. ``brokers`` are
    Kafka's nodes by node id (one by default); ``kafka`` is the first. ``sasl`` is the single
    broker's second listener, with SASL/PLAIN dev users and ACLs, for security tests.
    ``keep_data``: whether ``stop()`` leaves the data for the next start in the same run folder.
    """

    run_dir: Path
    brokers: list[KafkaProcess] = field(default_factory=list)
    registry: ServerProcess | None = None
    detached: bool = False
    owner_pid: int = field(default_factory=os.getpid)
    keep_data: bool = True

    @property
    def kafka(self) -> KafkaProcess | None:
        """The first (on the default stack: the only) Kafka broker, if the stack has Kafka."""
        return self.brokers[0] if self.brokers else None

    @property
    def servers(self) -> list[ServerProcess]:
        """The servers this stack started: the brokers, then the registry."""
        registry = [self.registry] if self.registry is not None else []
        return [*self.brokers, *registry]

    @property
    def bootstrap_servers(self) -> str:
        """Every broker's ``host:port``, comma-separated, for ``bootstrap.servers``."""
        if not self.brokers:
            raise LookupError("this stack has no Kafka")
        return ",".join(broker.address for broker in self.brokers)

    def broker(self, node_id: int) -> KafkaProcess:
        """The broker whose KRaft ``node.id`` is ``node_id`` (``LookupError`` if none)."""
        for broker in self.brokers:
            if broker.node_id == node_id:
                return broker
        raise LookupError(f"this stack has no broker {node_id} (it has {[b.node_id for b in self.brokers]})")

    def active_controller(self) -> int | None:
        """The node id of the cluster's active KRaft controller (see ``quorum_leader``), or ``None``."""
        return quorum_leader(self.brokers)

    def restart_broker(self, node_id: int, timeout: float = STARTUP_TIMEOUT) -> KafkaProcess:
        """Start the stopped broker ``node_id`` again on its data (see ``restart_kafka``) and return it
        once the cluster lists it again. Works on a stack loaded from its state file too."""
        broker = self.broker(node_id)
        restart_kafka(broker, len(self.brokers), timeout=timeout)
        self._restarted([broker])
        return broker

    def restart(self, servers: list[ServerProcess], timeout: float = STARTUP_TIMEOUT) -> None:
        """Stop ``servers`` (some of this stack's) and start them again on their ports and data.

        Returns once each answers again (brokers: listed in the cluster's metadata). Works on a
        stack loaded from its state file (``DevStack.load``), which is then updated. Raises
        ``DevStackError`` if a server does not come back, ``RuntimeError`` if a server's command
        was not recorded (a stack started by an older schemabus).
        """
        for server in servers:
            if not server.command:
                raise RuntimeError(f"{server.name} was started by an older schemabus: its command is unknown")
        brokers = [server for server in servers if isinstance(server, KafkaProcess)]
        others = [server for server in servers if not isinstance(server, KafkaProcess)]
        # Stopped together, like `stop()`: a cluster's last broker cannot shut down cleanly
        # once its quorum is gone.
        with ThreadPoolExecutor(max_workers=max(1, len(servers)), thread_name_prefix="devstack-stop") as pool:
            list(pool.map(lambda server: server.stop(), servers))
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="devstack-restart") as pool:
            futures: list[Future[None]] = []
            if brokers:
                futures.append(pool.submit(restart_kafka_nodes, brokers, len(self.brokers), timeout=timeout))
            futures.extend(pool.submit(restart_registry, server, timeout=timeout) for server in others)
            for future in futures:
                future.result()
        self._restarted(servers)

    def _restarted(self, servers: list[ServerProcess]) -> None:
        if self.detached:
            for server in servers:
                server.detach()
        with contextlib.suppress(OSError):
            self.save()

    @property
    def sasl(self) -> SaslListener:
        """Kafka's SASL_PLAINTEXT listener (``address``) and its dev users, where ACLs apply.

        Not in ``env()``: clients use the PLAINTEXT ``bootstrap_servers``; this one is for
        tests of wrong passwords and missing ACLs.
        """
        if self.kafka is None or self.kafka.sasl is None:
            raise LookupError("this stack has no Kafka SASL listener")
        return self.kafka.sasl

    @property
    def registry_url(self) -> str:
        """The registry's Confluent-compatible base URL, for ``SchemaRegistryClient({"url": ...})``."""
        if self.registry is None:
            raise LookupError("this stack has no registry")
        return self.registry.address

    def env(self) -> dict[str, str]:
        """``SCHEMABUS_BOOTSTRAP_SERVERS`` / ``SCHEMABUS_REGISTRY_URL`` for the servers it has."""
        values: dict[str, str] = {}
        if self.brokers:
            values[ENV_BOOTSTRAP] = self.bootstrap_servers
        if self.registry is not None:
            values[ENV_REGISTRY] = self.registry.address
        return values

    def running(self) -> dict[str, bool]:
        """Whether each server is alive, by name."""
        return {s.name: s.is_running() for s in self.servers}

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every server (by PID, only if still the processes started).

        Unless ``keep_data``, their data is deleted then (see ``delete_data``). Logs stay in
        the run folder. Safe to call twice.
        """
        servers = self.servers
        # All at once: a cluster's last broker cannot finish its controlled shutdown once
        # the others (its controller quorum) are gone, and would wait for the SIGKILL.
        with ThreadPoolExecutor(max_workers=max(1, len(servers)), thread_name_prefix="devstack-stop") as pool:
            list(pool.map(lambda server: server.stop(timeout), servers))
        if not self.keep_data:
            # A test session's data is worthless once it ends; logs are kept for post-mortems.
            delete_data(self.run_dir)

    def save(self) -> None:
        """Write ``state.json`` into the run folder (atomically)."""
        state = {
            "owner_pid": self.owner_pid,
            "detached": self.detached,
            "keep_data": self.keep_data,
            "servers": [s.to_json() for s in self.servers],
        }
        tmp = self.run_dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.run_dir / STATE_FILE)

    @classmethod
    def load(cls, run_dir: Path) -> DevStack | None:
        """The stack recorded in ``run_dir/state.json``, or ``None`` if there is none (or it is unreadable)."""
        try:
            state = json.loads((run_dir / STATE_FILE).read_text())
            stack = cls(
                run_dir=run_dir,
                detached=bool(state["detached"]),
                owner_pid=int(state["owner_pid"]),
                keep_data=bool(state.get("keep_data", True)),
            )
            for data in state["servers"]:
                if str(data["name"]).startswith("kafka"):
                    stack.brokers.append(KafkaProcess.from_json(data))
                elif data["name"] == "registry":
                    stack.registry = ServerProcess.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return stack

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def prune_runs(cache: Path | None = None, keep: int = KEEP_RUNS) -> None:
    """Tidy ``<cache>/runs``: stop servers whose test session died, keep the newest ``keep`` folders.

    A session killed hard (SIGKILL, a CI time-out) cannot stop its servers; the next
    session does it here, by PID and only after checking each process's marker.
    """
    runs = _runs_dir(cache)
    if not runs.is_dir():
        return
    folders = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.name)
    for index, folder in enumerate(folders):
        stack = DevStack.load(folder)
        if stack is not None and not stack.detached and not pid_alive(stack.owner_pid):
            stack.stop(timeout=15)
        live = stack is not None and any(stack.running().values())
        if index < len(folders) - keep and not live:
            shutil.rmtree(folder, ignore_errors=True)


def new_run_dir(cache: Path | None = None) -> Path:
    """A fresh, empty run folder under ``<cache>/runs`` (named by time and PID, so it sorts by age)."""
    folder = _runs_dir(cache) / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    suffix = 0
    while True:
        candidate = folder if suffix == 0 else folder.with_name(f"{folder.name}-{suffix}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            suffix += 1


def start_stack(
    run_dir: Path | None = None,
    *,
    kafka: bool = True,
    registry: bool = True,
    brokers: int = 1,
    java: str | Path | None = None,
    timeout: float = STARTUP_TIMEOUT,
    detached: bool = False,
    fresh: bool = False,
    cache: Path | None = None,
    progress: Callable[[str], None] = _quiet,
) -> DevStack:
    """Start Kafka and/or the registry concurrently and return once both are ready.

    ``brokers`` is the number of Kafka nodes: 1 (the default) is one broker with the SASL
    listener; 3 is a KRaft cluster whose topics get 3 replicas and ``min.insync.replicas=2``
    (see ``start_kafka_cluster``), ready once the metadata lists every broker.

    ``run_dir`` defaults to a new folder under ``<cache>/runs`` (older ones are pruned), whose
    data is deleted when the stack stops. In a given ``run_dir``, the data of an earlier start
    is kept and used (topics, records, offsets, schemas and their ids) unless ``fresh``, which
    deletes it first (see ``delete_data``); Kafka data of a stack with another number of
    brokers is refused (``DevStackError``) unless ``fresh``.
    ``java`` is a ``java`` executable (default: the newest Java 17+ found); ``timeout``
    bounds each server's readiness wait, in seconds. Unless ``detached``, the servers are
    stopped when this Python process exits even if ``stop()`` is never called; detached
    servers keep running until ``stop()`` (``schemabus dev down``). ``progress`` receives
    one-line status messages.

    Raises ``DevStackError`` (server, reason, log) if either fails; the other is stopped
    then too, and the second error, if any, is attached as a note.
    """
    keep_data = run_dir is not None
    if run_dir is None:
        prune_runs(cache)
        run_dir = new_run_dir(cache)
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if fresh:
        for path in delete_data(run_dir):
            progress(f"deleted {path}")
    stack = DevStack(run_dir=run_dir, detached=detached, keep_data=keep_data)

    errors: list[DevStackError] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="devstack") as pool:
        futures: dict[str, Future[list[KafkaProcess]] | Future[ServerProcess]] = {}
        if kafka:
            futures["kafka"] = pool.submit(
                start_kafka_cluster,
                run_dir,
                brokers,
                java=java,
                timeout=timeout,
                cache=cache,
                progress=progress,
            )
        if registry:
            futures["registry"] = pool.submit(
                start_registry,
                run_dir,
                java=java,
                timeout=timeout,
                cache=cache,
                progress=progress,
            )
        for name, future in futures.items():
            try:
                started = future.result()
            except DevStackError as exc:
                errors.append(exc)
                continue
            # A bug rather than a server failure, but still report which server hit it.
            except Exception as exc:
                errors.append(DevStackError(name, f"unexpected {type(exc).__name__}: {exc}"))
                continue
            if isinstance(started, list):
                stack.brokers = started
                sasl = "".join(f" (SASL/PLAIN with ACLs at {b.sasl.address})" for b in started if b.sasl)
                progress(f"{name}: ready at {stack.bootstrap_servers}{sasl}")
            else:
                stack.registry = started
                progress(f"{name}: ready at {started.address}")

    if errors:
        stack.stop()
        first = errors[0]
        for other in errors[1:]:
            first.add_note(str(other))
        raise first
    if detached:
        for server in stack.servers:
            server.detach()
    with contextlib.suppress(OSError):
        stack.save()
    return stack
