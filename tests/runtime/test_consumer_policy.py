"""The consumer's failure policy (runtime/consumer/policy.py) decision by decision: pure functions, so no
broker, no event loop, no handler loop."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemabus.runtime.consumer import HandlerFailedError
from schemabus.runtime.consumer.policy import DeadLetter, Decision, Retry, Stop, on_handler_error, on_undecodable
from schemabus.runtime.retry import RetryableError, RetryPolicy
from schemabus.runtime.serde import DeserializationError

THREE = RetryPolicy(max_retries=3, initial_backoff=0.0, jitter=0.0)
WHERE = "shop.orders[2]@41"


class Flaky(RetryableError):
    pass


def handler_error(
    error: Exception,
    attempts: int = 1,
    *,
    retry: RetryPolicy = THREE,
    dead_letters: bool = True,
    transactional: bool = False,
) -> Decision:
    return on_handler_error(
        error,
        attempts=attempts,
        retry=retry,
        dead_letters=dead_letters,
        transactional=transactional,
        group="billing.shop.orders.bill",
        where=WHERE,
    )


def undecodable(error: Exception, waited: float = 0.0, *, limit: float = 300.0, dead_letters: bool = True) -> Decision:
    return on_undecodable(
        error, waited=waited, limit=limit, dead_letters=dead_letters, group="billing.shop.orders.bill", where=WHERE
    )


def poison() -> DeserializationError:
    return DeserializationError("bad-magic", "the first byte is 7, not the magic byte 0")


# --- handler errors ------------------------------------------------------------------------------


def test_a_retryable_error_is_retried_until_the_policy_has_no_retries_left_then_dead_lettered() -> None:
    error = Flaky("503")
    assert [handler_error(error, attempts) for attempts in (1, 2, 3)] == [Retry()] * 3
    assert handler_error(error, 4) == DeadLetter(error, attempts=4)


def test_as_many_retries_are_decided_as_the_policy_has_delays() -> None:
    for policy in (RetryPolicy.none(), RetryPolicy(max_retries=1), RetryPolicy(max_retries=5)):
        attempts = 1
        while isinstance(handler_error(Flaky(), attempts, retry=policy), Retry):
            attempts += 1
        assert attempts - 1 == len(list(policy.delays())) == policy.max_retries


def test_a_retryable_error_without_retries_is_dead_lettered_after_one_attempt() -> None:
    error = Flaky()
    assert handler_error(error, retry=RetryPolicy.none()) == DeadLetter(error, attempts=1)


def test_a_non_retryable_error_is_dead_lettered_at_once_even_with_retries_left() -> None:
    error = ValueError("the order has no lines")
    assert handler_error(error) == DeadLetter(error, attempts=1)
    # ...and ends the retries of a record whose earlier attempts failed otherwise.
    assert handler_error(error, 2) == DeadLetter(error, attempts=2)


def test_what_is_retryable_is_the_retry_policys_choice() -> None:
    transient = KafkaException(KafkaError(KafkaError._TRANSPORT))
    assert handler_error(transient) == Retry()
    timeout = TimeoutError("slow service")
    assert isinstance(handler_error(timeout), DeadLetter)
    assert handler_error(timeout, retry=RetryPolicy(retry_on=(TimeoutError,))) == Retry()
    assert handler_error(timeout, retry=RetryPolicy(retry_if=lambda e: "slow" in str(e))) == Retry()
    # A poison record raised from a handler is never retried, whatever the policy says.
    error = poison()
    assert handler_error(error, retry=RetryPolicy(retry_on=(ValueError,))) == DeadLetter(error, attempts=1)


def test_an_unimplemented_handler_stops_the_runner_with_its_own_error() -> None:
    error = NotImplementedError("BillOrders.handle")
    assert handler_error(error) == Stop(error)
    assert handler_error(error, dead_letters=False) == Stop(error)
    assert handler_error(error, retry=RetryPolicy(retry_on=(NotImplementedError,))) == Stop(error)


def test_a_not_implemented_error_after_a_first_attempt_is_handled_like_any_other_error() -> None:
    error = NotImplementedError("a code path the handler does not support")
    assert handler_error(error, 2) == DeadLetter(error, attempts=2)
    assert handler_error(error, 2, retry=RetryPolicy(retry_on=(RuntimeError,))) == Retry()


def test_without_a_dead_letter_topic_giving_up_stops_with_handler_failed_error() -> None:
    error = ValueError("the order has no lines")
    decision = handler_error(error, dead_letters=False)
    assert isinstance(decision, Stop) and not decision.poison
    assert isinstance(decision.error, HandlerFailedError)
    assert str(decision.error) == (
        f"billing.shop.orders.bill: gave up on {WHERE} after 1 attempts; no dead-letter topic"
    )
    assert decision.error.__cause__ is error and decision.error.__suppress_context__
    exhausted = handler_error(Flaky(), 4, dead_letters=False)
    assert isinstance(exhausted, Stop) and "after 4 attempts" in str(exhausted.error)
    # Retries come first: a dead-letter topic is only needed once they run out.
    assert handler_error(Flaky(), 3, dead_letters=False) == Retry()


@pytest.mark.parametrize("error", [Flaky(), ValueError("bad"), NotImplementedError()], ids=lambda e: type(e).__name__)
def test_in_exactly_once_mode_any_handler_error_stops_without_a_retry(error: Exception) -> None:
    decision = handler_error(error, transactional=True)
    assert isinstance(decision, Stop) and isinstance(decision.error, HandlerFailedError)
    assert decision.error.__cause__ is error
    assert str(decision.error) == (
        f"billing.shop.orders.bill: the handler failed on {WHERE} in exactly-once mode: its transaction is "
        "aborted and the runner stops; a restart handles the record again"
    )


# --- records that cannot be decoded --------------------------------------------------------------


def test_a_poison_record_is_dead_lettered_at_once_with_zero_attempts() -> None:
    error = poison()
    assert undecodable(error) == DeadLetter(error, attempts=0, poison=True)
    assert undecodable(error, limit=0) == DeadLetter(error, attempts=0, poison=True)


def test_a_poison_record_without_a_dead_letter_topic_stops_with_handler_failed_error() -> None:
    error = poison()
    decision = undecodable(error, dead_letters=False)
    assert isinstance(decision, Stop) and decision.poison
    assert isinstance(decision.error, HandlerFailedError) and decision.error.__cause__ is error
    assert "gave up on shop.orders[2]@41 after 0 attempts; no dead-letter topic" in str(decision.error)


def test_an_unreachable_registry_is_waited_for_up_to_the_outage_limit_then_stops_never_dead_letters() -> None:
    error = ConnectionError("registry at http://registry:8081 refused the connection")
    assert [undecodable(error, waited, limit=60) for waited in (0, 1.5, 59.9)] == [Retry()] * 3
    assert undecodable(error, 60, limit=60) == Stop(error)  # not the record's fault: it stays uncommitted
    assert undecodable(error, 60, limit=60, dead_letters=False) == Stop(error)
    # Whatever the error (it is not the handler's), the handler's retry policy does not count here.
    assert undecodable(RuntimeError("registry answered 500"), 0) == Retry()
    assert undecodable(error, limit=0) == Stop(error)


def test_a_record_found_poison_once_the_registry_answers_is_dead_lettered() -> None:
    error = DeserializationError("unknown-schema-id", "schema id 99 is not registered")
    assert undecodable(error, 2.0) == DeadLetter(error, attempts=0, poison=True)
