"""The cost aggregator: running totals per agent and billing day, exactly once.

It consumes ``cost.tracking.recorded`` and, for each cost, publishes the new running total of the
cost's (agent, billing day, currency) to ``cost.summary.updated``. The runner runs in exactly-once
mode (``ConsumerRunner(..., exactly_once=bus)`` with a transactional ``KafkaBus``): the summaries
a batch of costs produced and the offsets of those costs commit in one Kafka transaction, or not
at all.

The totals themselves live in memory, and so must be rebuilt at start. The summary topic is their
changelog: it is compacted, and its latest committed record of a key *is* that key's total after
the last committed offset. So a start

1. starts the transactional bus, which fences a previous instance with the same transactional id
   and aborts whatever it left open (nothing it wrote can commit after this point);
2. reads the summary topic to its end, committed records only, into the totals
   (``schemabus.runtime.reading.read_events``);
3. consumes costs from the committed offsets on.

A cost whose transaction did not commit is neither in the restored totals nor behind the committed
offset: it is counted once, when it is consumed again. A stop (or a crash) therefore neither loses
nor double-counts a cost. When the runner stops with an error its transaction was aborted while the
in-memory totals had already counted its costs: :meth:`CostAggregator.run` raises, its totals are
discarded, and the process exits (its ``/healthz`` turns 503 meanwhile) to be started again, which
restores again. It does not restart itself: after a ``ProducerFencedError`` another instance has
taken over, and starting again would fence that one in turn.

One instance per summary topic: the totals of an agent span every partition of the cost topic, so
a second instance holding other partitions would publish partial totals for the same keys.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import platform_events as pe
from schemabus.runtime import ConsumerRunner, Event, FunctionHandler, KafkaBus, RetryPolicy
from schemabus.runtime.config import ProducerSettings
from schemabus.runtime.health import HealthStatus
from schemabus.runtime.metrics import Metrics
from schemabus.runtime.reading import read_events

from .topics import PlatformTopics

SummaryKey = tuple[uuid.UUID | None, dt.date, str]  # agent (None: unattributed), billing day, currency


@dataclasses.dataclass
class Total:
    """The running total of one key."""

    entries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_cost: Decimal = Decimal(0)


class CostTotals:
    """Totals per (agent, billing day, currency), with the two views a report asks for."""

    def __init__(self) -> None:
        self.totals: dict[SummaryKey, Total] = {}

    def add(self, cost: pe.CostRecorded) -> pe.CostSummaryUpdated:
        """Count ``cost`` and return the new running total of its key."""
        key = (cost.agent_id, cost.billing_date, cost.currency)
        total = self.totals.setdefault(key, Total())
        total.entries += 1
        total.prompt_tokens += cost.prompt_tokens
        total.completion_tokens += cost.completion_tokens
        total.total_cost += cost.total_cost
        return pe.CostSummaryUpdated(
            agent_id=cost.agent_id,
            billing_date=cost.billing_date,
            currency=cost.currency,
            entries=total.entries,
            prompt_tokens=total.prompt_tokens,
            completion_tokens=total.completion_tokens,
            total_cost=total.total_cost,
            last_token_usage_id=cost.token_usage_id,
            updated_at=dt.datetime.now(dt.UTC),
        )

    def restore(self, summary: pe.CostSummaryUpdated) -> None:
        """Take a total from the summary topic (the latest record of a key wins)."""
        key = (summary.agent_id, summary.billing_date, summary.currency)
        self.totals[key] = Total(summary.entries, summary.prompt_tokens, summary.completion_tokens, summary.total_cost)

    def entries(self) -> int:
        """How many costs the totals count."""
        return sum(total.entries for total in self.totals.values())

    def by_agent(self) -> dict[tuple[uuid.UUID | None, str], Decimal]:
        """Total cost per (agent, currency), over every day."""
        out: dict[tuple[uuid.UUID | None, str], Decimal] = {}
        for (agent, _, currency), total in self.totals.items():
            out[agent, currency] = out.get((agent, currency), Decimal(0)) + total.total_cost
        return out

    def by_day(self) -> dict[tuple[dt.date, str], Decimal]:
        """Total cost per (billing day, currency), over every agent."""
        out: dict[tuple[dt.date, str], Decimal] = {}
        for (_, day, currency), total in self.totals.items():
            out[day, currency] = out.get((day, currency), Decimal(0)) + total.total_cost
        return out


class CostAggregator:
    """Runs the exactly-once aggregation; :meth:`run` restores the totals and consumes until stopped."""

    def __init__(
        self,
        bootstrap: str,
        registry_url: str,
        topics: PlatformTopics,
        *,
        service: str,
        metrics: Metrics | None = None,
        commit_interval: float = 0.5,
    ) -> None:
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.topics = topics
        self.service = service
        self.metrics = metrics
        self.commit_interval = commit_interval
        self.totals = CostTotals()
        self.runner: ConsumerRunner | None = None
        self.bus: KafkaBus | None = None
        self.stopped = False
        self.restored = asyncio.Event()  # set once the totals hold what the summary topic says

    @property
    def group(self) -> str:
        """The consumer group: stable, so that a restart resumes from the committed offsets."""
        return f"{self.service}.cost-aggregator"

    async def run(self) -> None:
        """Restore the totals, then aggregate until :meth:`stop` (or an error, which is raised)."""
        # Stable per instance: a restart with the same id fences the previous one (step 1 above).
        producer = ProducerSettings(transactional_id=f"{self.service}.cost-aggregator")
        bus = KafkaBus(self.bootstrap, self.registry_url, producer=producer, metrics=self.metrics)
        async with bus:
            await bus.start()
            totals = CostTotals()
            summaries = await asyncio.to_thread(read_events, self.bootstrap, bus.codec, self.topics.cost_summary)
            for summary in summaries:
                totals.restore(summary.value)
            await bus.prepare(self.topics.cost_summary)

            async def on_cost(event: Event[pe.CostRecordedKey, pe.CostRecorded]) -> None:
                summary = totals.add(event.value)
                key = pe.CostSummaryKey(
                    agent_id=summary.agent_id, billing_date=summary.billing_date, currency=summary.currency
                )
                await bus.publish(self.topics.cost_summary, summary, key=key)

            runner = ConsumerRunner(
                self.bootstrap,
                bus.registry,
                [FunctionHandler(self.topics.cost_recorded, on_cost, group=self.group)],
                exactly_once=bus,
                commit_interval=self.commit_interval,
                # Exactly-once handlers are not retried (an error aborts the transaction); the policy
                # still paces the retries of a registry that cannot be reached.
                retry=RetryPolicy(max_retries=3, initial_backoff=0.2),
                metrics=self.metrics,
            )
            self.totals, self.bus, self.runner = totals, bus, runner
            self.restored.set()
            if not self.stopped:  # stop() may have come while the totals were restored
                await runner.run()

    def stop(self) -> None:
        """Stop consuming: records in flight finish and commit with their summaries."""
        self.stopped = True
        if self.runner is not None:
            self.runner.stop()

    def health(self) -> HealthStatus:
        """The runner's health, or not ready while the totals are being restored."""
        if self.runner is None:
            return HealthStatus("cost-aggregator", live=True, ready=False, reason="restoring the totals")
        return self.runner.health()
