"""schemabus.runtime.metrics without a broker: histograms, the publish counters fed with delivery
reports, the consumer counters of the production loop (over the in-memory bus), librdkafka statistics
parsed from samples captured from a real producer and consumer (librdkafka_stats/), the snapshot, and
the Prometheus exposition read back with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

import platform_events as pe
from schemabus.runtime import Event, RetryableError, RetryPolicy
from schemabus.runtime.metrics import Metrics, histogram, snapshot
from schemabus.runtime.metrics.histogram import LATENCY_BUCKETS
from schemabus.runtime.metrics.kafka_stats import parse_statistics
from schemabus.runtime.testing import InMemoryBus

STATS = Path(__file__).parent / "librdkafka_stats"
TOPIC = pe.AGENT_LIFECYCLE_CREATED
FAST = RetryPolicy(max_retries=2, initial_backoff=0.0, jitter=0.0)


def created(n: int) -> pe.AgentCreated:
    return pe.AgentCreated(
        agent_id=uuid.UUID(int=n),
        agent_type=pe.AgentType.RESEARCHER,
        created_at=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC),
        creator_id=f"user-{n}",
    )


class Report:
    """A delivery report's message, as confluent-kafka hands it to on_delivery."""

    def __init__(self, topic: str, latency: float | None) -> None:
        self._topic, self._latency = topic, latency

    def topic(self) -> str:
        return self._topic

    def latency(self) -> float | None:
        return self._latency


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the Prometheus text exposition, by name and sorted labels."""
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# --- histograms ---------------------------------------------------------------------------------


def test_a_histogram_counts_each_observation_in_the_first_bucket_whose_bound_is_not_below_it() -> None:
    h = histogram((0.1, 1.0, 10.0))
    for value in (0.05, 0.1, 0.5, 1.0, 3.0, 50.0):
        h.observe(value)
    snap = snapshot(h)
    assert snap.buckets == ((0.1, 2), (1.0, 4), (10.0, 5), (math.inf, 6))  # cumulative, le as Prometheus
    assert snap.count == 6
    assert snap.sum == pytest.approx(54.65)


def test_histogram_bounds_must_increase() -> None:
    with pytest.raises(ValueError, match="increasing"):
        histogram((1.0, 0.5))


def test_observations_binned_elsewhere_add_up() -> None:
    h = histogram((0.1, 1.0))
    h.observe(0.5)
    h.add((1, 0, 2), 20.05)
    assert snapshot(h).buckets == ((0.1, 1), (1.0, 2), (math.inf, 4))
    assert snapshot(h).sum == pytest.approx(20.55)
    with pytest.raises(ValueError, match="2 bins"):
        h.add((1, 2), 0.0)


# --- publishing ---------------------------------------------------------------------------------


def test_delivery_reports_count_per_topic_and_their_latency_goes_to_the_histogram() -> None:
    metrics = Metrics()
    observe = metrics.publishing.observer()
    observe(None, Report("orders", 0.004))
    observe(None, Report("orders", 0.2))
    observe(None, Report("payments", None))  # acknowledged without a latency: counted, not observed
    observe(object(), Report("orders", None))  # failed
    # A publish_many batch of 3, binned by its delivery counter: counted once, at its end.
    bins = [0] * (len(LATENCY_BUCKETS) + 1)
    bins[LATENCY_BUCKETS.index(0.05)] = 3
    metrics.publishing.topic("payments").add_batch(tuple(bins), 0.09, 3, failed=0)
    orders, payments = metrics.publishing.topics["orders"], metrics.publishing.topics["payments"]
    assert (orders.published, orders.failed, payments.published, payments.failed) == (2, 1, 4, 0)
    assert snapshot(orders.latency).count == 2 and snapshot(payments.latency).count == 3
    assert snapshot(orders.latency).sum == pytest.approx(0.204)

    got = samples(metrics)
    assert got[("schemabus_published_total", (("topic", "orders"),))] == 2
    assert got[("schemabus_publish_failures_total", (("topic", "orders"),))] == 1
    assert got[("schemabus_published_total", (("topic", "payments"),))] == 4
    assert got[("schemabus_publish_latency_seconds_count", (("topic", "orders"),))] == 2
    assert got[("schemabus_publish_latency_seconds_bucket", (("le", "0.005"), ("topic", "orders")))] == 1
    assert got[("schemabus_publish_latency_seconds_bucket", (("le", "0.25"), ("topic", "orders")))] == 2
    assert got[("schemabus_publish_latency_seconds_bucket", (("le", "0.025"), ("topic", "payments")))] == 0
    assert got[("schemabus_publish_latency_seconds_bucket", (("le", "0.05"), ("topic", "payments")))] == 3

    snap = metrics.snapshot()
    assert snap["topics"]["orders"]["published"] == 2
    assert snap["topics"]["payments"]["publish_latency_seconds"]["count"] == 3
    json.dumps(snap)  # plain data


# --- consuming, through the production loop over the in-memory bus ---------------------------------


def test_consumer_counters_per_topic_and_group_with_dead_letters_by_reason_and_durations() -> None:
    attempts: dict[int, int] = {}

    @TOPIC.handler(group="billing")
    async def bill(event: Event[str, pe.AgentCreated]) -> None:
        n = int(event.value.creator_id.split("-")[1])
        attempts[n] = attempts.get(n, 0) + 1
        if n == 1 and attempts[n] < 2:
            raise RetryableError("busy")  # retried once, then handled
        if n == 2:
            raise ValueError("never")  # dead-lettered: handler-error

    @TOPIC.handler(group="audit")
    async def audit(event: Event[str, pe.AgentCreated]) -> None:
        pass

    metrics = Metrics()
    bus = InMemoryBus(retry=FAST, metrics=metrics)
    bus.subscribe(bill)
    bus.subscribe(audit)
    publisher = pe.AgentLifecycleCreatedPublisher(bus)
    asyncio.run(publisher.publish_many([created(n) for n in range(5)]))
    bus.append(TOPIC, b"k", b"not avro")  # poison: bad-magic
    asyncio.run(bus.deliver())

    groups = {(g["topic"], g["group"]): g for g in metrics.snapshot()["groups"]}
    billing, auditing = groups[(TOPIC.name, "billing")], groups[(TOPIC.name, "audit")]
    assert billing["consumed"] == 6 and auditing["consumed"] == 6
    assert billing["handled"] == 4  # 0, 1 (after a retry), 3, 4
    assert billing["retried"] == 1
    assert billing["dead_lettered_by_reason"] == {"bad-magic": 1, "handler-error": 1}
    assert billing["dead_lettered"] == 2 and billing["poison"] == 1
    assert auditing["handled"] == 5 and auditing["dead_lettered_by_reason"] == {"bad-magic": 1}
    assert billing["handler_duration_seconds"]["count"] == 6  # every call: 5 records, 1 retry
    assert auditing["handler_duration_seconds"]["count"] == 5
    assert billing["committed"] >= 1 and billing["rebalances"] >= 2  # each delivery: assigned, then revoked
    assert billing["in_flight"] == 0

    got = samples(metrics)
    key = (("group", "billing"), ("topic", TOPIC.name))
    assert got[("schemabus_consumed_total", key)] == 6
    assert got[("schemabus_handled_total", key)] == 4
    assert got[("schemabus_retries_total", key)] == 1
    assert got[("schemabus_poison_total", key)] == 1
    assert got[("schemabus_dead_lettered_total", (*key[:1], ("reason", "handler-error"), key[1]))] == 1
    assert got[("schemabus_dead_lettered_total", (*key[:1], ("reason", "bad-magic"), key[1]))] == 1
    assert got[("schemabus_handler_duration_seconds_count", key)] == 6
    assert got[("schemabus_in_flight_records", key)] == 0
    assert got[("schemabus_committed_offsets_total", key)] == billing["committed"]
    assert got[("schemabus_rebalances_total", key)] == billing["rebalances"]


def test_a_runner_without_metrics_runs_the_handler_itself() -> None:
    seen: list[int] = []

    @TOPIC.handler(group="plain")
    async def plain(event: Event[str, pe.AgentCreated]) -> None:
        seen.append(event.offset)

    bus = InMemoryBus()
    bus.subscribe(plain)
    asyncio.run(pe.AgentLifecycleCreatedPublisher(bus).publish(created(0)))
    assert len(seen) == 1


# --- librdkafka statistics ----------------------------------------------------------------------


def _sample(name: str) -> str:
    return (STATS / name).read_text()


def test_a_producer_sample_gives_its_totals_queue_and_broker_round_trip() -> None:
    stats = parse_statistics(_sample("producer.json"))
    assert (stats.client, stats.type) == ("rdkafka#producer-2", "producer")
    assert stats.totals["txmsgs"] == 2300 and stats.totals["tx_bytes"] == 263318 and stats.totals["tx"] == 6
    assert (stats.queue_messages, stats.queue_bytes) == (0, 0)
    (broker,) = stats.brokers  # the bootstrap entry is not a broker of the cluster
    assert broker.broker == "127.0.0.1:34325/1"
    assert (broker.avg, broker.p99) == (pytest.approx(0.007833), pytest.approx(0.019199))  # µs -> s
    assert stats.lags == ()  # the producer reports no consumer lag
    assert stats.rates == {}  # a first sample: nothing to compare with


def test_a_consumer_sample_gives_the_lag_of_each_partition_librdkafka_knows() -> None:
    stats = parse_statistics(_sample("consumer.json"), group="billing")
    assert (stats.type, stats.group, stats.totals["rxmsgs"]) == ("consumer", "billing", 2300)
    # Partition 1 has a committed offset (300 of 1154): lag 854. Partition 0 has none (-1: unknown).
    assert [(p.topic, p.partition, p.lag) for p in stats.lags] == [("stats.sample.0b2584", 1, 854)]
    (broker,) = stats.brokers  # the GroupCoordinator is a logical broker
    assert broker.avg == pytest.approx(0.053994)


def test_rates_come_from_a_clients_last_two_samples() -> None:
    first = json.loads(_sample("producer.json"))
    second = {**first, "ts": first["ts"] + 2_000_000, "tx_bytes": first["tx_bytes"] + 50_000, "tx": first["tx"] + 10}
    second["msg_cnt"], second["msg_size"] = 7, 700
    metrics = Metrics(statistics_interval_ms=2000)
    callback = metrics.client_config()["stats_cb"]
    callback(json.dumps(first))
    callback(json.dumps(second))
    callback("not json")  # logged and ignored: never raised into librdkafka's poll
    (stats,) = metrics.statistics.clients()
    assert stats.rates["tx_bytes"] == pytest.approx(25_000.0)
    assert stats.rates["tx"] == pytest.approx(5.0)
    producer = metrics.snapshot()["producer"]
    assert producer["outgoing_byte_rate"] == pytest.approx(25_000.0)
    assert producer["request_rate"] == pytest.approx(5.0)
    assert (producer["queue_messages"], producer["queue_bytes"], producer["clients"]) == (7, 700, 1)


def test_statistics_in_the_exposition() -> None:
    metrics = Metrics()
    metrics.client_config()["stats_cb"](_sample("producer.json"))
    metrics.client_config(group="billing")["stats_cb"](_sample("consumer.json"))
    got = samples(metrics)
    producer = (("client", "rdkafka#producer-2"), ("type", "producer"))
    assert got[("schemabus_kafka_transmitted_messages_total", producer)] == 2300
    assert got[("schemabus_kafka_transmitted_bytes_total", producer)] == 263318
    assert got[("schemabus_kafka_producer_queue_messages", (("client", "rdkafka#producer-2"),))] == 0
    rtt = (("broker", "127.0.0.1:34325/1"), ("client", "rdkafka#producer-2"))
    assert got[("schemabus_kafka_broker_rtt_p99_seconds", rtt)] == pytest.approx(0.019199)
    lag = (("client", "rdkafka#consumer-3"), ("group", "billing"), ("partition", "1"), ("topic", "stats.sample.0b2584"))
    assert got[("schemabus_kafka_consumer_lag", lag)] == 854
    consumer = metrics.snapshot()["consumer"]
    assert (consumer["clients"], consumer["rxmsgs"]) == (1, 2300)


def test_statistics_are_asked_for_only_when_enabled() -> None:
    assert Metrics(statistics_interval_ms=0).client_config() == {}
    conf = Metrics(statistics_interval_ms=5000).client_config()
    assert conf["statistics.interval.ms"] == 5000 and callable(conf["stats_cb"])


def test_the_snapshot_has_the_seeds_fields_and_a_timestamp() -> None:
    metrics = Metrics()
    metrics.client_config()["stats_cb"](_sample("producer.json"))
    snap = metrics.snapshot()
    assert dt.datetime.fromisoformat(snap["timestamp"]).tzinfo is not None
    for name in ("outgoing_byte_rate", "request_rate", "response_rate"):
        assert name in snap["producer"]
    for name in ("incoming_byte_rate", "records_consumed_rate"):
        assert name in snap["consumer"]
    assert snap["producer"]["tx_bytes"] == 263318
    json.dumps(snap)


# --- the collector in a registry of one's own -------------------------------------------------------


def test_the_collector_registers_in_a_users_registry() -> None:
    metrics = Metrics()
    metrics.publishing.observer()(None, Report("orders", 0.01))
    collector: Collector = metrics.collector()
    registry = CollectorRegistry()
    registry.register(collector)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(Metrics().collector())  # describe() names every family: no silent clash
    text = generate_latest(registry).decode()
    assert 'schemabus_published_total{topic="orders"} 1.0' in text
    metrics.publishing.observer()(None, Report("orders", 0.01))
    assert registry.get_sample_value("schemabus_published_total", {"topic": "orders"}) == 2  # read per scrape


def test_every_family_follows_the_naming_conventions() -> None:
    metrics = Metrics()
    metrics.publishing.observer()(None, Report("orders", 0.01))
    metrics.client_config()["stats_cb"](_sample("producer.json"))
    families: dict[str, Any] = {f.name: f for f in text_string_to_metric_families(metrics.exposition()[0].decode())}
    for name, family in families.items():
        assert name.startswith("schemabus_"), name
        if family.type == "histogram":
            assert name.endswith("_seconds"), name
        if family.type == "counter":
            assert all(s.name == name + "_total" for s in family.samples), name
