"""Real faults for the integration tests, on servers this session started (``fault_servers``,
``kafka_cluster``).

``frozen(server)`` stops the server's process with SIGSTOP for the ``with`` block and resumes it with
SIGCONT at the end, whatever happens inside. A frozen server keeps its sockets: connections stay
open and new ones are still accepted by the kernel, but no request is answered, so clients see what
a hung or overloaded server looks like (requests time out) rather than a refused connection. Keep a
freeze of Kafka under ~8 s: its controller (the same process) fences a broker whose heartbeats stop
for longer, which would disturb the tests after it.

``FaultCluster`` is the three-broker KRaft cluster of the ``cluster`` tests: a broker is killed
(SIGKILL, a crash), stopped cleanly (SIGTERM, controlled shutdown) and started again on its data,
by node id; ``leader_of`` and ``active_controller`` say whom to hit. ``read_counts`` reads a topic of
the cluster back, from the beginning to its end, counting each record by a key of the test's choice.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from schemabus.runtime.devstack import DevStack, KafkaProcess, SaslListener, ServerProcess
from schemabus.runtime.devstack.process import is_ours

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class FaultServers:
    """A Kafka broker and a registry that this session started: its tests may freeze them
    (``faults.frozen``), and the broker has the SASL listener with the dev users and ACLs."""

    kafka: KafkaProcess
    registry: ServerProcess

    @property
    def bootstrap(self) -> str:
        """The broker's PLAINTEXT listener (its anonymous principal is a super user)."""
        return self.kafka.address

    @property
    def registry_url(self) -> str:
        return self.registry.address

    @property
    def sasl(self) -> SaslListener:
        assert self.kafka.sasl is not None, "a dev-stack broker always has its SASL listener"
        return self.kafka.sasl


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


@contextmanager
def frozen(server: ServerProcess) -> Iterator[None]:
    """SIGSTOP ``server`` (a process this session started) for the block; SIGCONT after it."""
    assert is_ours(server.pid, server.marker), f"{server.name} (pid {server.pid}) is not a server this session started"
    os.kill(server.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 5
        while _state(server.pid) != "T":  # stopped once every thread is
            assert time.monotonic() < deadline, f"{server.name} did not stop"
            time.sleep(0.01)
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


@dataclass(frozen=True)
class FaultCluster:
    """A KRaft cluster of three brokers (each a controller too) that this session started.

    Topics get 3 replicas and ``min.insync.replicas=2`` by default. Its tests kill, stop and
    restart brokers by node id; ``heal()`` restarts whatever a test left stopped.
    """

    stack: DevStack

    @property
    def bootstrap(self) -> str:
        """Every broker's PLAINTEXT listener, comma-separated."""
        return self.stack.bootstrap_servers

    @property
    def brokers(self) -> list[KafkaProcess]:
        return self.stack.brokers

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def leader_of(self, topic: str, partition: int = 0, timeout: float = 10.0) -> int:
        """The node id leading ``topic``'s ``partition`` now (from the metadata; waits while it has none)."""
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while True:
            metadata = admin.list_topics(topic, timeout=timeout)
            leader = int(metadata.topics[topic].partitions[partition].leader)
            if leader >= 0:
                return leader
            assert time.monotonic() < deadline, f"{topic} [{partition}] has no leader after {timeout:.0f} s"
            time.sleep(0.1)

    def wait_in_sync(self, topic: str, timeout: float = 60.0) -> float:
        """Wait until every replica of ``topic`` is in sync again (a restarted broker caught up);
        return the seconds it took."""
        started = time.monotonic()
        admin = self.admin()
        while True:
            partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions.values()
            lagging = {p.id: sorted(set(p.replicas) - set(p.isrs)) for p in partitions if len(p.isrs) < len(p.replicas)}
            if not lagging:
                return time.monotonic() - started
            assert time.monotonic() - started < timeout, (
                f"{topic}: replicas out of sync after {timeout:.0f} s: {lagging}"
            )
            time.sleep(0.25)

    def active_controller(self) -> int:
        """The node id of the active KRaft controller (not DescribeCluster's ``controller``: in KRaft
        that is a random live broker)."""
        leader = self.stack.active_controller()
        assert leader is not None, "no running node has recorded a quorum leader"
        return leader

    def kill(self, node_id: int) -> None:
        """SIGKILL broker ``node_id``: no controlled shutdown, its log not flushed (a crash)."""
        self.stack.broker(node_id).kill()

    def stop(self, node_id: int, timeout: float = 30.0) -> None:
        """SIGTERM broker ``node_id`` and wait for its controlled shutdown (SIGKILL after ``timeout`` s)."""
        self.stack.broker(node_id).stop(timeout)

    def start(self, node_id: int) -> None:
        """Start the stopped broker ``node_id`` again on its data; return once the metadata lists it."""
        self.stack.restart_broker(node_id)

    def heal(self) -> None:
        """Start every broker that is not running (after a test that failed midway)."""
        for broker in self.brokers:
            if not broker.is_running():
                self.start(broker.node_id)


def read_counts(
    bootstrap: str,
    topic: str,
    key: Callable[[Message], K],
    *,
    isolation: str = "read_uncommitted",
    timeout: float = 30.0,
) -> Counter[K]:
    """Every record of ``topic`` from the beginning up to each partition's end as it is now, counted by
    ``key(message)``. ``read_committed`` reaches a partition's end only once every transaction before it
    is decided (the reader's position passes aborted records and transaction markers without returning
    them), so an open transaction makes this fail after ``timeout`` seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    seen: Counter[K] = Counter()
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            positions = consumer.position([TopicPartition(topic, p) for p in pending])
            pending -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
            if not pending:
                break
            assert time.monotonic() < deadline, f"{topic}: partitions {sorted(pending)} not read to their end"
            for message in consumer.consume(1000, timeout=0.5):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    continue
                assert error is None, error
                seen[key(message)] += 1
    finally:
        consumer.close()
    return seen
