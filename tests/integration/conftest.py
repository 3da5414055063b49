"""A real Kafka broker and schema registry for the integration tests.

Set ``SCHEMABUS_BOOTSTRAP_SERVERS`` and/or ``SCHEMABUS_REGISTRY_URL`` to use an existing
cluster or registry (e.g. from ``docker compose up``); whatever is not set is started
once per session with ``schemabus.runtime.devstack`` and stopped at the end. A server
that cannot start makes every test using it error with the reason and its log.

Some tests need servers this session controls, whatever the environment says: the SASL
listener with its dev users and ACLs (``kafka_sasl``), and processes a test may freeze
(``fault_servers``). They get the session's own dev stack; when the environment named
external servers, a second stack is started for them, once, the first time one is needed.
No test is skipped for want of a server.

``kafka_cluster`` is a KRaft cluster of three brokers for the tests marked ``cluster``
(``pytest -m cluster``), started the first time one of them runs, whatever the environment
says (its tests kill brokers), and stopped at the end of the session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import FaultCluster, FaultServers

from schemabus.runtime import RecordCodec, SchemaIds
from schemabus.runtime.devstack import (
    ENV_BOOTSTRAP,
    ENV_REGISTRY,
    DevStack,
    SaslListener,
    cache_dir,
    start_stack,
)
from schemabus.runtime.devstack.cli import dev
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
def fault_servers(request: pytest.FixtureRequest, _servers: tuple[str, str]) -> Iterator[FaultServers]:
    """The session's own dev stack, or, for what the environment provided, a second one started here."""
    session = request.config.stash.get(_DEV_STACK, None)
    kafka = session.kafka if session is not None else None
    registry = session.registry if session is not None else None
    extra: DevStack | None = None
    if kafka is None or registry is None:
        _progress("starting servers of our own next to the external ones (SASL, fault tests)")
        extra = start_stack(kafka=kafka is None, registry=registry is None, progress=_progress)
        kafka = kafka or extra.kafka
        registry = registry or extra.registry
    assert kafka is not None and registry is not None
    try:
        yield FaultServers(kafka, registry)
    finally:
        if extra is not None:
            extra.stop()


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[FaultCluster]:
    """Three KRaft brokers this session started (no registry): RF 3 and min ISR 2 by default."""
    stack = start_stack(kafka=True, registry=False, brokers=3, progress=_progress)
    try:
        yield FaultCluster(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def kafka_sasl(fault_servers: FaultServers) -> SaslListener:
    """The SASL_PLAINTEXT listener (``address``) of a broker this session started, and its SASL/PLAIN dev users.

    ACLs apply there: ``admin`` is a super user, ``alice`` and ``bob`` start with no ACLs
    (grant some through ``sasl_bootstrap``, the same broker's PLAINTEXT listener, whose
    anonymous principal is a super user). Never skipped: with external servers, the
    session starts a broker of its own for these tests.
    """
    return fault_servers.sasl


@pytest.fixture(scope="session")
def sasl_bootstrap(fault_servers: FaultServers) -> str:
    """The PLAINTEXT listener of the broker ``kafka_sasl`` belongs to: create topics and grant ACLs here."""
    return fault_servers.bootstrap


@pytest.fixture(scope="module")
def registry(registry_url: str) -> ConfluentRegistry:
    """A schemabus registry client of ``registry_url``."""
    return ConfluentRegistry(registry_url)


@pytest.fixture(scope="module")
def codec(registry: ConfluentRegistry) -> RecordCodec:
    """Frames records as a publisher does (registering the schemas on first use)."""
    return RecordCodec(SchemaIds(registry, "register"))


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache whose `dev` folder is private to this test, sharing the real downloads.

    A developer's own `schemabus dev up` stack lives in the real cache's `dev` folder;
    this test must neither find nor stop it.
    """
    real = cache_dir()
    for shared in ("kafka", "apicurio", "cds"):
        (real / shared).mkdir(parents=True, exist_ok=True)
        (tmp_path / shared).symlink_to(real / shared)
    monkeypatch.setenv("SCHEMABUS_CACHE_DIR", str(tmp_path))
    yield tmp_path
    # Whatever happened above, stop what `up` started.
    CliRunner().invoke(dev, ["down"])
