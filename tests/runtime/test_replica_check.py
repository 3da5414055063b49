"""ReplicaCheck: what it concludes from a partition's metadata and the topic's min.insync.replicas, how
long it keeps an answer, and that a cluster which does not say gives no explanation. The admin client
is a stand-in here; tests/integration/test_cluster_isr.py asks a real three-broker cluster."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemabus.runtime.kafka import replicas
from schemabus.runtime.kafka.replicas import ReplicaCheck


class _Future:
    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        if isinstance(self._value, BaseException):
            raise self._value
        return self._value


class _Admin:
    """Answers list_topics and describe_configs from ``partitions`` ({id: (leader, isr, replicas)})."""

    def __init__(self, partitions: dict[int, tuple[int, int, int]], min_isr: str | BaseException | None) -> None:
        self.partitions = partitions
        self.min_isr = min_isr
        self.asked = 0

    def list_topics(self, topic: str, timeout: float) -> Any:
        self.asked += 1
        parts = {
            n: SimpleNamespace(leader=leader, isrs=list(range(isr)), replicas=list(range(count)))
            for n, (leader, isr, count) in self.partitions.items()
        }
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=parts)})

    def describe_configs(self, resources: list[Any], request_timeout: float) -> Any:
        value = self.min_isr
        if isinstance(value, BaseException):
            return {resources[0]: _Future(value)}
        entries = {} if value is None else {"min.insync.replicas": SimpleNamespace(value=value)}
        return {resources[0]: _Future(entries)}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> _Admin:
    made = _Admin({0: (1, 3, 3), 1: (2, 1, 3), 2: (-1, 0, 3)}, "2")
    monkeypatch.setattr(replicas, "AdminClient", lambda conf: made)
    return made


def test_too_few_in_sync_replicas_are_named_with_the_numbers(admin: _Admin) -> None:
    check = ReplicaCheck({"bootstrap.servers": "b:9092"})
    shortage = check.shortage("t.a.created", 1)
    assert shortage is not None and shortage.code == "NOT_ENOUGH_REPLICAS"
    assert shortage.text == (
        "partition 1 of t.a.created has 1 in-sync replica of 3, fewer than the topic's min.insync.replicas=2, "
        "so the brokers refuse acks=all writes until a replica catches up"
    )


def test_a_partition_without_a_leader_is_named(admin: _Admin) -> None:
    shortage = ReplicaCheck({}).shortage("t.a.created", 2)
    assert shortage is not None and (shortage.code, shortage.text) == (
        "LEADER_NOT_AVAILABLE",
        "partition 2 of t.a.created has no leader",
    )


def test_a_healthy_partition_or_an_unknown_one_has_no_shortage(admin: _Admin) -> None:
    check = ReplicaCheck({})
    assert check.shortage("t.a.created", 0) is None
    assert check.shortage("t.a.created", 7) is None


def test_an_unknown_partition_number_takes_the_first_short_partition(admin: _Admin) -> None:
    shortage = ReplicaCheck({}).shortage("t.a.created", None)
    assert shortage is not None and shortage.text.startswith("partition 1 of t.a.created has 1 in-sync replica")


def test_an_answer_is_kept_for_a_while_then_asked_again(admin: _Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(replicas.time, "monotonic", lambda: now[0])
    check = ReplicaCheck({}, fresh=5.0)
    check.shortage("t.a.created", 1)
    check.shortage("t.a.created", 1)
    assert admin.asked == 1
    admin.partitions[1] = (2, 3, 3)  # the replica caught up
    now[0] += 4.9
    assert check.shortage("t.a.created", 1) is not None  # still the kept answer
    now[0] += 0.2
    assert check.shortage("t.a.created", 1) is None and admin.asked == 2


@pytest.mark.parametrize(
    "min_isr",
    [None, KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), "not a number"],
    ids=["no entry", "refused", "garbage"],
)
def test_no_min_insync_replicas_no_explanation_of_the_in_sync_count(admin: _Admin, min_isr: Any) -> None:
    admin.min_isr = min_isr
    check = ReplicaCheck({})
    assert check.shortage("t.a.created", 1) is None
    shortage = check.shortage("t.a.created", 2)  # a missing leader needs no config
    assert shortage is not None and shortage.code == "LEADER_NOT_AVAILABLE"


def test_unreadable_metadata_gives_no_explanation(admin: _Admin, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(topic: str, timeout: float) -> Any:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    monkeypatch.setattr(admin, "list_topics", refuse)
    assert ReplicaCheck({}).shortage("t.a.created", 1) is None
