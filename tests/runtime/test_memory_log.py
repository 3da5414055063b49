"""The in-memory Kafka of the test kit (runtime/memory_log.py) behaves as the handler loop expects of
confluent's Consumer: assignment on the first poll, round-robin fetches, pause, resume and seek,
commits, committed offsets, watermarks and the revocation on close."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from schemabus.runtime.memory_log import InMemoryConsumer, InMemoryLog


def _log(records: int = 3) -> InMemoryLog:
    log = InMemoryLog()
    log.declare("t", 2)
    for n in range(records):
        log.append("t", f"k{n}".encode(), f"v{n}".encode(), {"h": "1"})
    return log


def test_a_consumer_is_assigned_every_partition_on_its_first_poll_and_reads_them_all() -> None:
    log = _log()
    calls: list[tuple[str, list[int]]] = []
    consumer = InMemoryConsumer({"group.id": "g"}, log)
    consumer.subscribe(
        ["t"],
        on_assign=lambda c, tps: calls.append(("assign", [tp.partition for tp in tps])),
        on_revoke=lambda c, tps: calls.append(("revoke", [tp.partition for tp in tps])),
    )
    assert consumer.assignment() == []
    messages = consumer.consume(10, 0)
    assert calls == [("assign", [0, 1])]
    assert sorted(m.value() for m in messages) == [b"v0", b"v1", b"v2"]
    first = messages[0]
    assert first.error() is None and first.topic() == "t" and first.headers() == [("h", b"1")]
    assert first.timestamp()[1] > 0
    assert consumer.poll(0) is None  # nothing new
    consumer.close()
    assert calls[-1] == ("revoke", [0, 1])


def test_pause_resume_and_seek() -> None:
    log = _log(0)
    consumer = InMemoryConsumer({"group.id": "g"}, log)
    consumer.subscribe(["t"])
    assert consumer.consume(1, 0) == []
    key_for: dict[int, bytes] = {}
    for n in range(20):  # a key for each partition
        stored = log.append("t", f"x{n}".encode(), b"v")
        key_for.setdefault(stored.partition, stored.key or b"")
    consumer.pause([TopicPartition("t", 0)])
    assert {m.partition() for m in consumer.consume(100, 0)} == {1}
    consumer.resume([TopicPartition("t", 0)])
    fetched = consumer.consume(100, 0)
    assert fetched and {m.partition() for m in fetched} == {0}
    consumer.seek(TopicPartition("t", 0, 0))  # read partition 0 again from the start
    assert len(consumer.consume(100, 0)) == log.end("t", 0)


def test_commits_go_to_the_group_and_a_new_consumer_starts_there() -> None:
    log = _log()
    consumer = InMemoryConsumer({"group.id": "g"}, log)
    consumer.subscribe(["t"])
    consumer.consume(10, 0)
    ends = [log.end("t", p) for p in (0, 1)]
    done = consumer.commit(offsets=[TopicPartition("t", p, ends[p]) for p in (0, 1)], asynchronous=False)
    assert [(tp.partition, tp.offset) for tp in done] == [(0, ends[0]), (1, ends[1])]
    assert log.caught_up("g", "t") and not log.caught_up("other", "t")
    committed = consumer.committed([TopicPartition("t", 0), TopicPartition("t", 1)])
    assert [tp.offset for tp in committed] == ends
    assert consumer.get_watermark_offsets(TopicPartition("t", 0)) == (0, ends[0])
    log.append("t", b"k0", b"later")
    again = InMemoryConsumer({"group.id": "g"}, log)
    again.subscribe(["t"])
    assert [m.value() for m in again.consume(10, 0)] == [b"later"]  # from the committed offsets


def test_a_group_without_commits_starts_at_the_end_with_auto_offset_reset_latest() -> None:
    log = _log()
    consumer = InMemoryConsumer({"group.id": "late", "auto.offset.reset": "latest"}, log)
    consumer.subscribe(["t"])
    assert consumer.consume(10, 0) == []
    log.append("t", b"k", b"new")
    assert [m.value() for m in consumer.consume(10, 0)] == [b"new"]
    never: Any = InMemoryConsumer({"group.id": "none"}, log)
    never.subscribe(["t"])
    never.consume(1, 0)
    assert [tp.offset for tp in never.committed([TopicPartition("t", 0)])] == [-1001]  # OFFSET_INVALID
