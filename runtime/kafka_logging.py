"""librdkafka's logs and client errors in Python terms: logged once per condition, and an unreachable
broker reported as one :class:`~schemabus.runtime.errors.ServerUnavailableError`.

A confluent-kafka client configured with ``logger=`` hands librdkafka's log lines to a Python
logger instead of writing them to stderr from librdkafka's own threads (they are served by
``poll``, ``consume`` and ``flush``, like other callbacks). Every schemabus client logs to
``schemabus.kafka.librdkafka``, whose filter lets the first record of a *condition* (the facility and
the message, with durations and repeat counts left out) through and drops the same condition for
the next :data:`REPEAT_INTERVAL_S` seconds; a condition that is still there afterwards is logged again
with the number of records dropped meanwhile. A down broker thus logs one ``FAIL`` line, not one per
reconnect attempt.

:class:`BrokerErrors` is a client's ``error_cb``: it remembers the last connection error (librdkafka
reports "Connection refused" there, while the call that failed only says "Broker transport failure"),
and :meth:`BrokerErrors.call` turns a call that failed because no broker answered into a
``ServerUnavailableError`` naming the servers, the operation, how long it was tried and that error.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException

from .config import redact
from .errors import ServerUnavailableError
from .log_setup import LIBRDKAFKA_LOGGER, log_to_stderr

__all__ = [
    "LIBRDKAFKA_LOGGER",
    "REPEAT_INTERVAL_S",
    "BrokerErrors",
    "OncePerCondition",
    "librdkafka_logger",
    "log_to_stderr",
]

REPEAT_INTERVAL_S = 60.0
_MAX_CONDITIONS = 1024  # conditions remembered; the oldest is forgotten first

log = logging.getLogger("schemabus.kafka")
T = TypeVar("T")

# Kafka errors that mean "no broker answered (in time)", as opposed to a refusal.
_UNREACHABLE = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError._MSG_TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._WAIT_COORD,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    }
)
# Errors of a cluster in flux (a partition's leader unknown for now, as when its broker just went away):
# retried for a while, then reported as unavailable.
_TRANSIENT = frozenset(
    {
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        # A group's coordinator moving or loading (a broker just started): asked again, it answers.
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
    }
)
_TRANSIENT_PAUSE_S = 0.25
# error_cb codes that say why: preferred over the generic "1/1 brokers are down".
_SPECIFIC = frozenset({KafkaError._TRANSPORT, KafkaError._RESOLVE, KafkaError._AUTHENTICATION, KafkaError._SSL})

_THREAD = re.compile(r"^\[thrd:[^\]]*\]:\s*")
_AFTER = re.compile(r"\s*\(after \d+ms in state [A-Z_]+(?:, \d+ identical error\(s\) suppressed)?\)")
_SUPPRESSED = re.compile(r"\s*\(?\d+ identical error\(s\) suppressed\)?")
_DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(ms|s)\b")


def plain(text: str) -> str:
    """A librdkafka message without its thread prefix, "(after 0ms in state CONNECT)" and repeat counts."""
    return _SUPPRESSED.sub("", _AFTER.sub("", _THREAD.sub("", text))).strip()


def _condition(record: logging.LogRecord) -> tuple[Any, ...]:
    args = record.args
    if isinstance(args, tuple) and len(args) == 3:  # confluent-kafka: ("%s [%s] %s", fac, client name, text)
        fac, _, text = args
        return (record.levelno, str(fac), _DURATION.sub(r"N\1", plain(str(text))))
    return (record.levelno, _DURATION.sub(r"N\1", plain(record.getMessage())))


@dataclass
class _Seen:
    since: float
    dropped: int = 0


class OncePerCondition(logging.Filter):
    """Let the first record of each condition through, drop repeats for ``interval`` seconds; a repeat
    after that goes through with the number dropped meanwhile ("(52 more in 60s)")."""

    def __init__(self, interval: float = REPEAT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._seen: OrderedDict[tuple[Any, ...], _Seen] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = _condition(record)
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen.since < self.interval:
                seen.dropped += 1
                return False
            self._seen[key] = _Seen(now)
            self._seen.move_to_end(key)
            while len(self._seen) > _MAX_CONDITIONS:
                self._seen.popitem(last=False)
        if seen is not None and seen.dropped:
            record.msg = f"{record.msg} (%d more in %gs)"
            record.args = (*(record.args if isinstance(record.args, tuple) else ()), seen.dropped, self.interval)
        return True

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


_LOGGER = logging.getLogger(LIBRDKAFKA_LOGGER)
ONCE_PER_CONDITION = OncePerCondition()
_LOGGER.addFilter(ONCE_PER_CONDITION)


def librdkafka_logger() -> logging.Logger:
    """The logger every schemabus Kafka client passes as ``logger=`` (repeats filtered)."""
    return _LOGGER


class BrokerErrors:
    """A Kafka client's ``error_cb`` that remembers the last connection error, and turns failed calls
    into :class:`ServerUnavailableError`. ``config()`` is what to add to the client's configuration.

    ``servers`` is the bootstrap servers (named in errors); ``secrets`` are removed from every text.
    """

    def __init__(self, servers: str, secrets: Sequence[str] = ()) -> None:
        self.servers = servers
        self._secrets = list(secrets)
        self.last_specific: str | None = None
        self.last_any: str | None = None
        self.all_down = False  # librdkafka said every broker is down (at some point)
        self.last_code: int | None = None  # of the last error that said why (a _SPECIFIC one)

    @property
    def server(self) -> str:
        return "Kafka broker" if "," not in self.servers else "Kafka cluster"

    def config(self) -> dict[str, Any]:
        return {"logger": _LOGGER, "error_cb": self}

    def __call__(self, error: KafkaError) -> None:
        text = redact(plain(error.str()), self._secrets)
        log.debug("librdkafka error %s: %s", error.name(), text)
        self.last_any = text
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.all_down = True
        if error.code() in _SPECIFIC:
            self.last_specific = text
            self.last_code = error.code()

    @staticmethod
    def unreachable_error(error: KafkaError) -> bool:
        """Whether ``error`` means that no broker answered (in time), rather than a refusal."""
        return error.code() in _UNREACHABLE

    def drain(self, client: Any) -> None:
        """Serve ``client``'s queued callbacks (errors and logs reach Python only when polled)."""
        if client is not None:
            with contextlib.suppress(Exception):
                client.poll(0)

    def unavailable(
        self, operation: str, *, elapsed: float | None, client: Any = None, fallback: str | None = None
    ) -> ServerUnavailableError:
        """The error to raise when ``operation`` failed because no broker answered."""
        self.drain(client)
        cause = self.last_specific or self.last_any or (redact(plain(fallback), self._secrets) if fallback else None)
        return ServerUnavailableError(self.server, self.servers, operation, cause or "no answer", elapsed=elapsed)

    def call(self, operation: str, fn: Callable[[], T], *, client: Any = None, retry_for: float = 0.0) -> T:
        """``fn()``; a KafkaException that says no broker answered becomes :meth:`unavailable`.

        Errors of a cluster in flux (a partition without a leader for now, as when its broker just went
        away) are retried for ``retry_for`` seconds, then reported as :meth:`unavailable` too."""
        started = time.monotonic()
        while True:
            try:
                return fn()
            except KafkaException as e:
                error = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
                if error is None or not (self.unreachable_error(error) or error.code() in _TRANSIENT):
                    raise
                elapsed = time.monotonic() - started
                if error.code() not in _TRANSIENT or elapsed >= retry_for:
                    raise self.unavailable(operation, elapsed=elapsed, client=client, fallback=error.str()) from None
            self.drain(client)
            time.sleep(min(_TRANSIENT_PAUSE_S, max(0.0, retry_for - elapsed)))
