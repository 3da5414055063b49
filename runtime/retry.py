"""Retries with exponential backoff for transient failures; poison messages are never retried.

A :class:`RetryPolicy` says how often and how long to wait, and which errors are worth another
attempt: transient Kafka errors (a broker or leader not available, network trouble, timeouts, or
any error librdkafka itself marks retriable), exceptions deriving from :class:`RetryableError`,
the exception types listed in ``retry_on``, and whatever ``retry_if`` accepts. A
:class:`~schemabus.runtime.serde.DeserializationError` (bytes that can never become the model) is
not retried, whatever the policy says::

    policy = RetryPolicy(max_retries=5, initial_backoff=0.2, retry_on=(TimeoutError,))
    result = await policy.run(lambda: call_the_service(event))
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

from .serde import DeserializationError

__all__ = ["TRANSIENT_KAFKA_ERRORS", "RetryPolicy", "RetryableError", "is_transient_kafka_error"]

T = TypeVar("T")

# Error codes that say "try again": the broker side is briefly unavailable, or the network is.
TRANSIENT_KAFKA_ERRORS: frozenset[int] = frozenset(
    {
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._MSG_TIMED_OUT,
    }
)


class RetryableError(Exception):
    """Raise a subclass of this from a handler for failures worth another attempt (a timeout, a 503)."""


def is_transient_kafka_error(exc: BaseException) -> bool:
    """A ``KafkaException`` whose error librdkafka marks retriable, or whose code is a transient one."""
    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    error = exc.args[0]
    if not isinstance(error, KafkaError) or error.fatal():
        return False
    return bool(error.retriable()) or error.code() in TRANSIENT_KAFKA_ERRORS


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry, and how long to wait before each retry.

    The n-th retry (n = 0, 1, …) waits ``min(max_backoff, initial_backoff * multiplier**n)`` seconds,
    scaled by a random factor in ``[1 - jitter, 1 + jitter]`` (then capped at ``max_backoff`` again).
    ``max_retries=0`` means one attempt and no retry.
    """

    max_retries: int = 3
    initial_backoff: float = 0.1
    multiplier: float = 2.0
    jitter: float = 0.2
    max_backoff: float = 30.0
    retry_on: tuple[type[BaseException], ...] = ()
    retry_if: Callable[[BaseException], bool] | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoffs must be >= 0")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    @classmethod
    def none(cls) -> RetryPolicy:
        """Never retry: a failure goes to the dead-letter topic at once."""
        return cls(max_retries=0)

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The ``max_retries`` waits, in seconds; pass a seeded ``rng`` for a reproducible sequence."""
        rng = rng or self.rng
        base = self.initial_backoff
        for _ in range(self.max_retries):
            delay = min(self.max_backoff, base)
            if self.jitter:
                delay = min(self.max_backoff, delay * rng.uniform(1 - self.jitter, 1 + self.jitter))
            yield delay
            base = base * self.multiplier

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy (never for a poison message)."""
        if isinstance(exc, DeserializationError) or not isinstance(exc, Exception):
            return False
        if isinstance(exc, RetryableError) or is_transient_kafka_error(exc):
            return True
        if self.retry_on and isinstance(exc, self.retry_on):
            return True
        return self.retry_if is not None and bool(self.retry_if(exc))

    async def run(
        self,
        op: Callable[[], Awaitable[T]],
        *,
        on_retry: Callable[[int, BaseException, float], None] | None = None,
    ) -> T:
        """Await ``op()`` until it succeeds, retrying retryable errors after each delay.

        ``on_retry(attempt, error, delay)`` is called before each wait (``attempt`` counts from 1,
        the attempt that failed). When retries run out, or the error is not retryable, the last
        error is raised with a note saying how many attempts were made.
        """
        delays = self.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await op()
            except Exception as exc:
                delay = next(delays, None) if self.is_retryable(exc) else None
                if delay is None:
                    if attempt > 1:
                        exc.add_note(f"gave up after {attempt} attempts")
                    raise
                if on_retry is not None:
                    on_retry(attempt, exc, delay)
                await asyncio.sleep(delay)
