"""Unreachable servers as one typed error, and librdkafka's log lines once per condition.

Caused for real where it matters: a closed loopback port (nothing listens) for the broker and the
registry. The command-line side (one line, exit 2, within --timeout) is tests/integration/test_cli_failures.py.
"""

from __future__ import annotations

import logging
import pickle
import socket
import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemabus.runtime.config import RegistryConfig
from schemabus.runtime.dlq import read_dead_letters, replay
from schemabus.runtime.errors import RegistryUnavailableError, ServerUnavailableError
from schemabus.runtime.kafka_logging import LIBRDKAFKA_LOGGER, BrokerErrors, OncePerCondition
from schemabus.runtime.registry_client import ConfluentRegistry


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Count(logging.Filter):
    """Counts the records that reach a logger, before its own filters drop any."""

    def __init__(self) -> None:
        super().__init__()
        self.records = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.records += 1
        return True


def test_a_down_broker_logs_each_condition_once(caplog: pytest.LogCaptureFixture) -> None:
    address = f"127.0.0.1:{closed_port()}"
    logger = logging.getLogger(LIBRDKAFKA_LOGGER)
    before_filters = _Count()
    logger.filters.insert(0, before_filters)
    caplog.set_level(logging.DEBUG, logger=LIBRDKAFKA_LOGGER)
    try:
        with pytest.raises(ServerUnavailableError) as error:
            read_dead_letters(address, "dlq.shop.order.placed", timeout=3)
    finally:
        logger.removeFilter(before_filters)
    lines = [r.getMessage() for r in caplog.records if r.name == LIBRDKAFKA_LOGGER and address in r.getMessage()]
    refused = [line for line in lines if "Connection refused" in line]
    assert len(refused) == 1, lines
    assert len(lines) <= 3, lines  # one per condition, not one per reconnect
    assert before_filters.records >= 10, "librdkafka retried for 3 s: it logged a flood that was held back"
    assert "Connection refused" in str(error.value)  # the condition is in the error too


def _record(text: str) -> logging.LogRecord:
    return logging.LogRecord(LIBRDKAFKA_LOGGER, logging.ERROR, __file__, 1, "%s [%s] %s", ("FAIL", "c#1", text), None)


def test_a_condition_is_shown_again_after_the_interval_with_a_count() -> None:
    now = [0.0]
    once = OncePerCondition(interval=60, clock=lambda: now[0])
    refused = "[thrd:h:1/bootstrap]: h:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused"
    # The same condition, however librdkafka decorates it (thread, time in state, its own repeat count).
    variants = [
        f"{refused} (after 0ms in state CONNECT)",
        f"{refused} (after 3ms in state CONNECT, 4 identical error(s) suppressed)",
        refused.replace("[thrd:h:1/bootstrap]", "[thrd:main]"),
    ]
    shown = [once.filter(_record(variants[i % 3])) for i in range(30)]
    assert shown == [True] + [False] * 29
    assert once.filter(_record("h:1/bootstrap: Connect to ipv4#127.0.0.1:2 failed: Connection refused"))  # another
    now[0] = 61.0
    again = _record(variants[0])
    assert once.filter(again)
    assert again.getMessage().endswith("(29 more in 60s)")


def test_the_registry_retries_for_its_time_budget() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    registry = ConfluentRegistry(RegistryConfig(url=url, retry_timeout_s=1.5, retry_backoff_ms=100))
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError) as error:
        registry.lookup_schema("orders-value", '{"type": "string"}', "AVRO")
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 4
    e = error.value
    assert isinstance(e, ServerUnavailableError) and (e.server, e.address) == ("schema registry", url)
    assert e.attempts is not None and e.attempts >= 4
    assert str(e).startswith(f"schema registry {url} is unavailable: could not look up the schema of subject")
    assert f"({e.attempts} attempts in 1.5s); last error: ConnectError" in str(e)


def test_broker_errors_turn_transport_failures_into_one_error() -> None:
    errors = BrokerErrors("127.0.0.1:9", secrets=["s3cret"])
    errors(KafkaError(KafkaError._TRANSPORT, "127.0.0.1:9/bootstrap: Connect failed: s3cret (after 0ms in state X)"))
    errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))

    def metadata() -> None:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Failed to get metadata: Broker transport failure"))

    with pytest.raises(ServerUnavailableError) as error:
        errors.call("read the metadata of topic t", metadata)
    # The specific connection error, not "1/1 brokers are down" nor "Broker transport failure"; no secret.
    assert str(error.value).startswith("Kafka broker 127.0.0.1:9 is unavailable: could not read the metadata")
    assert str(error.value).endswith("last error: 127.0.0.1:9/bootstrap: Connect failed: ***")

    def refused() -> None:
        raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))

    with pytest.raises(KafkaException):  # a refusal is not "unavailable"
        errors.call("read topic t", refused)


def test_replay_refuses_a_topic_that_is_not_a_dead_letter_topic() -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"shop\.order\.placed is not a dead-letter topic .* dlq\.shop\.order\.placed"):
        replay(f"127.0.0.1:{closed_port()}", "shop.order.placed")
    assert time.monotonic() - started < 1  # refused before any connection


def test_unavailable_errors_survive_pickling() -> None:
    kafka = ServerUnavailableError("Kafka broker", "h:1", "read t", "refused", elapsed=2.0)
    registry = RegistryUnavailableError("http://r", "list subjects", "ConnectError", attempts=3, elapsed=1.0)
    for error in (kafka, registry):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
    assert str(kafka) == "Kafka broker h:1 is unavailable: could not read t (tried for 2.0s); last error: refused"


def test_a_consumer_reports_each_broker_error_once(caplog: pytest.LogCaptureFixture) -> None:
    """The consumer's error callback (librdkafka calls it on every reconnect) logs each condition once."""
    import asyncio

    import platform_events as pe
    from schemabus.runtime.config import ConsumerSettings
    from schemabus.runtime.consumer import ConsumerRunner
    from schemabus.runtime.testing import InMemoryRegistry

    address = f"127.0.0.1:{closed_port()}"
    logger = logging.getLogger(LIBRDKAFKA_LOGGER)
    before_filters = _Count()
    logger.filters.insert(0, before_filters)
    caplog.set_level(logging.WARNING, logger=LIBRDKAFKA_LOGGER)

    @pe.AGENT_LIFECYCLE_CREATED.handler(group="unreachable")
    async def handle(event: object) -> None:
        pass

    runner = ConsumerRunner(
        address,
        InMemoryRegistry(),
        [handle],
        dead_letters=False,
        extra_config={"reconnect.backoff.max.ms": 100},
        settings=ConsumerSettings(startup_timeout=None),  # the consumer's own reports are under test
    )

    async def run_briefly() -> None:
        asyncio.get_running_loop().call_later(3, runner.stop)
        await runner.run()

    try:
        asyncio.run(run_briefly())
    finally:
        logger.removeFilter(before_filters)
    ours = [r.getMessage() for r in caplog.records if r.getMessage().startswith("unreachable: ")]
    assert ours and len(ours) == len(set(ours)), ours  # each condition once
    assert before_filters.records > len(ours), "librdkafka reported the same errors again, held back"
