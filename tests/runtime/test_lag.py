"""Consumer lag without a broker: the lag and time lag of a partition, the totals of a group, the
JSON document and the tables of `schemabus lag`, its watch loop, and the Prometheus collector.
tests/integration/test_lag.py measures them on the real broker."""

from __future__ import annotations

import io
import json

import pytest
from prometheus_client import CollectorRegistry
from rich.console import Console

from schemabus.runtime.consumer import ConsumerLagMonitor, LagCollector, PartitionLag
from schemabus.runtime.consumer.lag import NOTHING_LEFT, group_lags, lag_document, with_time_lag
from schemabus.runtime.errors import ServerUnavailableError
from schemabus.runtime.lag_cli import format_age, render, summary, watch


def lag(
    group: str = "billing",
    topic: str = "orders.order.placed",
    partition: int = 0,
    committed: int | None = 5,
    end: int = 10,
    low: int = 0,
    time_lag: float | None = None,
) -> PartitionLag:
    return PartitionLag(group, topic, partition, committed, end, low, time_lag)


def test_the_lag_counts_from_where_the_group_reads_next() -> None:
    assert (lag(committed=5).start, lag(committed=5).lag) == (5, 5)
    assert (lag(committed=None, low=4).start, lag(committed=None, low=4).lag) == (4, 6)  # nothing committed
    assert (lag(committed=2, low=7).start, lag(committed=2, low=7).lag) == (7, 3)  # committed records deleted
    assert lag(committed=12).lag == 0  # never negative
    assert lag(committed=10).lag == 0


def test_the_time_lag_is_the_age_of_the_oldest_unconsumed_record() -> None:
    now = 1_000_000.0
    assert with_time_lag(lag(committed=5), now - 42.5, now).time_lag == 42.5
    assert with_time_lag(lag(committed=10), None, now).time_lag == 0.0  # caught up: 0, nothing read
    assert with_time_lag(lag(committed=10), now - 99, now).time_lag == 0.0
    assert with_time_lag(lag(committed=5), None, now).time_lag is None  # not read in time: unknown
    assert with_time_lag(lag(committed=5), now + 3, now).time_lag == 0.0  # a producer's clock ahead
    assert with_time_lag(lag(committed=5), NOTHING_LEFT, now).time_lag == 0.0  # only transaction markers


def test_groups_sorted_with_their_totals() -> None:
    lags = [
        lag("shipping", "b", 1, 3, 3, time_lag=0.0),
        lag("billing", "b", 0, 1, 4, time_lag=7.0),
        lag("billing", "a", 2, 0, 2, time_lag=None),
        lag("billing", "a", 1, 5, 9, time_lag=30.0),
    ]
    billing, shipping = group_lags(lags)
    assert [(p.topic, p.partition) for p in billing.partitions] == [("a", 1), ("a", 2), ("b", 0)]
    assert (billing.total_lag, billing.max_time_lag) == (4 + 2 + 3, 30.0)
    assert (shipping.total_lag, shipping.max_time_lag) == (0, 0.0)
    assert summary(billing) == "billing: lag 9 records, max time lag 30.0s, 3 partitions"
    assert summary(shipping) == "shipping: lag 0 records, max time lag 0s, 1 partition"
    assert group_lags([lag(time_lag=None)])[0].max_time_lag is None


def test_the_json_document_is_stable() -> None:
    lags = [lag(partition=1, committed=None, end=3, time_lag=12.34567), lag(partition=0, committed=10, time_lag=0.0)]
    document = lag_document(lags)
    assert document == {
        "groups": [
            {
                "group": "billing",
                "total_lag": 3,
                "max_time_lag_s": 12.346,
                "partitions": [
                    {
                        "topic": "orders.order.placed",
                        "partition": 0,
                        "committed": 10,
                        "end": 10,
                        "lag": 0,
                        "time_lag_s": 0.0,
                    },
                    {
                        "topic": "orders.order.placed",
                        "partition": 1,
                        "committed": None,
                        "end": 3,
                        "lag": 3,
                        "time_lag_s": 12.346,
                    },
                ],
            }
        ]
    }
    assert json.loads(json.dumps(document)) == document
    assert lag_document([]) == {"groups": []}


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "?"),
        (0.0, "0s"),
        (0.04, "0.0s"),
        (4.25, "4.2s"),
        (59.9, "59.9s"),
        (60, "1m00s"),
        (185.7, "3m05s"),
        (3600, "1h00m"),
        (7620, "2h07m"),
        (86400 * 3 + 3600 * 4 + 5, "3d04h"),
    ],
)
def test_ages_for_people(seconds: float | None, shown: str) -> None:
    assert format_age(seconds) == shown


def text_of(renderable: object, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, highlight=False)
    console.print(renderable)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def test_a_table_per_group_with_its_summary_at_a_fixed_width() -> None:
    lags = [
        lag("billing", "orders.order.placed", 0, 5, 10, time_lag=61.0),
        lag("billing", "orders.order.placed", 1, None, 4, time_lag=None),
        lag("shipping", "orders.order.placed", 0, 10, 10, time_lag=0.0),
    ]
    lines = text_of(render(lags)).splitlines()
    assert [line.rstrip() for line in lines] == [
        "group billing",
        "topic                 partition   committed   end   lag   time lag",
        "──────────────────────────────────────────────────────────────────",
        "orders.order.placed           0           5    10     5      1m01s",
        "orders.order.placed           1           -     4     4          ?",
        "billing: lag 9 records, max time lag 1m01s, 2 partitions",
        "",
        "group shipping",
        "topic                 partition   committed   end   lag   time lag",
        "──────────────────────────────────────────────────────────────────",
        "orders.order.placed           0          10    10     0         0s",
        "shipping: lag 0 records, max time lag 0s, 1 partition",
    ]
    assert max(len(line) for line in lines) <= 80


def test_no_group_renders_a_sentence() -> None:
    assert text_of(render([], empty="no consumer group has committed offsets on topic t")) == (
        "no consumer group has committed offsets on topic t\n"
    )


def test_watch_reads_and_shows_each_interval_until_stopped() -> None:
    reads: list[int] = []
    pauses: list[float] = []

    def read() -> list[PartitionLag]:
        reads.append(1)
        return [lag(committed=5 + len(reads), time_lag=1.0)]

    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    watch(console, read, render, 2.0, iterations=3, sleep=pauses.append)
    assert len(reads) == 3 and pauses == [2.0, 2.0]  # no pause after the last
    assert isinstance(console.file, io.StringIO)
    out = console.file.getvalue()
    assert out.count("every 2s (Ctrl-C to stop)") == 3  # not a terminal: each refresh printed in turn
    assert "billing: lag 4 records" in out and "billing: lag 2 records" in out


def test_watch_on_a_terminal_redraws_in_place() -> None:
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=True)
    watch(console, lambda: [lag(time_lag=1.0)], render, 0.5, iterations=2, sleep=lambda _: None)
    assert isinstance(console.file, io.StringIO)
    assert "billing: lag 5 records" in console.file.getvalue()


class FixedMonitor(ConsumerLagMonitor):
    def __init__(self, lags: list[PartitionLag] | Exception) -> None:
        super().__init__("127.0.0.1:1")
        self.lags = lags
        self.reads = 0

    def read(self) -> list[PartitionLag]:
        self.reads += 1
        if isinstance(self.lags, Exception):
            raise self.lags
        return self.lags


def test_the_collector_gives_two_gauges_per_partition_at_scrape_time() -> None:
    monitor = FixedMonitor([lag(partition=0, time_lag=12.5), lag(partition=1, committed=2, time_lag=None)])
    registry = CollectorRegistry()
    registry.register(LagCollector(monitor))
    assert monitor.reads == 0  # registering does not ask the brokers
    labels = {"group": "billing", "topic": "orders.order.placed"}
    assert registry.get_sample_value("schemabus_consumer_lag_records", {**labels, "partition": "0"}) == 5
    assert registry.get_sample_value("schemabus_consumer_lag_records", {**labels, "partition": "1"}) == 8
    assert registry.get_sample_value("schemabus_consumer_lag_seconds", {**labels, "partition": "0"}) == 12.5
    assert registry.get_sample_value("schemabus_consumer_lag_seconds", {**labels, "partition": "1"}) is None
    assert monitor.reads == 4


def test_a_scrape_while_the_cluster_is_unreachable_gives_no_samples(caplog: pytest.LogCaptureFixture) -> None:
    down = ServerUnavailableError("Kafka broker", "127.0.0.1:1", "list the topics", "Connection refused")
    registry = CollectorRegistry()
    registry.register(LagCollector(FixedMonitor(down)))
    families = list(registry.collect())
    assert [f.name for f in families] == ["schemabus_consumer_lag_records", "schemabus_consumer_lag_seconds"]
    assert all(f.samples == [] for f in families)
    assert "consumer lag not measured: Kafka broker 127.0.0.1:1 is unavailable" in caplog.text


async def _by_partition(monitor: ConsumerLagMonitor) -> dict[str, int]:
    return await monitor.by_partition()


def test_by_partition_keys_topic_dash_partition() -> None:
    import asyncio

    monitor = FixedMonitor([lag(partition=0), lag(partition=3, committed=9)])
    monitor.group = "billing"
    assert asyncio.run(_by_partition(monitor)) == {"orders.order.placed-0": 5, "orders.order.placed-3": 1}
    with pytest.raises(ValueError, match="one consumer group"):
        asyncio.run(_by_partition(ConsumerLagMonitor("127.0.0.1:1")))
