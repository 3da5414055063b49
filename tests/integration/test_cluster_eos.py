"""Exactly-once consume-transform-produce under broker crashes, on the three-broker KRaft cluster
(``kafka_cluster``; topics with 3 replicas and ``min.insync.replicas=2``).

A feeder publishes RECORDS records to a source topic (6 partitions), paced over ~35 s. A copier,
``ConsumerRunner(exactly_once=bus)`` on a transactional ``KafkaBus`` in this process, publishes one
output record per input, keyed by the input's ``partition-offset``, in the transaction that commits
the input's offset. Meanwhile three brokers are SIGKILLed one at a time, each a different node, and
started again on their data (then every replica of both topics, of ``__transaction_state`` and of
``__consumer_offsets`` is back in sync before the next kill): first the transaction coordinator of
the copier's transactional id (the leader of ``__transaction_state``'s only partition), then the
leader of a source partition, then the active controller, as far as these are different nodes (else
another node not yet killed).

The copier may fail with a typed error (a ``SchemabusError`` such as an aborted transaction, a commit
of unknown outcome or a fatal producer error; ``HandlerFailedError``; a fatal ``KafkaException``); it
is then started again, as a deployment would restart it: a new bus with the same transactional id
(which fences the old producer and settles its open transaction) and a new runner in the same group,
which goes on from the committed offsets. The restarts and their errors are printed.

The copier must not stall: once the feeder and the faults are over, it must commit every input,
and a minute without any committed offset moving fails the test (with the stacks of every task and
thread, and a timeline of the outputs published every 5 s). Its speed is not asserted.

At the end a ``read_committed`` reader sees every input's output exactly once: the outputs' keys are
exactly the source's ``partition-offset`` set (lost = 0, duplicates = 0), and every record the feeder
had acknowledged is in the source.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaException
from faults import FaultCluster, read_counts

import platform_events as pe
from schemabus.runtime import Event, FunctionHandler
from schemabus.runtime.config import ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner, HandlerFailedError, consumer_lag
from schemabus.runtime.errors import PublishBatchError, PublishError, SchemabusError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_kafka_bus import agent_created

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

log = logging.getLogger(__name__)

PARTITIONS = 6
RECORDS = 6_000
SLICES = 40
PACE_S = 0.4  # between the feeder's slices: it publishes for ~35 s, while the three faults happen
DOWN_S = 2.0  # how long a killed broker stays down before it is started again
FIRST_FAULT_S = 3.0
TRANSACTION_TIMEOUT_MS = 30_000
# After the feeder and the faults, until the copier committed every input: it must not stall (no
# committed offset moves for STALL_S, longer than a transaction timeout plus a restart); how long it
# takes otherwise depends on the machine (each output is awaited, acks=all on 3 replicas: ~100-200
# records/s on 2 busy cores, less under coverage), within CATCH_UP_CAP_S.
STALL_S = 60.0
CATCH_UP_CAP_S = 300.0
RESTART_BACKOFF_S = 1.0


def _topic(role: str) -> Any:
    return dataclasses.replace(
        pe.AGENT_LIFECYCLE_CREATED, name=f"t{uuid.uuid4().hex[:12]}.{role}.created", partitions=PARTITIONS
    )


@pytest.mark.timeout(CATCH_UP_CAP_S + 240)  # the feeder and the faults (~60 s) and the copier's stop
def test_exactly_once_copying_survives_three_broker_kills(
    kafka_cluster: FaultCluster, record_property: Callable[[str, object], None]
) -> None:
    cluster = kafka_cluster
    source, target = _topic("eossource"), _topic("eostarget")
    registry = InMemoryRegistry()  # shared by the feeder, the copier's runner and its bus
    feeder = KafkaBus(cluster.bootstrap, registry)
    feeder.ensure_topics([source, target])
    group, transactional_id = f"g{uuid.uuid4().hex[:10]}", f"copier-{uuid.uuid4().hex[:10]}"
    acked: set[int] = set()
    feeder_failures: dict[int, str] = {}
    copier_errors: list[str] = []
    victims: list[tuple[str, int]] = []
    began = time.monotonic()
    timeline: list[str] = []  # what happened when, seconds from the start, for the printout

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:.1f} {what}")

    copied_by: list[int] = [0]  # outputs published (before commit), for the printout
    current: list[ConsumerRunner] = []  # the copier's runner, for the printout when it does not finish

    async def feed() -> None:
        await feeder.prepare(source)
        per_slice = RECORDS // SLICES
        for index in range(SLICES):
            ids = list(range(index * per_slice, (index + 1) * per_slice))
            try:
                await feeder.publish_many(source, [agent_created(n) for n in ids], keys=map(str, ids))
                acked.update(ids)
            except PublishBatchError as e:
                feeder_failures.update({ids[p]: f.code or type(f).__name__ for p, f in e.failed.items()})
                acked.update(n for p, n in enumerate(ids) if p not in e.failed)
            except PublishError as e:
                feeder_failures.update(dict.fromkeys(ids, e.code or type(e).__name__))
            await asyncio.sleep(PACE_S)

    def kill_three() -> None:
        """Kill a different node three times, waiting for all replicas in sync after each restart."""
        time.sleep(FIRST_FAULT_S)
        for role in ("transaction coordinator", "source leader", "active controller"):
            if role == "transaction coordinator":
                wanted = cluster.leader_of("__transaction_state", 0)
            elif role == "source leader":
                wanted = cluster.leader_of(source.name, 0)
            else:
                wanted = cluster.active_controller()
            killed = {node for _, node in victims}
            node = (
                wanted if wanted not in killed else next(b.node_id for b in cluster.brokers if b.node_id not in killed)
            )
            victims.append((role if node == wanted else f"{role} (node {wanted}, killed already): another", node))
            cluster.kill(node)
            mark(f"killed {node}")
            time.sleep(DOWN_S)
            cluster.start(node)
            mark(f"started {node}")
            for name in (source.name, target.name, "__transaction_state", "__consumer_offsets"):
                cluster.wait_in_sync(name)
            mark("in sync")

    async def copy(stop: asyncio.Event) -> int:
        """Run the copier until ``stop``; start it again after each failure. Return the restarts."""
        restarts = 0
        settings = ProducerSettings(
            transactional_id=transactional_id,
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            delivery_timeout_ms=TRANSACTION_TIMEOUT_MS,
            linger_ms=0,  # the handler awaits each output: do not hold it back for a batch
        )
        while not stop.is_set():
            mark("copier starts")
            bus = KafkaBus(cluster.bootstrap, registry, producer=settings)

            async def transform(event: Event[str, pe.AgentCreated], bus: KafkaBus = bus) -> None:
                await bus.publish(target, event.value, key=f"{event.partition}-{event.offset}")
                copied_by[0] += 1

            runner = ConsumerRunner(
                cluster.bootstrap,
                registry,
                [FunctionHandler(source, transform, group=group)],
                exactly_once=bus,
                settings=ConsumerSettings(
                    commit_interval=0.5, max_in_flight=200, session_timeout_ms=6000, heartbeat_interval_ms=1000
                ),
            )
            current[:] = [runner]
            try:
                async with bus:
                    await bus.prepare(target)
                    task = asyncio.create_task(runner.run())
                    stopping = asyncio.create_task(stop.wait())
                    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    stopping.cancel()
                    runner.stop()
                    await task
            except (SchemabusError, HandlerFailedError, KafkaException) as e:  # restart it, as a deployment would
                if stop.is_set():
                    raise
                cause = "" if e.__cause__ is None else f" (cause: {type(e.__cause__).__name__}: {e.__cause__})"
                copier_errors.append(f"{type(e).__name__}: {e}"[:300] + cause[:300])
                mark(f"copier failed: {copier_errors[-1]}")
                log.warning("copier failed (restart %d): %s", restarts + 1, copier_errors[-1])
                restarts += 1
                await asyncio.sleep(RESTART_BACKOFF_S)
                continue
            assert stop.is_set(), "the copier's runner ended by itself, without an error"
        return restarts

    async def progress() -> None:
        """Every 5 s: outputs published so far and what the runner says, for the printout."""
        while True:
            await asyncio.sleep(5)
            mark(f"{copied_by[0]} outputs published; runner: {current[0].health() if current else None}")

    async def scenario() -> tuple[int, float, float]:
        stop = asyncio.Event()
        copier = asyncio.create_task(copy(stop))
        watch = asyncio.create_task(progress())
        started = time.monotonic()
        stuck: str | None = None
        try:
            await asyncio.gather(feed(), asyncio.to_thread(kill_three))
            mark(f"fed and faults over; {copied_by[0]} outputs published")
            faults_done = time.monotonic() - started
            cap = time.monotonic() + CATCH_UP_CAP_S
            moved, last = time.monotonic(), -1
            while True:
                lag = await asyncio.to_thread(consumer_lag, cluster.bootstrap, group, source.name)
                committed = sum(p.committed or 0 for p in lag)
                if len(lag) == PARTITIONS and all(p.committed == p.high_watermark for p in lag):
                    break
                assert not copier.done(), copier.exception()
                now = time.monotonic()
                if committed != last:
                    moved, last = now, committed
                if now - moved >= STALL_S or now >= cap:
                    what = f"no commit for {now - moved:.0f} s" if now - moved >= STALL_S else "too slow"
                    stuck = f"the copier did not commit every input ({what}); errors: {copier_errors}; lag: {lag}"
                    break
                await asyncio.sleep(0.5)
            copied = time.monotonic() - started
        finally:
            stop.set()
            watch.cancel()
            done, _ = await asyncio.wait({copier}, timeout=60)
            if stuck is not None or not done:
                # Where the copier is: every task's and thread's stack, for the printout.
                stacks = io.StringIO()
                for task in asyncio.all_tasks():
                    task.print_stack(file=stacks)
                for ident, frame in sys._current_frames().items():
                    stacks.write(f"thread {ident}:\n{''.join(traceback.format_stack(frame))}\n")
                print(stacks.getvalue())
                mark("the copier stopped" if done else "the copier did not stop within 60 s")
        assert stuck is None, stuck + "; timeline:\n" + "\n".join(timeline)
        assert done, "the copier did not stop within 60 s; timeline:\n" + "\n".join(timeline)
        return copier.result(), faults_done, copied

    try:
        restarts, faults_s, copied_s = asyncio.run(scenario())
        inputs = read_counts(cluster.bootstrap, source.name, lambda m: f"{m.partition()}-{m.offset()}")
        input_ids = read_counts(
            cluster.bootstrap, source.name, lambda m: int(feeder.codec.decode_value(source, m.value()).labels["n"])
        )
        outputs = read_counts(
            cluster.bootstrap, target.name, lambda m: (m.key() or b"").decode(), isolation="read_committed"
        )
        lost = len(inputs.keys() - outputs.keys())
        duplicates = sum(count - 1 for count in outputs.values())
        strays = len(outputs.keys() - inputs.keys())
        summary = (
            f"killed {victims}; feeder acked {len(acked)} of {RECORDS} (failed {len(feeder_failures)}), "
            f"source holds {sum(inputs.values())}; faults over after {faults_s:.1f} s, every input committed after "
            f"{copied_s:.1f} s; copier restarts {restarts} {copier_errors}; outputs published {copied_by[0]}, "
            f"read_committed {sum(outputs.values())}: lost {lost}, duplicates {duplicates}, not from an input {strays}"
        )
        print(summary)
        print("\n".join(timeline))
        for name, value in (("lost", lost), ("duplicates", duplicates), ("restarts", restarts)):
            record_property(name, value)
        assert len({node for _, node in victims}) == 3, summary
        assert acked <= input_ids.keys(), summary
        assert lost == 0 and duplicates == 0 and strays == 0, summary
    finally:
        feeder.close_sync(10)
        cluster.heal()
