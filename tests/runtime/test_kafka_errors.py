"""librdkafka errors map to typed errors without a broker (runtime/kafka/errors.py)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemabus.runtime.errors import AuthenticationError, AuthorizationError, FatalProducerError, PublishError
from schemabus.runtime.kafka.errors import error_text, fatal_failure, kafka_error, publish_error


def test_a_refused_permission_is_an_authorization_error_not_retriable() -> None:
    error = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "no WRITE on orders")
    e = publish_error(error, "orders", "no WRITE on orders")
    assert type(e) is AuthorizationError
    assert (e.topic, e.retriable, e.possibly_persisted, e.code) == (
        "orders",
        False,
        False,
        "TOPIC_AUTHORIZATION_FAILED",
    )
    assert "not authorized: no WRITE on orders" in str(e)


def test_refused_credentials_are_an_authentication_error() -> None:
    e = publish_error(KafkaError(KafkaError.SASL_AUTHENTICATION_FAILED, "bad password"), "t", "bad password")
    assert type(e) is AuthenticationError
    assert "authentication failed: bad password" in str(e)


@pytest.mark.parametrize("possibly_persisted", [None, False])
def test_a_fatal_error_is_retriable_and_possibly_persisted_unless_known_not(possibly_persisted: bool | None) -> None:
    error = KafkaError(KafkaError._FATAL, "the idempotent producer lost its sequence", fatal=True)
    e = publish_error(error, "t", error.str(), possibly_persisted=possibly_persisted)
    assert type(e) is FatalProducerError
    assert e.retriable
    assert e.possibly_persisted is (possibly_persisted is None)


def test_a_fatal_refused_permission_stays_an_authorization_error_and_replaces_the_producer() -> None:
    error = KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED, "no IDEMPOTENT_WRITE", fatal=True)
    failure = fatal_failure(error, error.str())
    assert isinstance(failure, AuthorizationError)
    assert isinstance(failure, FatalProducerError)  # the bus replaces its producer
    assert not failure.retriable


def test_other_errors_are_retriable_as_librdkafka_says() -> None:
    retriable = publish_error(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS, "x", retriable=True), "t", "x")
    final = publish_error(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "y"), "t", "y")
    assert (type(retriable), retriable.retriable, retriable.code) == (PublishError, True, "NOT_ENOUGH_REPLICAS")
    assert (type(final), final.retriable) == (PublishError, False)


@pytest.mark.parametrize(
    ("code", "persisted"),
    [(KafkaError.NOT_ENOUGH_REPLICAS, False), (KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND, True)],
)
def test_too_few_in_sync_replicas_is_retriable_and_says_so(code: int, persisted: bool) -> None:
    # As a delivery report carries it: without librdkafka's retriable flag.
    error = KafkaError(code, "Broker: Not enough in-sync replicas")
    e = publish_error(error, "t", error.str())
    assert (type(e), e.retriable, e.possibly_persisted, e.code) == (PublishError, True, persisted, error.name())
    assert "fewer in-sync replicas than the topic's min.insync.replicas (acks=all)" in str(e)


def test_the_error_a_kafka_exception_carries() -> None:
    error = KafkaError(KafkaError._TRANSPORT, "connection refused")
    assert kafka_error(KafkaException(error)) is error
    assert kafka_error(KafkaException("no KafkaError")) is None
    assert error_text(KafkaException(error)) == "_TRANSPORT: connection refused"
    assert error_text(ValueError("plain")) == "plain"
