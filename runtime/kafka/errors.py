"""librdkafka's errors as schemabus's typed errors: pure functions of the error, no client state."""

from __future__ import annotations

from confluent_kafka import KafkaError

from ..errors import AuthenticationError, AuthorizationError, FatalProducerError, PublishError

__all__ = [
    "AUTHENTICATION_CODES",
    "AUTHORIZATION_CODES",
    "PURGED_CODES",
    "TOO_FEW_REPLICAS_CODES",
    "FatalAuthorizationError",
    "error_text",
    "fatal_failure",
    "kafka_error",
    "publish_error",
]

AUTHENTICATION_CODES = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL})
AUTHORIZATION_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    }
)
# A record purged from the producer's queue (by a purge() call) before or while in flight.
PURGED_CODES = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
# The partition has fewer in-sync replicas than the topic's min.insync.replicas, so an acks=all
# write is refused (NOT_ENOUGH_REPLICAS: not written) or not acknowledged (..._AFTER_APPEND: the
# leader wrote it, the followers did not). Transient: it passes once a replica catches up. A delivery
# report does not carry librdkafka's retriable flag, so these are classified here.
TOO_FEW_REPLICAS_CODES = frozenset({KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND})


def kafka_error(e: BaseException) -> KafkaError | None:
    """The :class:`KafkaError` a ``KafkaException`` carries, if any."""
    return e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None


def error_text(e: BaseException) -> str:
    """``NAME: text`` of the KafkaError ``e`` carries, else ``str(e)``."""
    error = kafka_error(e)
    return f"{error.name()}: {error.str()}" if error is not None else str(e)


class FatalAuthorizationError(AuthorizationError, FatalProducerError):
    """A permission librdkafka treats as fatal was refused (e.g. the producer id of an idempotent
    producer): the caller sees an :class:`AuthorizationError`; the bus replaces its producer as after
    any :class:`FatalProducerError`, so publishing works again once the ACLs are granted."""


def fatal_failure(error: KafkaError, text: str) -> FatalProducerError:
    """What publishes fail with until the producer is replaced: a refused permission stays an
    authorization error (not retriable: fix the ACLs), anything else is a retriable fatal error."""
    if error.code() in AUTHORIZATION_CODES:
        return FatalAuthorizationError("", f"not authorized: {text}", code=error.name())
    return FatalProducerError("", f"fatal producer error {error.name()}: {text}", retriable=True, code=error.name())


def publish_error(error: KafkaError, topic: str, text: str, *, possibly_persisted: bool | None = None) -> PublishError:
    """The typed error of a record that failed with ``error`` (``text``: its redacted text): fatal,
    refused permission, refused credentials, or a plain :class:`PublishError` (retriable as librdkafka
    says). ``possibly_persisted`` None: as the kind of error implies."""
    code = error.code()
    if error.fatal() or code == KafkaError._FATAL:
        failure = fatal_failure(error, text)
        return type(failure)(
            topic,
            failure.reason,
            retriable=failure.retriable,
            possibly_persisted=True if possibly_persisted is None else possibly_persisted,
            code=failure.code,
        )
    if code in AUTHORIZATION_CODES:
        return AuthorizationError(topic, f"not authorized: {text}", code=error.name())
    if code in AUTHENTICATION_CODES:
        return AuthenticationError(topic, f"authentication failed: {text}", code=error.name())
    if code in TOO_FEW_REPLICAS_CODES:
        after_append = code == KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND
        return PublishError(
            topic,
            f"fewer in-sync replicas than the topic's min.insync.replicas (acks=all): {text}",
            retriable=True,
            possibly_persisted=after_append if possibly_persisted is None else possibly_persisted,
            code=error.name(),
        )
    return PublishError(topic, text, retriable=error.retriable(), code=error.name())
