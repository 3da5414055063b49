"""ConsumerRunner without a broker: how it is configured, misused, started and stopped (its behaviour on a
real broker and under real faults is tested in tests/integration/test_consumer.py and test_exactly_once.py).

A runner whose cluster cannot be reached still runs: librdkafka keeps trying to connect, and the
runner polls, until it is stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from typing import Any

import pytest

import platform_events as pe
from schemabus.runtime import Event, SchemaIds
from schemabus.runtime.config import ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerMetrics, ConsumerRunner, PartitionLag
from schemabus.runtime.errors import ServerUnavailableError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry

TIMEOUT = 30.0
# These runners point at a closed port on purpose: they start without waiting for the cluster.
UNBOUNDED = ConsumerSettings(startup_timeout=None)


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _handler(name: str = "record") -> Any:
    async def record(event: Event[str, pe.AgentCreated]) -> None:
        pass

    return pe.AGENT_LIFECYCLE_CREATED.handler(name=name)(record)


def test_settings_and_handlers_are_checked_when_the_runner_is_made() -> None:
    with pytest.raises(ValueError, match="max_in_flight must be >= 1"):
        ConsumerRunner(_closed_port(), InMemoryRegistry(), max_in_flight=0)
    runner = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler("one")], service="billing")
    with pytest.raises(
        ValueError, match=r"two handlers share the consumer group 'billing\.agent\.lifecycle\.created\.one'"
    ):
        runner.subscribe(_handler("one"))
    assert runner.subscribe(_handler("two")).name == "two"  # returned, so it works as a decorator
    assert [h.name for h in runner.handlers] == ["one", "two"]
    config = runner.consumer_config(runner.handlers[0])
    assert config["group.id"] == "billing.agent.lifecycle.created.one"
    assert config["enable.auto.commit"] is False and "isolation.level" not in config

    bus = KafkaBus(_closed_port(), InMemoryRegistry(), producer=ProducerSettings(transactional_id="t-runner"))
    try:
        eos = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler("one")], exactly_once=bus)
        with pytest.raises(ValueError, match="an exactly_once runner has one handler"):
            eos.subscribe(_handler("two"))
    finally:
        bus.close_sync(1)


def test_schema_ids_given_to_the_runner_keep_their_mode_and_pinned_versions() -> None:
    ids = SchemaIds(InMemoryRegistry(), "lookup", {"*": "latest"})
    runner = ConsumerRunner(_closed_port(), ids, [_handler()])
    assert runner.codec.ids.mode == "lookup" and runner.codec.ids.versions == {"*": "latest"}
    assert ConsumerRunner(_closed_port(), runner.codec.ids, [_handler()]).codec.ids is runner.codec.ids


def test_a_runner_without_handlers_does_not_run() -> None:
    with pytest.raises(RuntimeError, match="no handlers"):
        asyncio.run(ConsumerRunner(_closed_port(), InMemoryRegistry()).run())


def test_a_runner_runs_once_takes_no_handlers_while_running_and_stops_when_asked() -> None:
    runner = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler()], dead_letters=False, settings=UNBOUNDED)

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        while not runner.handler_metrics() and not task.done():  # its consumers exist
            await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError, match="subscribe handlers before run"):
            runner.subscribe(_handler("late"))
        with pytest.raises(RuntimeError, match="already running"):
            await runner.run()
        assert not runner.stopping
        assert await runner.lag() == []  # nothing assigned: the cluster is unreachable
        runner.stop()
        assert runner.stopping
        await asyncio.wait_for(task, TIMEOUT)

    asyncio.run(scenario())
    assert runner.metrics == ConsumerMetrics()
    with pytest.raises(RuntimeError, match="already running \\(or ran\\)"):
        asyncio.run(runner.run())


def test_a_runner_stopped_before_it_runs_returns_at_once() -> None:
    runner = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler()], dead_letters=False, settings=UNBOUNDED)
    runner.stop()
    asyncio.run(asyncio.wait_for(runner.run(), TIMEOUT))
    assert runner.stopping


def test_run_forever_stops_on_sigterm() -> None:
    """run_forever() installs SIGTERM and SIGINT handlers that stop the runner gracefully, and removes them."""
    runner = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler()], dead_letters=True, settings=UNBOUNDED)
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        runner.run_forever()
    finally:
        timer.cancel()
    assert runner.stopping
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_stop_from_another_thread_reaches_the_running_loop() -> None:
    runner = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler()], dead_letters=False, settings=UNBOUNDED)

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        while not runner.handler_metrics() and not task.done():
            await asyncio.sleep(0.01)
        await asyncio.to_thread(runner.stop)
        await asyncio.wait_for(task, TIMEOUT)

    asyncio.run(scenario())
    runner.stop()  # the loop is closed now: nothing left to stop, and no error


def test_a_cancelled_run_stops_its_consumers() -> None:
    runner = ConsumerRunner(_closed_port(), InMemoryRegistry(), [_handler()], dead_letters=False, settings=UNBOUNDED)

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        while not runner.handler_metrics() and not task.done():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)

    asyncio.run(scenario())
    assert runner.stopping


def test_lag_counts_from_the_low_watermark_when_nothing_is_committed() -> None:
    assert PartitionLag("g", "t", 0, None, high_watermark=10, low_watermark=4).lag == 6
    assert PartitionLag("g", "t", 0, 8, high_watermark=10, low_watermark=4).lag == 2
    assert PartitionLag("g", "t", 0, 12, high_watermark=10, low_watermark=4).lag == 0  # never negative
    assert ConsumerMetrics(consumed=1, handled=1) + ConsumerMetrics(consumed=2) == ConsumerMetrics(3, 1)


def test_a_runner_that_cannot_reach_the_cluster_fails_at_its_startup_timeout_naming_the_servers() -> None:
    address = _closed_port()
    runner = ConsumerRunner(address, InMemoryRegistry(), [_handler()], settings=ConsumerSettings(startup_timeout=2))
    started = time.monotonic()
    with pytest.raises(ServerUnavailableError) as info:
        asyncio.run(asyncio.wait_for(runner.run(), TIMEOUT))
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 2 + 10, elapsed
    text = str(info.value)
    assert text.startswith(f"Kafka broker {address} is unavailable: could not start consuming (startup_timeout) ")
    assert "Connection refused" in text
    health = runner.health()
    assert not health.live and "ServerUnavailableError" in health.reason


def test_a_stop_ends_the_wait_for_the_cluster() -> None:
    runner = ConsumerRunner(
        _closed_port(), InMemoryRegistry(), [_handler()], settings=ConsumerSettings(startup_timeout=60)
    )

    async def scenario() -> None:
        asyncio.get_running_loop().call_later(1.5, runner.stop)
        await runner.run()

    started = time.monotonic()
    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert time.monotonic() - started < 10
    assert runner.health().reason == "stopped"
