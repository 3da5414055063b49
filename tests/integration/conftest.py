"""A real Kafka broker and schema registry for the integration tests.

Set ``SCHEMABUS_BOOTSTRAP_SERVERS`` and/or ``SCHEMABUS_REGISTRY_URL`` to use an existing
cluster or registry (e.g. from ``docker compose up``); whatever is not set is started
once per session with ``schemabus.runtime.devstack`` and stopped at the end. A server
that cannot start makes every test using it error with the reason and its log.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY, start_stack


def _progress(message: str) -> None:
    # Shown with the test's output if setup fails; with -s, live.
    print(f"devstack: {message}", file=sys.stderr)


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[str, str]]:
    """(bootstrap servers, registry URL): from the environment, else from a dev stack."""
    bootstrap = os.environ.get(ENV_BOOTSTRAP, "").strip()
    registry = os.environ.get(ENV_REGISTRY, "").strip()
    if bootstrap and registry:
        yield bootstrap, registry
        return
    # Both servers start concurrently; a DevStackError here is cached by pytest and
    # reported by every test that needs the servers.
    stack = start_stack(kafka=not bootstrap, registry=not registry, progress=_progress)
    try:
        yield (bootstrap or stack.bootstrap_servers, registry or stack.registry_url)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_servers: tuple[str, str]) -> str:
    """``host:port`` of a real Kafka broker (``bootstrap.servers``)."""
    return _servers[0]


@pytest.fixture(scope="session")
def registry_url(_servers: tuple[str, str]) -> str:
    """Base URL of a Confluent-API schema registry, for ``SchemaRegistryClient({"url": ...})``."""
    return _servers[1]
