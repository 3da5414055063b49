"""Transactional settings, errors and misuse that need no broker (see tests/integration/test_exactly_once.py)."""

from __future__ import annotations

import pickle
import socket

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.dlq import DeadLetterWriter
from schemabus.runtime.errors import (
    AuthorizationError,
    ConfigError,
    FatalProducerError,
    ProducerFencedError,
    PublishError,
    TransactionAbortedError,
    TransactionError,
    TransactionStateError,
)
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.kafka.errors import fatal_failure
from schemabus.runtime.testing import InMemoryRegistry
from schemabus.runtime.transactions import Transaction, is_fenced


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_a_transactional_id_sets_the_librdkafka_properties_and_fits_the_delivery_timeout() -> None:
    plain = ProducerSettings()
    assert "transactional.id" not in plain.librdkafka_config() and plain.delivery_timeout_ms == 120_000
    settings = ProducerSettings(transactional_id="billing-0")
    conf = settings.librdkafka_config()
    assert conf["transactional.id"] == "billing-0" and "transaction.timeout.ms" not in conf
    assert settings.delivery_timeout_ms == 60_000  # librdkafka wants it within the transaction timeout
    short = ProducerSettings(transactional_id="billing-0", transaction_timeout_ms=10_000)
    assert short.delivery_timeout_ms == 10_000 and short.librdkafka_config()["transaction.timeout.ms"] == 10_000
    with pytest.raises(ConfigError, match="must not exceed the transaction timeout"):
        ProducerSettings(transactional_id="billing-0", delivery_timeout_ms=90_000)
    with pytest.raises(ConfigError, match="needs enable_idempotence"):
        ProducerSettings(transactional_id="billing-0", enable_idempotence=False)
    env = ProducerSettings.from_env({"SCHEMABUS_PRODUCER_TRANSACTIONAL_ID": "from-env"})
    assert env.transactional_id == "from-env" and env.delivery_timeout_ms == 60_000


def test_transaction_errors_are_publish_errors_that_say_what_failed() -> None:
    aborted = TransactionAbortedError("", "the commit failed (X: y); the transaction was aborted", retriable=True)
    assert isinstance(aborted, TransactionError) and isinstance(aborted, PublishError)
    assert str(aborted) == "transaction failed: the commit failed (X: y); the transaction was aborted (retriable)"
    for_record = aborted.for_topic("orders", possibly_persisted=False)
    assert type(for_record) is TransactionAbortedError and str(for_record).startswith("publishing to orders failed")
    assert isinstance(ProducerFencedError("", "fenced"), FatalProducerError)
    assert isinstance(TransactionStateError("", "no transaction"), TransactionError)
    restored = pickle.loads(pickle.dumps(aborted))
    assert type(restored) is TransactionAbortedError and restored.retriable


def test_fencing_is_recognized_by_code_or_text() -> None:
    assert is_fenced(KafkaError(KafkaError._FENCED, "fenced", fatal=True))
    assert is_fenced(KafkaError(KafkaError.PRODUCER_FENCED, "x", fatal=True))
    assert is_fenced(KafkaError(KafkaError._FATAL, "This instance has been fenced by a newer instance", fatal=True))
    assert not is_fenced(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "sequence gap", fatal=True))


def test_a_plain_bus_has_no_transactions_and_exactly_once_needs_a_transactional_bus() -> None:
    bus = KafkaBus(_closed_port(), InMemoryRegistry())
    try:
        assert not bus.transactional
        with pytest.raises(TransactionStateError, match="not transactional"), bus.transaction_sync():
            pass
        with pytest.raises(ValueError, match="transactional KafkaBus"):
            ConsumerRunner(_closed_port(), InMemoryRegistry(), exactly_once=bus)
        tx_bus = KafkaBus(_closed_port(), InMemoryRegistry(), producer=ProducerSettings(transactional_id="t-dlq"))
        try:
            with pytest.raises(ValueError, match="dead letters go through the bus"):
                ConsumerRunner(
                    _closed_port(),
                    InMemoryRegistry(),
                    exactly_once=tx_bus,
                    dead_letters=DeadLetterWriter(_closed_port()),
                )
        finally:
            tx_bus.close_sync(1)
    finally:
        bus.close_sync(1)


def test_send_offsets_keeps_the_highest_offset_per_partition_and_the_latest_group_metadata() -> None:
    """consumer_group_metadata() returns a new object per call: sending offsets twice in one
    transaction is the normal consume-transform-produce loop, not a second consumer group."""
    tx = Transaction(None)  # type: ignore[arg-type]  # send_offsets needs no bus
    tx.send_offsets([TopicPartition("orders", 0, 5)], b"generation-1")
    tx.send_offsets([TopicPartition("orders", 0, 3), TopicPartition("orders", 1, 2)], b"generation-2")
    assert sorted((tp.topic, tp.partition, tp.offset) for tp in tx.offsets) == [("orders", 0, 5), ("orders", 1, 2)]
    assert tx.group_metadata == b"generation-2"


def test_a_fatal_authorization_error_stays_an_authorization_error_in_transactions() -> None:
    bus = KafkaBus(_closed_port(), InMemoryRegistry(), producer=ProducerSettings(transactional_id="t-auth"))
    try:
        refused = KafkaError(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "no ACL for the id", fatal=True)
        error = bus._transactions.typed_error("initialize transactions", KafkaException(refused))
        assert isinstance(error, AuthorizationError) and not error.retriable
        assert error.code == "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
    finally:
        bus.close_sync(1)


def test_fatal_errors_map_to_typed_failures() -> None:
    """What publishes fail with until the producer is replaced (a pure function; the replacement
    itself is tested with real fatal errors: tests/integration/test_security.py, test_exactly_once.py)."""
    gap = fatal_failure(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "gap", fatal=True), "gap")
    assert type(gap) is FatalProducerError and gap.retriable and gap.code == "OUT_OF_ORDER_SEQUENCE_NUMBER"
    refused = KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED, "no producer id", fatal=True)
    denied = fatal_failure(refused, "no producer id")
    assert isinstance(denied, AuthorizationError) and isinstance(denied, FatalProducerError) and not denied.retriable
