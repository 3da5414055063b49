"""Typed errors of the Kafka runtime: configuration, publishing, and the schema registry.

Every error derives from :class:`SchemabusError`. Messages name what failed (a topic, a
configuration property, a registry URL) and never contain a secret: passwords and tokens are
only ever held as ``pydantic.SecretStr`` and are removed from any text a library hands back.

Errors a ``publish`` call can raise are :class:`PublishError` or one of its subclasses, so one
``except PublishError`` covers them; ``retriable`` says whether publishing again may succeed,
``possibly_persisted`` whether the broker may have stored the record anyway (a retry may then
write it twice).

A server that cannot be reached (a Kafka broker, the schema registry) is reported as
:class:`ServerUnavailableError` (the registry's :class:`RegistryUnavailableError` is one): one line
naming the server, its address, what could not be done, how long it was tried, and the last error.

A transactional bus (``ProducerSettings.transactional_id``) adds :class:`TransactionError` and its
subclasses (:class:`TransactionStateError`, :class:`TransactionAbortedError`), and
:class:`ProducerFencedError`, a :class:`FatalProducerError` after which the bus stays unusable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ConfigError",
    "FatalProducerError",
    "IncompatibleSchemaError",
    "ProducerFencedError",
    "PublishBatchError",
    "PublishError",
    "RegistryError",
    "RegistryUnavailableError",
    "SchemabusError",
    "ServerUnavailableError",
    "TopicMismatchError",
    "TransactionAbortedError",
    "TransactionError",
    "TransactionOutcomeUnknownError",
    "TransactionStateError",
]


class SchemabusError(Exception):
    """Base of every error the schemabus runtime raises on its own."""


class TopicMismatchError(SchemabusError):
    """A topic is missing on the cluster, or its partition count differs from the catalog's (the
    ``verify`` topic check of :class:`~schemabus.runtime.config.ProducerSettings` and
    :class:`~schemabus.runtime.config.ConsumerSettings`). ``topics`` names them."""

    def __init__(self, message: str, *, topics: tuple[str, ...]) -> None:
        super().__init__(message)
        self.topics = topics


class ConfigError(SchemabusError):
    """Invalid configuration; the message names the setting (e.g. the librdkafka property)."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class PublishError(SchemabusError):
    """A record could not be published (or its delivery could not be confirmed).

    ``retriable``: publishing again may succeed (a timeout, brokers down, a full queue).
    ``possibly_persisted``: the broker may have written the record although no acknowledgement
    arrived (a delivery timeout of a record that was sent); a retry may then duplicate it.
    ``code``: the librdkafka error name when there is one (``_MSG_TIMED_OUT``, ``_ALL_BROKERS_DOWN``...).
    """

    def __init__(
        self,
        topic: str,
        reason: str,
        *,
        retriable: bool = False,
        possibly_persisted: bool = False,
        code: str | None = None,
    ) -> None:
        self.topic = topic
        self.reason = reason
        self.retriable = retriable
        self.possibly_persisted = possibly_persisted
        self.code = code
        super().__init__(self._message())

    def _message(self) -> str:
        flags = []
        if self.retriable:
            flags.append("retriable")
        if self.possibly_persisted:
            flags.append("possibly persisted: a retry may duplicate the record")
        suffix = f" ({'; '.join(flags)})" if flags else ""
        return f"publishing to {self.topic or '?'} failed: {self.reason}{suffix}"

    def for_topic(self, topic: str, *, possibly_persisted: bool | None = None) -> PublishError:
        """A new error of the same type and cause for ``topic`` (an exception instance is raised once)."""
        return type(self)(
            topic,
            self.reason,
            retriable=self.retriable,
            possibly_persisted=self.possibly_persisted if possibly_persisted is None else possibly_persisted,
            code=self.code,
        )

    def __reduce__(self) -> tuple[object, ...]:  # picklable despite the keyword-only arguments
        return (_rebuild, (type(self), self.topic, self.reason, self.retriable, self.possibly_persisted, self.code))


def _rebuild(
    cls: type[PublishError], topic: str, reason: str, retriable: bool, possibly_persisted: bool, code: str | None
) -> PublishError:
    return cls(topic, reason, retriable=retriable, possibly_persisted=possibly_persisted, code=code)


class PublishBatchError(PublishError):
    """Some records of a ``publish_many`` batch were not acknowledged (raised once every record of the
    batch was acknowledged or had failed).

    ``failed`` maps each failed record's position in the batch to its error; the others were
    published. ``retriable`` when every failure is; ``possibly_persisted`` when any may have been.
    """

    def __init__(self, topic: str, failed: Mapping[int, PublishError], total: int) -> None:
        if not failed:
            raise ValueError("a PublishBatchError names at least one failed record")
        self.failed = dict(sorted(failed.items()))
        self.total = total
        first_position, first = next(iter(self.failed.items()))
        super().__init__(
            topic,
            f"{len(self.failed)} of {total} records were not published; the first (at position "
            f"{first_position}): {first.reason}",
            retriable=all(e.retriable for e in self.failed.values()),
            possibly_persisted=any(e.possibly_persisted for e in self.failed.values()),
            code=first.code,
        )

    @property
    def delivered(self) -> int:
        """How many records of the batch the broker acknowledged."""
        return self.total - len(self.failed)

    def for_topic(self, topic: str, *, possibly_persisted: bool | None = None) -> PublishError:
        return PublishBatchError(topic, self.failed, self.total)

    def __reduce__(self) -> tuple[object, ...]:
        return (PublishBatchError, (self.topic, self.failed, self.total))


class _AccessError(PublishError):
    """Refused access: raised by publishing and by consuming alike, so the message names no direction."""

    def _message(self) -> str:
        return f"{self.topic or 'the cluster'}: {self.reason}{' (retriable)' if self.retriable else ''}"


class AuthenticationError(_AccessError):
    """The brokers refused the client's credentials (SASL or TLS): fix the configuration. Raised by
    ``publish`` and by ``ConsumerRunner.run``."""


class AuthorizationError(_AccessError):
    """The client is authenticated but an ACL is missing: to write the topic (or to be an idempotent
    producer), or to read the topic or join the consumer group. Raised by ``publish`` and by
    ``ConsumerRunner.run``."""


class FatalProducerError(PublishError):
    """librdkafka raised a fatal error; the bus replaced its producer, records in flight were lost or
    possibly persisted. Publishing again uses the new producer."""


class ProducerFencedError(FatalProducerError):
    """A newer producer with the same ``transactional_id`` took over (KIP-98 zombie fencing). This bus
    is a zombie: it does not replace its producer (that would fence the newer instance in turn), and
    every later publish or transaction fails with this error. Nothing of its open transaction commits."""


class TransactionError(PublishError):
    """A transaction of a transactional bus failed. ``topic`` is empty unless one record's delivery failed."""

    def _message(self) -> str:
        if self.topic:
            return super()._message()
        flags = " (retriable)" if self.retriable else ""
        return f"transaction failed: {self.reason}{flags}"


class TransactionStateError(TransactionError):
    """A transactional bus was used out of order: a publish with no transaction open (publish inside
    ``bus.transaction()``), a second transaction while one is open, a transaction on a plain bus."""


class TransactionAbortedError(TransactionError):
    """The transaction was aborted: none of its records (nor consumed offsets) is visible to
    ``read_committed`` consumers. Raised by a commit that failed (the bus aborted the transaction) and
    set on the delivery futures of its records still pending at the abort. ``retriable``: running the
    whole transaction again may succeed."""


class TransactionOutcomeUnknownError(TransactionError):
    """A commit kept failing with retriable errors until the transaction timeout: the transaction may
    have committed or may be aborted, and librdkafka allows no abort once a commit has begun. The bus
    replaces its producer; the new one's initialization settles the transaction at the coordinator.
    Not ``retriable`` (running the transaction again may duplicate it) and ``possibly_persisted``.
    An ``exactly_once`` runner stops on it: after a restart it reads from the offsets that did commit,
    so every record's outputs stay committed once."""


class ServerUnavailableError(SchemabusError):
    """A server could not be reached, or kept failing, until the retries or the time allowed ran out.

    ``server`` is its kind (``"Kafka broker"``, ``"schema registry"``), ``address`` where it was looked
    for, ``operation`` what could not be done (``"list the versions of subject 'x-value'"``), ``cause``
    the last error seen (secret-free), ``attempts`` and ``elapsed`` (seconds) how hard it was tried.
    The message is one line: ``{server} {address} is unavailable: could not {operation} (…); last error: {cause}``.
    """

    def __init__(
        self,
        server: str,
        address: str,
        operation: str,
        cause: str,
        *,
        attempts: int | None = None,
        elapsed: float | None = None,
    ) -> None:
        self.server = server
        self.address = address
        self.operation = operation
        self.cause = cause
        self.attempts = attempts
        self.elapsed = elapsed
        tried = []
        if attempts is not None:
            tried.append(f"{attempts} attempt{'s' if attempts != 1 else ''}")
        if elapsed is not None:
            tried.append(f"{'in' if attempts is not None else 'tried for'} {elapsed:.1f}s")
        how = f" ({' '.join(tried)})" if tried else ""
        one_line = " ".join(cause.split()) or "no answer"
        super().__init__(f"{server} {address} is unavailable: could not {operation}{how}; last error: {one_line}")

    def __reduce__(self) -> tuple[object, ...]:  # picklable despite the keyword-only arguments
        return (
            _rebuild_server_error,
            (type(self), self.server, self.address, self.operation, self.cause, self.attempts, self.elapsed),
        )


def _rebuild_server_error(
    cls: type[ServerUnavailableError],
    server: str,
    address: str,
    operation: str,
    cause: str,
    attempts: int | None,
    elapsed: float | None,
) -> ServerUnavailableError:
    return cls(server, address, operation, cause, attempts=attempts, elapsed=elapsed)


class RegistryError(SchemabusError):
    """The schema registry refused a request (an incompatible schema, bad credentials...)."""

    def __init__(self, message: str, *, http_status: int | None = None, error_code: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code


class IncompatibleSchemaError(RegistryError):
    """The registry refused a new version of ``subject`` as incompatible with its earlier versions
    (HTTP 409), as :class:`~schemabus.runtime.registry_client.ConfluentRegistry` and the in-memory
    registry of :mod:`schemabus.runtime.testing` both raise it.

    ``reason`` says why in one line (a real registry's answer, or how many incompatibilities were
    found); ``level`` is the subject's compatibility level when known (the in-memory registry knows
    it); ``incompatibilities`` are the reasons one line each, as ``schemabus check`` prints them
    (empty when the registry gave none apart). The message's first line names the subject, the level
    and the reason, and up to :attr:`SHOWN` incompatibilities follow, one line each.
    """

    SHOWN = 3

    def __init__(
        self,
        subject: str,
        reason: str,
        *,
        level: str | None = None,
        incompatibilities: Sequence[str] = (),
        http_status: int | None = 409,
        error_code: int | None = 409,
    ) -> None:
        self.subject = subject
        self.reason = reason
        self.level = level
        self.incompatibilities = tuple(incompatibilities)
        at = f" at level {level}" if level else ""
        one_line = " ".join(reason.split())
        lines = [f"the registry refused the schema of subject {subject!r} as incompatible{at}: {one_line}"]
        lines += [f"  {' '.join(line.split())}" for line in self.incompatibilities[: self.SHOWN]]
        if len(self.incompatibilities) > self.SHOWN:
            lines.append(f"  ... and {len(self.incompatibilities) - self.SHOWN} more")
        super().__init__("\n".join(lines), http_status=http_status, error_code=error_code)

    def __reduce__(self) -> tuple[object, ...]:  # picklable despite the keyword-only arguments
        return (
            _rebuild_incompatible,
            (self.subject, self.reason, self.level, self.incompatibilities, self.http_status, self.error_code),
        )


def _rebuild_incompatible(
    subject: str,
    reason: str,
    level: str | None,
    incompatibilities: tuple[str, ...],
    http_status: int | None,
    error_code: int | None,
) -> IncompatibleSchemaError:
    return IncompatibleSchemaError(
        subject,
        reason,
        level=level,
        incompatibilities=incompatibilities,
        http_status=http_status,
        error_code=error_code,
    )


class RegistryUnavailableError(RegistryError, ServerUnavailableError):
    """The schema registry could not be reached (or kept failing) after every retry."""

    def __init__(
        self,
        address: str,
        operation: str,
        cause: str,
        *,
        attempts: int | None = None,
        elapsed: float | None = None,
        http_status: int | None = None,
    ) -> None:
        ServerUnavailableError.__init__(
            self, "schema registry", address, operation, cause, attempts=attempts, elapsed=elapsed
        )
        self.http_status = http_status
        self.error_code = None

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_unavailable,
            (self.address, self.operation, self.cause, self.attempts, self.elapsed, self.http_status),
        )


def _rebuild_unavailable(
    address: str, operation: str, cause: str, attempts: int | None, elapsed: float | None, http_status: int | None
) -> RegistryUnavailableError:
    return RegistryUnavailableError(
        address, operation, cause, attempts=attempts, elapsed=elapsed, http_status=http_status
    )
