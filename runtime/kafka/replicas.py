"""Why a record timed out: the state of its partition's replicas, asked of the cluster when it did.

librdkafka retries a produce the broker refused with NOT_ENOUGH_REPLICAS (the partition has fewer
in-sync replicas than the topic's ``min.insync.replicas``, and ``acks=all``) until the delivery
timeout, and then reports ``_MSG_TIMED_OUT``: the broker's reason is gone. The Java producer is no
better (a ``TimeoutException`` "Expiring N records"). :class:`ReplicaCheck` looks at the partition
when the timeout is reported: its leader and in-sync replicas (metadata) and the topic's effective
``min.insync.replicas`` (``DescribeConfigs``), so the error can say NOT_ENOUGH_REPLICAS, or
LEADER_NOT_AVAILABLE, with the numbers.

It costs nothing until a record times out. Then it asks the cluster at most once per topic every
:data:`FRESH_S` seconds (two small requests, bounded by :data:`ASK_TIMEOUT_S` each), and never while
no broker is reachable (that reason is known already). A cluster that does not say (no
DescribeConfigs permission, say) gives no explanation, and the plain timeout stands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from ..config import secret_values
from ..kafka_logging import BrokerErrors

__all__ = ["ASK_TIMEOUT_S", "FRESH_S", "PartitionState", "ReplicaCheck", "Shortage"]

log = logging.getLogger(__name__)

FRESH_S = 5.0  # how long what the cluster said about a topic is used before it is asked again
ASK_TIMEOUT_S = 2.0  # each request: the metadata, the topic's configs


@dataclass(frozen=True)
class PartitionState:
    """One partition as the cluster's metadata describes it: ``leader`` -1 when it has none."""

    leader: int
    in_sync: int
    replicas: int


@dataclass(frozen=True)
class Shortage:
    """Why records of a partition could not be acknowledged: ``code`` (a Kafka error name) and ``text``."""

    code: str
    text: str


@dataclass(frozen=True)
class _TopicState:
    asked_at: float
    partitions: Mapping[int, PartitionState]
    min_in_sync: int | None


class ReplicaCheck:
    """The replica state of topics, asked of the cluster (``conf``: an admin client's librdkafka
    configuration) on demand and kept for :data:`FRESH_S` seconds. Thread-safe: one ask at a time."""

    def __init__(self, conf: Mapping[str, Any], *, timeout: float = ASK_TIMEOUT_S, fresh: float = FRESH_S) -> None:
        self._conf = dict(conf)
        self._timeout = timeout
        self._fresh = fresh
        self._lock = threading.Lock()
        self._topics: dict[str, _TopicState] = {}
        self._admin: AdminClient | None = None

    def shortage(self, topic: str, partition: int | None) -> Shortage | None:
        """Why ``partition`` of ``topic`` cannot take ``acks=all`` writes now, if the cluster says it
        cannot: no leader, or fewer in-sync replicas than ``min.insync.replicas``. ``partition`` None
        (not known): the first partition of the topic that cannot."""
        state = self._state(topic)
        if state is None:
            return None
        wanted = state.partitions.items() if partition is None else [(partition, state.partitions.get(partition))]
        for number, p in sorted(wanted, key=lambda item: item[0]):
            if p is None:
                continue
            if p.leader < 0:
                return Shortage("LEADER_NOT_AVAILABLE", f"partition {number} of {topic} has no leader")
            if state.min_in_sync is not None and p.in_sync < state.min_in_sync:
                return Shortage(
                    "NOT_ENOUGH_REPLICAS",
                    f"partition {number} of {topic} has {p.in_sync} in-sync replica{'s' * (p.in_sync != 1)} of "
                    f"{p.replicas}, fewer than the topic's min.insync.replicas={state.min_in_sync}, so the brokers "
                    f"refuse acks=all writes until a replica catches up",
                )
        return None

    def _state(self, topic: str) -> _TopicState | None:
        with self._lock:
            known = self._topics.get(topic)
            if known is not None and time.monotonic() - known.asked_at < self._fresh:
                return known
            state = self._ask(topic)
            if state is not None:
                self._topics[topic] = state
            return state

    def _ask(self, topic: str) -> _TopicState | None:
        admin = self._admin
        if admin is None:
            errors = BrokerErrors(str(self._conf.get("bootstrap.servers", "?")), secret_values(self._conf))
            admin = self._admin = AdminClient({**self._conf, **errors.config()})
        asked_at = time.monotonic()
        try:
            metadata = admin.list_topics(topic, timeout=self._timeout).topics.get(topic)
            if metadata is None or metadata.error is not None:
                return None
            partitions = {
                number: PartitionState(p.leader, len(p.isrs), len(p.replicas))
                for number, p in metadata.partitions.items()
            }
        except KafkaException as e:
            log.debug("cannot read the metadata of %s: %s", topic, e)
            return None
        return _TopicState(asked_at, partitions, self._min_in_sync(admin, topic))

    def _min_in_sync(self, admin: AdminClient, topic: str) -> int | None:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            entries = admin.describe_configs([resource], request_timeout=self._timeout)[resource].result(
                timeout=self._timeout
            )
            entry = entries.get("min.insync.replicas")
            return None if entry is None or entry.value is None else int(entry.value)
        except (KafkaException, ValueError, TimeoutError) as e:
            log.debug("cannot read min.insync.replicas of %s: %s", topic, e)
            return None
