"""The service: one bus for publishing, the projector, the cost aggregator, metrics and health.

:class:`AgentPlatform` wires what the other modules define and runs it until stopped. At start it
creates the catalog topics that are missing, as the catalog declares them (production deploys do
that as a step of their own, ``schemabus topics apply``, and set ``topic_check="verify"``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from schemabus.runtime import ConsumerRunner, ConsumerSettings, KafkaBus, RetryPolicy, ensure_topics
from schemabus.runtime.health import HealthCheck, combined
from schemabus.runtime.metrics import Metrics, MetricsServer, serve_metrics

from .agent_registry import AgentRegistry
from .aggregator import CostAggregator
from .projector import AgentView, projector_handlers
from .topics import PlatformTopics

# Transient handler failures (an agent's creation not projected yet) are retried for about 3 s
# (0.1 + 0.2 + 0.4 + 0.8 + 1.6); a record still failing then is dead-lettered.
RETRY = RetryPolicy(max_retries=5, initial_backoff=0.1, multiplier=2.0)


@dataclasses.dataclass(frozen=True)
class PlatformConfig:
    """Where the servers are and how this instance is named."""

    bootstrap_servers: str
    registry_url: str
    service: str = "agent-platform"
    namespace: str = ""  # put in front of every topic name (tests, side-by-side demos)
    metrics_port: int | None = 9464  # None: no HTTP endpoint; 0: any free port
    commit_interval: float = 0.5


class AgentPlatform:
    """The running service. ``async with AgentPlatform(config) as platform:`` starts it, leaving stops it."""

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config
        self.topics = PlatformTopics().namespaced(config.namespace)
        self.metrics = Metrics()
        self.bus = KafkaBus(config.bootstrap_servers, config.registry_url, metrics=self.metrics)
        self.agents = AgentRegistry(self.bus, self.topics)
        self.view = AgentView()
        self.projector = ConsumerRunner(
            config.bootstrap_servers,
            self.bus.registry,
            projector_handlers(self.view, self.topics),
            # The view is in memory, so it is rebuilt from the start of the topics by groups new at each
            # start; a view kept on disk would use stable groups and resume from their offsets.
            service=f"{config.service}.view-{uuid.uuid4().hex[:8]}",
            retry=RETRY,
            settings=ConsumerSettings(auto_offset_reset="earliest", commit_interval=config.commit_interval),
            metrics=self.metrics,
        )
        self.aggregator = CostAggregator(
            config.bootstrap_servers,
            config.registry_url,
            self.topics,
            service=f"{config.namespace}{config.service}",
            metrics=self.metrics,
            commit_interval=config.commit_interval,
        )
        self.server: MetricsServer | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Create missing topics, start the HTTP endpoints, the projector and the aggregator."""
        await asyncio.to_thread(ensure_topics, self.config.bootstrap_servers, self.topics.all())
        if self.config.metrics_port is not None:
            health: list[HealthCheck] = [self.bus, self.projector, self.aggregator]
            self.server = serve_metrics(self.metrics, port=self.config.metrics_port, health=health)
        self.tasks = [
            asyncio.create_task(self.projector.run(), name="projector"),
            asyncio.create_task(self.aggregator.run(), name="cost-aggregator"),
        ]

    async def until_ready(self, timeout: float = 60.0) -> None:
        """Wait until every component is ready: the bus reaches the cluster, each of the projector's consumer
        groups holds its partitions, the aggregator has restored its totals. Events published before that
        are not lost (the view's groups start from the earliest offset), but a group that joins seconds
        after another sees an agent's searches before its creation for longer than ``RETRY`` waits.
        Raises what stopped a consumer, or ``TimeoutError`` naming what is not ready."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            _, ready, statuses = combined([self.bus, self.projector, self.aggregator])
            if ready:
                return
            if (error := self.failed()) is not None:
                raise error
            if loop.time() > deadline:
                waiting = "; ".join(f"{s.component}: {s.reason}" for s in statuses if not s.ready)
                raise TimeoutError(f"the platform was not ready within {timeout:.0f}s ({waiting})")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop consuming (in-flight records finish and commit), then flush and close the bus. What stopped
        a consumer before is not raised here: :meth:`failed` says it."""
        self.projector.stop()
        self.aggregator.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.bus.close()
        if self.server is not None:
            self.server.stop()

    def failed(self) -> BaseException | None:
        """What stopped a consumer against its will, if anything did."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def __aenter__(self) -> AgentPlatform:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
