"""The consumer's failure policy: what to do when a handler fails on a record or a record cannot be
decoded. Pure functions of the failure and the runner's settings; the handler loop acts on their
decisions (:class:`Retry`, :class:`DeadLetter`, :class:`Stop`) and is their only caller."""

from __future__ import annotations

from dataclasses import dataclass

from ..retry import RetryPolicy
from ..serde import DeserializationError

__all__ = ["DeadLetter", "Decision", "HandlerFailedError", "Retry", "Stop", "on_handler_error", "on_undecodable"]


class HandlerFailedError(RuntimeError):
    """A handler gave up on a record and there is no dead-letter topic to put it in."""


@dataclass(frozen=True)
class Retry:
    """Try again (the handler, or the decoding) after the retry policy's next delay.

    A policy says retry at most ``max_retries`` times for one record: as often as
    :meth:`RetryPolicy.delays` has delays.
    """


@dataclass(frozen=True)
class DeadLetter:
    """Write the record to its dead-letter topic, saying it failed with ``error`` after ``attempts``
    runs of the handler (0: it could not be decoded, a ``poison`` record), then go on."""

    error: BaseException
    attempts: int
    poison: bool = False


@dataclass(frozen=True)
class Stop:
    """Stop the runner with ``error``, without committing the record (``poison``: it could not be decoded)."""

    error: BaseException
    poison: bool = False


Decision = Retry | DeadLetter | Stop


def on_handler_error(
    error: Exception,
    *,
    attempts: int,
    retry: RetryPolicy,
    dead_letters: bool,
    transactional: bool = False,
    group: str,
    where: str,
) -> Decision:
    """What to do when the handler of consumer group ``group`` raised ``error`` on its ``attempts``-th
    run (from 1) for the record at ``where`` (``topic[partition]@offset``).

    - in exactly-once mode (``transactional``), stop: the attempt may have published into the
      transaction, and Kafka cannot take back part of one;
    - a ``NotImplementedError`` on the first attempt (a generated stub nobody implemented) stops,
      rather than dead-lettering every record of the topic;
    - an error the retry policy deems retryable is retried while the policy has retries left;
    - otherwise the record goes to the dead-letter topic, or, without one (``dead_letters`` false),
      the runner stops with :class:`HandlerFailedError`.
    """
    if transactional:
        return Stop(
            _caused_by(
                HandlerFailedError(
                    f"{group}: the handler failed on {where} in exactly-once mode: its transaction is "
                    "aborted and the runner stops; a restart handles the record again"
                ),
                error,
            )
        )
    if attempts == 1 and isinstance(error, NotImplementedError):
        return Stop(error)
    if retry.is_retryable(error) and attempts <= retry.max_retries:
        return Retry()
    return _give_up(error, attempts=attempts, dead_letters=dead_letters, group=group, where=where)


def on_undecodable(
    error: Exception, *, waited: float, limit: float, dead_letters: bool, group: str, where: str
) -> Decision:
    """What to do when the record at ``where`` could not be decoded, with ``error``, after its partition
    has waited ``waited`` seconds for it.

    - a :class:`~schemabus.runtime.serde.DeserializationError` (bad magic byte, unknown schema id,
      truncated or invalid payload, failed validation) makes a poison record: it goes to the
      dead-letter topic at once, never retried (without a dead-letter topic, the runner stops with
      :class:`HandlerFailedError`);
    - any other error (the registry is unreachable) is not the record's fault: the decoding is
      retried until the partition has waited ``limit`` seconds (``registry_outage_limit``), then the
      runner stops with the last error, the record uncommitted.
    """
    if isinstance(error, DeserializationError):
        return _give_up(error, attempts=0, dead_letters=dead_letters, group=group, where=where, poison=True)
    if waited < limit:
        return Retry()
    return Stop(error)


def _give_up(
    error: Exception, *, attempts: int, dead_letters: bool, group: str, where: str, poison: bool = False
) -> DeadLetter | Stop:
    if dead_letters:
        return DeadLetter(error, attempts, poison)
    failure = HandlerFailedError(f"{group}: gave up on {where} after {attempts} attempts; no dead-letter topic")
    return Stop(_caused_by(failure, error), poison)


def _caused_by(failure: HandlerFailedError, error: BaseException) -> HandlerFailedError:
    """``failure``, as ``raise failure from error`` would raise it."""
    failure.__cause__ = error  # which sets __suppress_context__ too
    return failure
