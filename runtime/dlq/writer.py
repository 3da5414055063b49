"""Writing dead letters: :class:`DeadLetterWriter`, an idempotent producer that waits for the broker."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack the re-export
    AdminClient,
    ConfigResource,
    NewTopic,
)

from .records import (
    DLQ_HEADROOM_BYTES,
    DLQ_PREFIX,
    DLQ_PRODUCER_MAX_BYTES,
    TIMEOUT,
    ClientConfig,
    DeadLetterError,
    DeadLetterRecord,
    client_config,
    reference_to,
    shortened,
)

log = logging.getLogger("schemabus.dlq")

# What the producer (at produce(), or in the delivery report) or the broker says of a record too
# large for the producer's message.max.bytes or the topic's max.message.bytes.
SIZE_ERRORS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})


class _TooLarge(Exception):
    """The producer or the broker refused a dead letter for its size."""


class DeadLetterWriter:
    """Writes dead-letter records and waits until the broker has them.

    ``config`` is the bootstrap servers or a client configuration; the producer is idempotent with
    ``acks=all`` and takes records of up to :data:`DLQ_PRODUCER_MAX_BYTES` (``message.max.bytes``).
    With ``create_topics`` a missing ``dlq.*`` topic is created on first use (``partitions`` and
    ``replication_factor`` default to the broker's defaults), with a ``max.message.bytes`` of its
    source topic's plus :data:`DLQ_HEADROOM_BYTES`, so that it takes a copy of any record of the
    source topic with its dead-letter headers.

    A dead letter too large all the same (a dead-letter topic created before, with a smaller limit)
    is written with a shorter exception message and stack trace, and failing that as a reference to
    the record (:func:`reference_to`): a dead letter is never dropped, and never blocks its partition.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        create_topics: bool = True,
        partitions: int | None = None,
        replication_factor: int | None = None,
        timeout: float = TIMEOUT,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        conf = client_config(config)
        self.timeout = timeout
        self._producer_conf = {
            **conf,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 0,
            "message.timeout.ms": int(timeout * 1000),
            "message.max.bytes": DLQ_PRODUCER_MAX_BYTES,
            **(producer_config or {}),
        }
        self._max_bytes = int(self._producer_conf["message.max.bytes"])
        self._producer_made: Producer | None = None  # on the first write: a writer that never writes has none
        self._admin = AdminClient(conf) if create_topics else None
        self._partitions = partitions or -1
        self._replication = replication_factor or -1
        self._ready: set[str] = set()
        self._limits: dict[str, int] = {}  # dead-letter topic -> its max.message.bytes, where known
        self._lock = threading.Lock()

    @property
    def _producer(self) -> Producer:
        if self._producer_made is None:
            with self._lock:
                if self._producer_made is None:
                    self._producer_made = Producer(self._producer_conf)
        return self._producer_made

    def ensure_topic(self, topic: str) -> None:
        """Create ``topic`` unless it exists (a no-op without ``create_topics``), with a
        ``max.message.bytes`` that takes any record of its source topic plus the dead-letter headers;
        learn the ``max.message.bytes`` of an existing one."""
        if self._admin is None or topic in self._ready:
            return
        with self._lock:
            if topic in self._ready:
                return
            try:
                # All topics: a metadata request for one topic could auto-create it with broker defaults.
                existing = self._admin.list_topics(timeout=self.timeout).topics
                if topic not in existing:
                    self._create(topic, existing)
                limit = self._max_message_bytes(topic)
                if limit is not None:
                    self._limits[topic] = limit
                    self._check_room(topic, limit, existing)
            except Exception as e:
                raise DeadLetterError(f"cannot create dead-letter topic {topic}: {e}") from e
            self._ready.add(topic)

    def _create(self, topic: str, existing: Mapping[str, Any]) -> None:
        assert self._admin is not None
        configs: dict[str, str] = {}
        source = topic.removeprefix(DLQ_PREFIX)
        source_limit = self._max_message_bytes(source) if source in existing else None
        if source_limit is not None:
            configs["max.message.bytes"] = str(source_limit + DLQ_HEADROOM_BYTES)
        new = NewTopic(topic, num_partitions=self._partitions, replication_factor=self._replication, config=configs)
        futures = self._admin.create_topics([new], request_timeout=self.timeout)
        try:
            futures[topic].result(timeout=self.timeout)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise

    def _check_room(self, topic: str, limit: int, existing: Mapping[str, Any]) -> None:
        """Warn when ``topic`` (created before, or by hand) takes less than its source topic's records
        plus their dead-letter headers."""
        source = topic.removeprefix(DLQ_PREFIX)
        source_limit = self._max_message_bytes(source) if source in existing else None
        if source_limit is not None and limit < source_limit + DLQ_HEADROOM_BYTES:
            log.warning(
                "%s takes records of at most %d bytes (max.message.bytes), %s up to %d: a record too large "
                "for it is dead-lettered as a reference to the record; raise its max.message.bytes to %d "
                "to have copies",
                topic,
                limit,
                source,
                source_limit,
                source_limit + DLQ_HEADROOM_BYTES,
            )

    def _max_message_bytes(self, topic: str) -> int | None:
        """The effective ``max.message.bytes`` of ``topic`` (its own, or the broker's default); None
        when the cluster does not say (a missing DescribeConfigs permission, say)."""
        assert self._admin is not None
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            entries = self._admin.describe_configs([resource], request_timeout=self.timeout)[resource].result(
                timeout=self.timeout
            )
            entry = entries.get("max.message.bytes")
            return None if entry is None or entry.value is None else int(entry.value)
        except (KafkaException, ValueError, TimeoutError) as e:
            log.warning("cannot read max.message.bytes of %s: %s", topic, e)
            return None

    def write(self, record: DeadLetterRecord) -> tuple[int, int]:
        """Produce ``record`` and wait for the broker's acknowledgement; return (partition, offset).

        A record too large for the producer or its topic is written instead with the exception
        message and stack trace :func:`shortened`, then as :func:`reference_to` the record.
        Raises :class:`DeadLetterError` when nothing is stored (broker error or timeout).
        """
        self.ensure_topic(record.topic)
        limit = self.limit(record.topic)
        fitting = self.fitting(record, limit)
        refused: str | None = None
        for i, candidate in enumerate(fitting):
            try:
                written = self._send(candidate)
            except _TooLarge as e:
                if i == len(fitting) - 1:
                    raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {e}") from None
                refused = str(e)
                continue
            if candidate is not record:
                self._too_large(record, candidate, refused)
            return written
        raise AssertionError("unreachable")

    def limit(self, topic: str, producer_max_bytes: int | None = None) -> int:
        """The largest record (:attr:`DeadLetterRecord.size`) this writer expects ``topic`` to take: its
        ``max.message.bytes`` where known (:meth:`ensure_topic`), at most the producer's
        ``message.max.bytes`` (``producer_max_bytes``, default this writer's producer's)."""
        most = self._max_bytes if producer_max_bytes is None else producer_max_bytes
        return min(most, self._limits.get(topic, most))

    @staticmethod
    def fitting(record: DeadLetterRecord, limit: int) -> list[DeadLetterRecord]:
        """What to try writing for ``record``, in order: itself, :func:`shortened`, :func:`reference_to`
        it, each only if its size is within ``limit`` (the reference in any case when none is)."""
        candidates = [record, shortened(record), reference_to(record, limit=limit)]
        return [c for c in candidates if c.size <= limit] or candidates[-1:]

    @staticmethod
    def _too_large(record: DeadLetterRecord, written: DeadLetterRecord, error: str | None) -> None:
        what = "as a reference to its record" if written.is_reference else "with shorter exception texts"
        why = error or "larger than the topic or the producer takes"
        log.warning("dead letter of %d bytes too large for %s (%s): written %s", record.size, record.topic, why, what)

    def _send(self, record: DeadLetterRecord) -> tuple[int, int]:
        """Produce ``record`` and wait for the broker; :class:`_TooLarge` when the producer or the
        broker refuses it for its size, :class:`DeadLetterError` for any other failure."""
        done = threading.Event()
        outcome: list[tuple[KafkaError | None, Message]] = []

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            outcome.append((error, message))
            done.set()

        try:
            self._producer.produce(
                record.topic,
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                on_delivery=on_delivery,
            )
        except KafkaException as e:
            if e.args and isinstance(e.args[0], KafkaError) and e.args[0].code() in SIZE_ERRORS:
                raise _TooLarge(e.args[0].str()) from None
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {e}") from e
        except BufferError as e:
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {e}") from e
        deadline = time.monotonic() + self.timeout + 5.0  # librdkafka gives up after `timeout` itself
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadLetterError(f"no acknowledgement from dead-letter topic {record.topic} in {self.timeout}s")
            self._producer.poll(min(remaining, 0.1))
        error, message = outcome[0]
        if error is not None:
            if error.code() in SIZE_ERRORS:
                raise _TooLarge(error.str())
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {error.str()}")
        partition, offset = message.partition(), message.offset()
        return (partition if partition is not None else -1, offset if offset is not None else -1)

    async def write_async(self, record: DeadLetterRecord) -> tuple[int, int]:
        """:meth:`write` in a worker thread, so the event loop keeps serving other partitions."""
        return await asyncio.get_running_loop().run_in_executor(None, self.write, record)

    def close(self) -> None:
        if self._producer_made is not None:
            self._producer_made.flush(self.timeout)
