"""RetryPolicy: the backoff sequence, which errors are retried, and run() (no servers, no real sleeping)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemabus.runtime import DeserializationError
from schemabus.runtime.retry import TRANSIENT_KAFKA_ERRORS, RetryableError, RetryPolicy, is_transient_kafka_error


class Unavailable(RetryableError):
    pass


def test_delays_without_jitter_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retries=6, initial_backoff=0.1, multiplier=2.0, jitter=0.0, max_backoff=1.0)
    assert list(policy.delays()) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert list(RetryPolicy(max_retries=3, initial_backoff=0.5, multiplier=1.0, jitter=0).delays()) == [0.5] * 3
    assert list(RetryPolicy(max_retries=0).delays()) == []
    assert list(RetryPolicy.none().delays()) == []


def test_delays_with_jitter_are_reproducible_with_a_seed_and_stay_in_bounds() -> None:
    policy = RetryPolicy(max_retries=8, initial_backoff=0.1, multiplier=3.0, jitter=0.5, max_backoff=5.0)
    first = list(policy.delays(random.Random(42)))
    assert first == list(policy.delays(random.Random(42)))
    assert first != list(policy.delays(random.Random(43)))
    assert len(first) == 8
    base = 0.1
    for delay in first:
        nominal = min(5.0, base)
        assert nominal * 0.5 <= delay <= min(5.0, nominal * 1.5)
        base *= 3.0
    assert max(first) <= 5.0
    # The policy's own generator, seeded, gives the same sequence as an explicit one.
    seeded = RetryPolicy(
        max_retries=8, initial_backoff=0.1, multiplier=3.0, jitter=0.5, max_backoff=5.0, rng=random.Random(42)
    )
    assert list(seeded.delays()) == first


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"initial_backoff": -0.1}, {"multiplier": 0.5}, {"jitter": 1.5}, {"max_backoff": -1}],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", sorted(TRANSIENT_KAFKA_ERRORS))
def test_transient_kafka_errors_are_retried(code: int) -> None:
    error = KafkaException(KafkaError(code, "transient"))
    assert is_transient_kafka_error(error)
    assert RetryPolicy().is_retryable(error)


def test_kafka_errors_marked_retriable_by_librdkafka_are_retried_and_fatal_ones_are_not() -> None:
    policy = RetryPolicy()
    assert policy.is_retryable(KafkaException(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS, "x", retriable=True)))
    assert not policy.is_retryable(KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "denied")))
    assert not policy.is_retryable(KafkaException(KafkaError(KafkaError._TRANSPORT, "x", fatal=True)))
    assert not policy.is_retryable(KafkaException("not a KafkaError"))


def test_user_marked_errors_are_retried_and_others_are_not() -> None:
    assert RetryPolicy().is_retryable(Unavailable("503"))
    assert not RetryPolicy().is_retryable(ValueError("bad input"))
    assert not RetryPolicy().is_retryable(TimeoutError())
    assert RetryPolicy(retry_on=(TimeoutError, ConnectionError)).is_retryable(ConnectionResetError())
    by_predicate = RetryPolicy(retry_if=lambda e: "again" in str(e))
    assert by_predicate.is_retryable(RuntimeError("try again"))
    assert not by_predicate.is_retryable(RuntimeError("never"))


def test_poison_messages_are_never_retried_whatever_the_policy_says() -> None:
    # DeserializationError is a ValueError: a policy retrying ValueError must still not retry it.
    policy = RetryPolicy(retry_on=(ValueError, Exception), retry_if=lambda e: True)
    poison = DeserializationError("bad-magic", "unknown magic byte 1")
    assert not policy.is_retryable(poison)
    assert policy.is_retryable(ValueError("ordinary"))


def test_cancellation_and_system_exit_are_not_retried() -> None:
    policy = RetryPolicy(retry_on=(BaseException,), retry_if=lambda e: True)
    assert not policy.is_retryable(asyncio.CancelledError())
    assert not policy.is_retryable(KeyboardInterrupt())


class Flaky:
    def __init__(self, failures: list[BaseException], result: str = "ok") -> None:
        self.failures = failures
        self.calls = 0
        self.result = result

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits instead of waiting."""
    waits: list[float] = []

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr("schemabus.runtime.retry.asyncio.sleep", fake_sleep)
    return waits


def _run(policy: RetryPolicy, op: Callable[[], Awaitable[str]], **kwargs: object) -> str:
    return asyncio.run(policy.run(op, **kwargs))  # type: ignore[arg-type]


def test_run_retries_until_success_waiting_the_backoff(slept: list[float]) -> None:
    policy = RetryPolicy(max_retries=3, initial_backoff=0.1, multiplier=2, jitter=0)
    op = Flaky([Unavailable("1"), KafkaException(KafkaError(KafkaError._TRANSPORT, "net"))])
    retries: list[tuple[int, str, float]] = []
    result = _run(policy, op, on_retry=lambda n, e, d: retries.append((n, type(e).__name__, d)))
    assert result == "ok"
    assert op.calls == 3
    assert slept == pytest.approx([0.1, 0.2])
    assert retries == [(1, "Unavailable", pytest.approx(0.1)), (2, "KafkaException", pytest.approx(0.2))]


def test_run_gives_up_after_max_retries_with_the_last_error(slept: list[float]) -> None:
    policy = RetryPolicy(max_retries=2, initial_backoff=0.01, jitter=0)
    op = Flaky([Unavailable("1"), Unavailable("2"), Unavailable("3"), Unavailable("4")])
    with pytest.raises(Unavailable, match="3") as raised:
        _run(policy, op)
    assert op.calls == 3
    assert len(slept) == 2
    assert raised.value.__notes__ == ["gave up after 3 attempts"]


def test_run_does_not_retry_what_is_not_retryable(slept: list[float]) -> None:
    policy = RetryPolicy(max_retries=5, retry_on=(ValueError,))
    for error in (KeyError("k"), DeserializationError("truncated", "too short")):
        op = Flaky([error])
        with pytest.raises(type(error)):
            _run(policy, op)
        assert op.calls == 1
    assert slept == []


def test_run_stops_retrying_when_a_later_error_is_not_retryable(slept: list[float]) -> None:
    op = Flaky([Unavailable("1"), KeyError("k")])
    with pytest.raises(KeyError):
        _run(RetryPolicy(max_retries=5, jitter=0), op)
    assert op.calls == 2
    assert len(slept) == 1
