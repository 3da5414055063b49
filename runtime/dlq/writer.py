"""Writing dead letters: :class:`DeadLetterWriter`, an idempotent producer that waits for the broker."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export

from .records import TIMEOUT, ClientConfig, DeadLetterError, DeadLetterRecord, client_config


class DeadLetterWriter:
    """Writes dead-letter records and waits until the broker has them.

    ``config`` is the bootstrap servers or a client configuration; the producer is idempotent with
    ``acks=all``. With ``create_topics`` a missing ``dlq.*`` topic is created on first use
    (``partitions`` and ``replication_factor`` default to the broker's defaults).
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
            **(producer_config or {}),
        }
        self._producer_made: Producer | None = None  # on the first write: a writer that never writes has none
        self._admin = AdminClient(conf) if create_topics else None
        self._partitions = partitions or -1
        self._replication = replication_factor or -1
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    @property
    def _producer(self) -> Producer:
        if self._producer_made is None:
            with self._lock:
                if self._producer_made is None:
                    self._producer_made = Producer(self._producer_conf)
        return self._producer_made

    def ensure_topic(self, topic: str) -> None:
        """Create ``topic`` unless it exists (a no-op without ``create_topics``)."""
        if self._admin is None or topic in self._ready:
            return
        with self._lock:
            if topic in self._ready:
                return
            try:
                # All topics: a metadata request for one topic could auto-create it with broker defaults.
                existing = self._admin.list_topics(timeout=self.timeout).topics
                if topic not in existing:
                    futures = self._admin.create_topics(
                        [NewTopic(topic, num_partitions=self._partitions, replication_factor=self._replication)],
                        request_timeout=self.timeout,
                    )
                    try:
                        futures[topic].result(timeout=self.timeout)
                    except KafkaException as e:
                        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                            raise
            except Exception as e:
                raise DeadLetterError(f"cannot create dead-letter topic {topic}: {e}") from e
            self._ready.add(topic)

    def write(self, record: DeadLetterRecord) -> tuple[int, int]:
        """Produce ``record`` and wait for the broker's acknowledgement; return (partition, offset).

        Raises :class:`DeadLetterError` when the record is not stored (broker error or timeout).
        """
        self.ensure_topic(record.topic)
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
        except (KafkaException, BufferError) as e:
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {e}") from e
        deadline = time.monotonic() + self.timeout + 5.0  # librdkafka gives up after `timeout` itself
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadLetterError(f"no acknowledgement from dead-letter topic {record.topic} in {self.timeout}s")
            self._producer.poll(min(remaining, 0.1))
        error, message = outcome[0]
        if error is not None:
            raise DeadLetterError(f"cannot write to dead-letter topic {record.topic}: {error.str()}")
        partition, offset = message.partition(), message.offset()
        return (partition if partition is not None else -1, offset if offset is not None else -1)

    async def write_async(self, record: DeadLetterRecord) -> tuple[int, int]:
        """:meth:`write` in a worker thread, so the event loop keeps serving other partitions."""
        return await asyncio.get_running_loop().run_in_executor(None, self.write, record)

    def close(self) -> None:
        if self._producer_made is not None:
            self._producer_made.flush(self.timeout)
