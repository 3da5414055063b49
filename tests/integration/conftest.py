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

from schemabus.runtime import RecordCodec, SchemaIds
from schemabus.runtime.devstack import ENV_BOOTSTRAP, ENV_REGISTRY, DevStack, SaslListener, start_stack
from schemabus.runtime.registry_client import ConfluentRegistry

# The stack `_servers` started, for fixtures that need more of it than two addresses.
_DEV_STACK = pytest.StashKey[DevStack]()


def _progress(message: str) -> None:
    # Shown with the test's output if setup fails; with -s, live.
    print(f"devstack: {message}", file=sys.stderr)


@pytest.fixture(scope="session")
def _servers(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(bootstrap servers, registry URL): from the environment, else from a dev stack."""
    bootstrap = os.environ.get(ENV_BOOTSTRAP, "").strip()
    registry = os.environ.get(ENV_REGISTRY, "").strip()
    if bootstrap and registry:
        yield bootstrap, registry
        return
    # Both servers start concurrently; a DevStackError here is cached by pytest and
    # reported by every test that needs the servers.
    stack = start_stack(kafka=not bootstrap, registry=not registry, progress=_progress)
    request.config.stash[_DEV_STACK] = stack
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


@pytest.fixture(scope="session")
def kafka_sasl(request: pytest.FixtureRequest, kafka_bootstrap: str) -> SaslListener:
    """The dev broker's SASL_PLAINTEXT listener (``address``) and its SASL/PLAIN dev users.

    ACLs apply there: ``admin`` is a super user, ``alice`` and ``bob`` start with no ACLs
    (grant some through ``kafka_bootstrap``, whose anonymous principal is a super user).
    Skipped when the broker comes from ``SCHEMABUS_BOOTSTRAP_SERVERS``: a cluster we did not
    configure has neither this listener nor these users, and its ACLs are not ours to change.
    """
    if os.environ.get(ENV_BOOTSTRAP, "").strip():
        pytest.skip(f"the broker comes from {ENV_BOOTSTRAP}: no dev SASL listener, users or ACLs to test with")
    stack = request.config.stash.get(_DEV_STACK, None)
    if stack is None or stack.kafka is None:
        pytest.skip("no dev-stack broker in this session")
    return stack.sasl


@pytest.fixture(scope="module")
def registry(registry_url: str) -> ConfluentRegistry:
    """A schemabus registry client of ``registry_url``."""
    return ConfluentRegistry(registry_url)


@pytest.fixture(scope="module")
def codec(registry: ConfluentRegistry) -> RecordCodec:
    """Frames records as a publisher does (registering the schemas on first use)."""
    return RecordCodec(SchemaIds(registry, "register"))
