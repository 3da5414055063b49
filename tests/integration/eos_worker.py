"""An exactly-once consume-transform-produce process for tests/integration/test_exactly_once.py.

Run as a script, it consumes ``AgentCreated`` records with ``ConsumerRunner(exactly_once=bus)`` and,
for each, publishes one output record through the transactional bus (keyed ``partition-offset`` of
its input), until SIGTERM (graceful) or SIGKILL. ``--out`` gets one line ``partition offset`` per
record whose output the broker acknowledged (written, not yet committed), appended with ``os.write``
on an ``O_APPEND`` descriptor. With ``--hang-after N`` the handler, after N records, publishes the
output of the next one and then never returns: the transaction holding that output (and the outputs
since the last commit) can never commit, so a kill then certainly leaves written, uncommitted outputs
behind, exactly what an at-least-once consumer would duplicate after a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from consumer_worker import ConfluentRegistry, agent_topic

import platform_events as pe
from schemabus.runtime import Event, FunctionHandler, Topic
from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.kafka import KafkaBus


def output_topic(name: str, partitions: int) -> Topic[str, pe.AgentCreated]:
    """Where the worker writes one record per input (the catalog's AgentCreated under another name)."""
    return agent_topic(name, partitions)


async def _main(args: argparse.Namespace) -> None:
    out = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    source = agent_topic(args.topic, args.partitions)
    target = output_topic(args.output, args.partitions)
    settings = ProducerSettings(transactional_id=args.transactional_id, transaction_timeout_ms=30_000)
    bus = KafkaBus(args.bootstrap, args.registry, producer=settings)

    handled = 0

    async def transform(event: Event[str, pe.AgentCreated]) -> None:
        nonlocal handled
        if args.delay:
            await asyncio.sleep(args.delay)
        await bus.publish(target, event.value, key=f"{event.partition}-{event.offset}")
        os.write(out, f"{event.partition} {event.offset}\n".encode())
        handled += 1
        if args.hang_after and handled > args.hang_after:
            await asyncio.Event().wait()  # mid-record, output written: waiting for the SIGKILL

    runner = ConsumerRunner(
        args.bootstrap,
        ConfluentRegistry(args.registry),
        [FunctionHandler(source, transform, group=args.group)],
        max_in_flight=args.max_in_flight,
        commit_interval=args.commit_interval,
        exactly_once=bus,
        # A killed member holds its partitions until its session expires: keep that short (the broker minimum).
        extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )
    try:
        async with bus:
            await bus.prepare(target)
            await runner.run(handle_signals=True)
    finally:
        os.close(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--transactional-id", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each record takes")
    parser.add_argument("--commit-interval", type=float, default=0.5)
    parser.add_argument("--max-in-flight", type=int, default=20)
    parser.add_argument("--hang-after", type=int, default=0, help="hang mid-record after this many records")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
