"""Consume topics with typed handlers on Kafka: at-least-once, ordered per partition, with retries and a
dead-letter topic, or exactly once (README, "On Kafka" and "Exactly once", says what is guaranteed).

``runner`` (:class:`ConsumerRunner`: configuration, run and stop, metrics and lag) runs a ``loop`` per
handler (its consumer thread, back-pressure, partition workers handling records one at a time or in
batches, commits) over ``partition`` state
(:class:`OffsetTracker`); ``policy`` decides what a failure leads to; ``exactly_once`` is the
transactional loop; ``lag`` measures consumer lag (of a runner's partitions, or of any group from
outside: :class:`ConsumerLagMonitor`, :class:`LagCollector` for Prometheus).
"""

from .lag import ConsumerLagMonitor, GroupLag, LagCollector, PartitionLag, UnknownGroupError, consumer_lag, read_lag
from .loop import ConsumerMetrics
from .partition import OffsetTracker
from .policy import HandlerFailedError
from .runner import ConsumerRunner

__all__ = [
    "ConsumerLagMonitor",
    "ConsumerMetrics",
    "ConsumerRunner",
    "GroupLag",
    "HandlerFailedError",
    "LagCollector",
    "OffsetTracker",
    "PartitionLag",
    "UnknownGroupError",
    "consumer_lag",
    "read_lag",
]
