"""Real faults for the integration tests, on servers this session started (``fault_servers``).

``frozen(server)`` stops the server's process with SIGSTOP for the ``with`` block and resumes it with
SIGCONT at the end, whatever happens inside. A frozen server keeps its sockets: connections stay
open and new ones are still accepted by the kernel, but no request is answered, so clients see what
a hung or overloaded server looks like (requests time out) rather than a refused connection. Keep a
freeze of Kafka under ~8 s: its controller (the same process) fences a broker whose heartbeats stop
for longer, which would disturb the tests after it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from schemabus.runtime.devstack import KafkaProcess, SaslListener, ServerProcess
from schemabus.runtime.devstack.process import is_ours


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
