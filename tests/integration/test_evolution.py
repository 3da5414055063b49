"""Schema evolution end to end: packages generated from two versions of a catalog read each other's events.

``tests/integration/evolution/v1`` and ``v2`` are two versions of one small schemas tree (with its
catalog). Each test run copies both into ``tmp_path``, renames the catalog's ``evo`` domain to a
fresh one (the topic names fix the subjects, so repeated runs against one registry never collide),
and generates the packages ``evo_v1`` and ``evo_v2`` with the codegen API (what ``schemabus
generate`` runs). Then, per topic:

- ``schemabus check --level <the catalog's level> --previous v1 v2`` says the change is compatible;
- ``schemabus register`` of v1 sets every subject's level in the registry (and registers v1); the
  v2 publisher registers v2 through :class:`KafkaBus`, so the registry itself accepts the change;
- both generated publishers publish (v1 first), then a handler generated from each version consumes
  the topic, each in a service of its own (its :class:`ConsumerRunner`, consumer group and registry
  client), as two deployed versions of one consumer would.

FULL topics (``evo.order.placed`` Avro, ``evo.ticket.opened`` JSON Schema): each version reads the
other's events; nothing is dead-lettered. BACKWARD topics (``evo.order.shipped`` Avro,
``evo.ticket.closed`` JSON Schema): the v2 handler reads every event; the v1 handler sends the v2
events it cannot read to ``dlq.{topic}`` -- every one for Avro (schema resolution fails, whatever the
values), for JSON only those that hold the property v1's closed model forbids (a JSON reader
validates the data, not the writer's schema).

How the runtime decodes: Avro with the generated decoder when the writer's schema id is the
reader's own, else with fastavro's schema resolution against the writer schema fetched from the
registry; JSON Schema by validating the payload with the reader's generated model (its
``additionalProperties`` decide what happens to properties it does not declare), once the writer's
schema id is known to the registry as a JSON schema.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main
from schemabus.codegen.config import Config
from schemabus.codegen.output import write_tree
from schemabus.codegen.pipeline import generate, load_project
from schemabus.codegen.registry_sync import client as registry_client
from schemabus.codegen.registry_sync import register
from schemabus.runtime import (
    ConfluentRegistry,
    Event,
    Handler,
    KafkaBus,
    Publisher,
    RetryPolicy,
    SchemaIds,
    Topic,
    consumer_group,
    ensure_topics,
)
from schemabus.runtime.consumer import ConsumerMetrics, ConsumerRunner
from schemabus.runtime.dlq import DeadLetter, dlq_topic_name, read_dead_letters

pytestmark = pytest.mark.integration

TIMEOUT = 45.0  # the longest any single wait may take; nothing here should come close
FIXTURES = Path(__file__).with_name("evolution")
VERSIONS = ("v1", "v2")

# Fixture schema files by topic (without the domain), as the catalogs name them.
SCHEMA_FILES = {
    "order.placed": "evo/order/placed.avsc",
    "ticket.opened": "evo/ticket/opened.schema.json",
    "order.shipped": "evo/order/shipped.avsc",
    "ticket.closed": "evo/ticket/closed.schema.json",
}


# --- the two generated packages ------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """What a generated package holds for one topic."""

    topic: Topic[str, Any]
    publisher: type[Publisher[str, Any]]
    handler: type[Handler[str, Any]]

    @property
    def model(self) -> type[Any]:
        return self.topic.value.type


@dataclass(frozen=True)
class Evolution:
    domain: str  # this run's replacement of the fixtures' "evo" domain
    roots: dict[str, Path]  # version -> project root (its schemas are under schemas/)
    packages: dict[str, ModuleType]  # version -> the imported generated package

    def name(self, topic: str) -> str:
        return f"{self.domain}.{topic}"

    def schema_file(self, version: str, topic: str) -> Path:
        return self.roots[version] / "schemas" / SCHEMA_FILES[topic]

    def generated(self, version: str, topic: str) -> Generated:
        """The topic descriptor, publisher and handler stub of ``topic`` in one version's package.

        Found by the topic's name rather than by their generated names, which carry this run's domain.
        """
        package = self.packages[version]
        found = [getattr(package, n) for n in package.__all__]  # the top level imports each on first use
        name = self.name(topic)
        descriptor = next(t for t in found if isinstance(t, Topic) and t.name == name)

        def generated_class(base: type[Any]) -> Any:
            return next(
                c
                for c in found
                if isinstance(c, type) and issubclass(c, base) and c.__dict__.get("topic") is descriptor
            )

        return Generated(descriptor, generated_class(Publisher), generated_class(Handler))


def _package(version: str) -> str:
    return f"evo_{version}"


def _forget(package: str) -> None:
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]


@pytest.fixture(scope="module")
def evolution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evolution]:
    """Both fixture versions copied with a fresh domain, generated into one source root and imported."""
    tmp = tmp_path_factory.mktemp("evolution")
    domain = "evo" + uuid.uuid4().hex[:10]
    source_root = tmp / "generated"
    roots: dict[str, Path] = {}
    for version in VERSIONS:
        root = roots[version] = tmp / version
        shutil.copytree(FIXTURES / version, root / "schemas")
        catalog = root / "schemas" / "catalog.toml"
        text, renamed = re.subn(r'^\[topics\."evo\.', f'[topics."{domain}.', catalog.read_text(), flags=re.M)
        assert renamed == len(SCHEMA_FILES)
        catalog.write_text(text)
        files = generate(Config(root=root, package=_package(version)))
        write_tree(source_root / _package(version), files)
    for version in VERSIONS:
        assert _package(version) not in sys.modules, "a package of this name is imported already"
    sys.path.insert(0, str(source_root))
    try:
        packages = {version: importlib.import_module(_package(version)) for version in VERSIONS}
        yield Evolution(domain, roots, packages)
    finally:
        sys.path.remove(str(source_root))
        for version in VERSIONS:
            _forget(_package(version))


@pytest.fixture(scope="module")
def registered(evolution: Evolution, registry_url: str) -> Evolution:
    """``schemabus register`` of v1: every subject gets its catalog level, and v1 as its first version.

    Setting the level per subject makes the registry check v2 at the catalog's level, whatever its
    global default. The fixtures use draft-07 JSON Schemas: the registry (Apicurio) cannot
    compatibility-check the 2019-09 and 2020-12 drafts (HTTP 500).
    """
    config = Config(root=evolution.roots["v1"], package=_package("v1"))
    result = register(load_project(config), registry_client(registry_url), dry_run=False)
    assert result.refused == [], result.lines
    for topic in SCHEMA_FILES:
        level = evolution.generated("v1", topic).topic.compatibility
        assert f"{evolution.name(topic)}-value: compatibility unset -> {level}" in result.lines, result.lines
        assert any(line.startswith(f"{evolution.name(topic)}-value: registered (id ") for line in result.lines)
    return evolution


# --- publish with both versions, consume with both versions ----------------------------------------


@dataclass
class Exchange:
    """What one run of both versions' publishers and consumers on one topic gave."""

    received: dict[str, list[Event[str, Any]]]  # reader version -> events its handler got, in offset order
    metrics: dict[str, ConsumerMetrics]  # reader version -> its consumer group's counters
    groups: dict[str, str]  # reader version -> its consumer group
    schema_ids: dict[str, int]  # version -> the id its publisher wrote
    reader_ids: dict[str, int | None]  # version -> the id its consumer found for its own schema
    fetched: dict[str, Counter[int]]  # reader version -> writer schemas its consumer fetched by id
    dead_letters: list[DeadLetter]


class CountingRegistry(ConfluentRegistry):
    """The registry client, counting the writer schemas fetched by id."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.fetched: Counter[int] = Counter()

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        self.fetched[schema_id] += 1
        return super().schema_by_id(schema_id)


async def _wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def _run_until(runners: list[ConsumerRunner], scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``runners`` while ``scenario`` runs; then stop them gracefully and re-raise what any raised."""
    tasks = [asyncio.create_task(runner.run()) for runner in runners]
    watch = asyncio.create_task(scenario())
    try:
        done, _ = await asyncio.wait([*tasks, watch], return_when=asyncio.FIRST_COMPLETED)
        if watch in done:
            watch.result()
        else:
            for task in done:
                task.result()  # a runner stopped on its own: show why
            raise AssertionError("a runner stopped before the scenario finished")
    finally:
        watch.cancel()
        for runner in runners:
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)


def _recorder(base: type[Handler[str, Any]], version: str, into: list[Event[str, Any]]) -> Handler[str, Any]:
    """An instance of a subclass of the generated handler stub that records what it is given."""

    async def handle(self: Handler[str, Any], event: Event[str, Any]) -> None:
        into.append(event)

    cls: type[Handler[str, Any]] = type(f"ReadWith{version.upper()}", (base,), {"handle": handle})
    return cls()


def _dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    try:
        return read_dead_letters(bootstrap, dlq_topic_name(topic), limit=None)
    except LookupError:  # created on the first dead letter: none was written
        return []


def _exchange(
    kafka_bootstrap: str,
    registry_url: str,
    evolution: Evolution,
    topic: str,
    published: dict[str, list[Any]],
    dead_lettered: int = 0,
) -> Exchange:
    """Publish ``published[version]`` with each version's generated publisher (v1 first, each through
    its own KafkaBus that registers its schema), then consume the topic with a handler generated from
    each version, each in a service of its own (its own ConsumerRunner and registry client, so its
    own schema cache), until every record was handled or dead-lettered (``dead_lettered`` of them)."""
    gen = {version: evolution.generated(version, topic) for version in VERSIONS}
    name = evolution.name(topic)
    ensure_topics(kafka_bootstrap, [gen["v1"].topic])
    total = sum(len(values) for values in published.values())
    received: dict[str, list[Event[str, Any]]] = {version: [] for version in VERSIONS}
    registries = {version: CountingRegistry(registry_url) for version in VERSIONS}

    def own_id(ids: SchemaIds, version: str) -> int | None:
        return ids.known_id(gen[version].topic.value_subject, gen[version].topic.value.schema or "")

    async def scenario() -> Exchange:
        schema_ids: dict[str, int] = {}
        for version in VERSIONS:  # v1 publishes first, so v2 is the subject's second version
            async with KafkaBus(kafka_bootstrap, registry_url, id_mode="register") as bus:
                publisher = gen[version].publisher(bus)
                for i, value in enumerate(published[version]):
                    await publisher.publish(value, key=f"{version}-{i}")
                known = own_id(bus.codec.ids, version)
                assert known is not None
                schema_ids[version] = known

        run = uuid.uuid4().hex[:8]
        handlers = {version: _recorder(gen[version].handler, version, received[version]) for version in VERSIONS}
        runners = {
            version: ConsumerRunner(
                kafka_bootstrap,
                registries[version],
                [handlers[version]],
                service=f"svc-{version}-{run}",
                retry=RetryPolicy(max_retries=1, initial_backoff=0.01, jitter=0),
                commit_interval=0.1,
            )
            for version in VERSIONS
        }
        groups = {version: consumer_group(handlers[version], runners[version].service) for version in VERSIONS}

        def finished(version: str) -> bool:
            metrics = runners[version].metrics
            return metrics.handled + metrics.dead_lettered == total

        async def consume() -> None:
            await _wait_for(lambda: all(finished(v) for v in VERSIONS), f"both consumers to finish {total} records")

        await _run_until(list(runners.values()), consume)
        dead = _dead_letters(kafka_bootstrap, name)
        return Exchange(
            received,
            {version: runners[version].handler_metrics()[groups[version]] for version in VERSIONS},
            groups,
            schema_ids,
            {version: own_id(runners[version].codec.ids, version) for version in VERSIONS},
            {version: registries[version].fetched for version in VERSIONS},
            dead,
        )

    try:
        exchange = asyncio.run(scenario())
    finally:
        for registry in registries.values():
            registry.close()
    assert exchange.schema_ids["v1"] != exchange.schema_ids["v2"]  # two versions under one subject
    # Each consumer knows its own schema's id: records with it take the generated decoder (Avro).
    assert exchange.reader_ids == exchange.schema_ids
    # A writer schema is fetched from the registry at most once per consumer (then cached).
    assert all(count == 1 for fetched in exchange.fetched.values() for count in fetched.values())
    for version in VERSIONS:
        assert all(e.topic == name and e.partition == 0 for e in exchange.received[version])
        offsets = [e.offset for e in exchange.received[version]]
        assert offsets == sorted(offsets)
    assert len(exchange.dead_letters) == dead_lettered
    return exchange


def _values(events: list[Event[str, Any]]) -> list[Any]:
    return [e.value for e in events]


def _keys(events: list[Event[str, Any]]) -> list[str | None]:
    return [e.key for e in events]


# --- the checker ------------------------------------------------------------------------------------


def _check(evolution: Evolution, topic: str, level: str) -> Any:
    """``schemabus check --level LEVEL --previous <v1 file> <v2 file>``."""
    return CliRunner().invoke(
        main,
        [
            "check",
            "--level",
            level,
            "--previous",
            str(evolution.schema_file("v1", topic)),
            str(evolution.schema_file("v2", topic)),
        ],
    )


@pytest.mark.parametrize(
    ("topic", "level", "forward_breaks"),
    [
        ("order.placed", "FULL", []),
        ("ticket.opened", "FULL", []),
        ("order.shipped", "BACKWARD", ["TYPE_MISMATCH", "READER_FIELD_MISSING_DEFAULT_VALUE"]),
        ("ticket.closed", "BACKWARD", ["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"]),
    ],
)
def test_the_checker_accepts_v2_at_the_catalog_level(
    evolution: Evolution, topic: str, level: str, forward_breaks: list[str]
) -> None:
    # Both catalogs give the topic the same level.
    assert {evolution.generated(v, topic).topic.compatibility for v in VERSIONS} == {level}
    result = _check(evolution, topic, level)
    assert result.exit_code == 0, result.output
    assert f"no incompatibilities ({level})" in result.output
    # What a BACKWARD-only change breaks: a v1 reader of v2 data (the FORWARD direction).
    forward = _check(evolution, topic, "FORWARD")
    assert forward.exit_code == (1 if forward_breaks else 0), forward.output
    assert re.findall(r"^\S+#/\S*: .* \(([A-Z_]+)\)$", forward.output, flags=re.M) == forward_breaks


# --- FULL: each version reads the other's events -----------------------------------------------------


def test_full_avro_each_version_reads_the_others_events(
    kafka_bootstrap: str, registry_url: str, registered: Evolution
) -> None:
    v1 = registered.generated("v1", "order.placed").model
    v2 = registered.generated("v2", "order.placed").model
    published = {
        "v1": [
            v1(order_id="o-1", amount_cents=1250, note="leave at the door"),
            v1(order_id="o-2", amount_cents=0),
        ],
        "v2": [
            v2(order_id="o-3", amount_cents=990, currency="USD", tags=["gift", "express"]),
            v2(order_id="o-4", amount_cents=5),
        ],
    }
    exchange = _exchange(kafka_bootstrap, registry_url, registered, "order.placed", published)

    by_v1, by_v2 = exchange.received["v1"], exchange.received["v2"]
    assert _keys(by_v1) == _keys(by_v2) == ["v1-0", "v1-1", "v2-0", "v2-1"]
    # The v1 handler gets v1 models: its own events as written, v2's without currency and tags,
    # and with the default of the field v2 dropped (note: null).
    assert all(type(value) is v1 for value in _values(by_v1))
    assert _values(by_v1) == [
        *published["v1"],
        v1(order_id="o-3", amount_cents=990, note=None),
        v1(order_id="o-4", amount_cents=5, note=None),
    ]
    # The v2 handler gets v2 models: v1's events with v2's defaults for the fields v1 lacks.
    assert all(type(value) is v2 for value in _values(by_v2))
    assert _values(by_v2) == [
        v2(order_id="o-1", amount_cents=1250, currency="EUR", tags=[]),
        v2(order_id="o-2", amount_cents=0, currency="EUR", tags=[]),
        *published["v2"],
    ]
    for version in VERSIONS:
        metrics = exchange.metrics[version]
        assert (metrics.handled, metrics.dead_lettered, metrics.poison, metrics.retried) == (4, 0, 0, 0)
    # Each consumer fetched the other version's schema (once) to resolve its records against its own.
    ids = exchange.schema_ids
    assert exchange.fetched == {"v1": Counter({ids["v2"]: 1}), "v2": Counter({ids["v1"]: 1})}


def test_full_json_each_version_reads_the_others_events(
    kafka_bootstrap: str, registry_url: str, registered: Evolution
) -> None:
    v1 = registered.generated("v1", "ticket.opened").model
    v2 = registered.generated("v2", "ticket.opened").model
    published = {
        # v1 allows any further string property; a v1 writer may already send "priority".
        "v1": [v1(ticket_id="t-1", subject="printer on fire"), v1(ticket_id="t-2", subject="slow", priority="high")],
        "v2": [
            v2(ticket_id="t-3", subject="login fails", priority="urgent"),
            v2(ticket_id="t-4", subject="typo", channel="email"),
        ],
    }
    exchange = _exchange(kafka_bootstrap, registry_url, registered, "ticket.opened", published)

    by_v1, by_v2 = exchange.received["v1"], exchange.received["v2"]
    assert _keys(by_v1) == _keys(by_v2) == ["v1-0", "v1-1", "v2-0", "v2-1"]
    assert all(type(value) is v1 for value in _values(by_v1))
    assert _values(by_v1) == [
        *published["v1"],
        # v2's declared property is one of v1's additional (string) properties.
        v1(ticket_id="t-3", subject="login fails", priority="urgent"),
        # v2 writes what was set: its default for "priority" is v2's own (a JSON Schema default is an
        # annotation), so v1 sees no "priority".
        v1(ticket_id="t-4", subject="typo", channel="email"),
    ]
    assert [value.model_extra for value in _values(by_v1)] == [
        {},
        {"priority": "high"},
        {"priority": "urgent"},
        {"channel": "email"},
    ]
    assert all(type(value) is v2 for value in _values(by_v2))
    assert _values(by_v2) == [
        v2(ticket_id="t-1", subject="printer on fire", priority="normal"),  # v2's default fills it in
        v2(ticket_id="t-2", subject="slow", priority="high"),  # v1's additional property, now declared
        *published["v2"],
    ]
    assert [value.priority for value in _values(by_v2)] == ["normal", "high", "urgent", "normal"]
    for version in VERSIONS:
        metrics = exchange.metrics[version]
        assert (metrics.handled, metrics.dead_lettered, metrics.poison, metrics.retried) == (4, 0, 0, 0)


# --- BACKWARD: v2 reads v1's events; v1 dead-letters what it cannot read ------------------------------


def test_backward_avro_v2_reads_v1_and_v1_dead_letters_v2_events(
    kafka_bootstrap: str, registry_url: str, registered: Evolution
) -> None:
    v1 = registered.generated("v1", "order.shipped").model
    v2 = registered.generated("v2", "order.shipped").model
    published = {
        "v1": [v1(order_id="s-1", parcels=2, carrier_code="DHL")],
        "v2": [v2(order_id="s-2", parcels=3), v2(order_id="s-3", parcels=2**40)],  # an int no longer holds it
    }
    exchange = _exchange(kafka_bootstrap, registry_url, registered, "order.shipped", published, dead_lettered=2)

    # v2 reads v1's event: carrier_code is skipped, the int is promoted to long.
    by_v2 = exchange.received["v2"]
    assert all(type(value) is v2 for value in _values(by_v2))
    assert _values(by_v2) == [v2(order_id="s-1", parcels=2), *published["v2"]]
    assert (exchange.metrics["v2"].handled, exchange.metrics["v2"].dead_lettered) == (3, 0)

    # v1 reads its own event; v2's cannot be resolved to v1 (carrier_code has no default), whatever
    # their values: both go to the dead-letter topic as poison, at once (no retries).
    by_v1 = exchange.received["v1"]
    assert _values(by_v1) == published["v1"] and type(by_v1[0].value) is v1
    metrics = exchange.metrics["v1"]
    assert (metrics.handled, metrics.dead_lettered, metrics.poison, metrics.retried) == (1, 2, 2, 0)
    letters = exchange.dead_letters
    assert [(d.key, d.original_offset, d.consumer_group) for d in letters] == [
        (b"v2-0", 1, exchange.groups["v1"]),
        (b"v2-1", 2, exchange.groups["v1"]),
    ]
    for letter in letters:
        assert (letter.reason, letter.attempts) == ("invalid-payload", 0)
        assert letter.exception_class == "schemabus.runtime.serde.DeserializationError"
        assert f"cannot resolve writer schema {exchange.schema_ids['v2']}" in (letter.exception_message or "")
        assert letter.value is not None and int.from_bytes(letter.value[1:5], "big") == exchange.schema_ids["v2"]
    ids = exchange.schema_ids
    assert exchange.fetched == {"v1": Counter({ids["v2"]: 1}), "v2": Counter({ids["v1"]: 1})}


def test_backward_json_v2_reads_v1_and_v1_dead_letters_what_its_closed_model_forbids(
    kafka_bootstrap: str, registry_url: str, registered: Evolution
) -> None:
    v1 = registered.generated("v1", "ticket.closed").model
    v2 = registered.generated("v2", "ticket.closed").model
    published = {
        "v1": [v1(ticket_id="c-1", resolution="fixed")],
        "v2": [
            v2(ticket_id="c-2", resolution="wontfix", satisfaction=4),
            v2(ticket_id="c-3", resolution="duplicate"),  # no satisfaction: the property is left out
        ],
    }
    exchange = _exchange(kafka_bootstrap, registry_url, registered, "ticket.closed", published, dead_lettered=1)

    by_v2 = exchange.received["v2"]
    assert all(type(value) is v2 for value in _values(by_v2))
    assert _values(by_v2) == [v2(ticket_id="c-1", resolution="fixed"), *published["v2"]]
    assert (exchange.metrics["v2"].handled, exchange.metrics["v2"].dead_lettered) == (3, 0)

    # A JSON reader validates the data: v1's closed model rejects the event that has "satisfaction",
    # and reads the v2 event that does not.
    by_v1 = exchange.received["v1"]
    assert all(type(value) is v1 for value in _values(by_v1))
    assert _values(by_v1) == [published["v1"][0], v1(ticket_id="c-3", resolution="duplicate")]
    metrics = exchange.metrics["v1"]
    assert (metrics.handled, metrics.dead_lettered, metrics.poison, metrics.retried) == (2, 1, 1, 0)
    (letter,) = exchange.dead_letters
    assert (letter.key, letter.original_offset, letter.consumer_group) == (b"v2-0", 1, exchange.groups["v1"])
    assert (letter.reason, letter.attempts) == ("validation", 0)
    assert "satisfaction" in (letter.exception_message or "")
