"""Consume topics with typed handlers on Kafka: at-least-once, ordered per partition, with retries and a
dead-letter topic, or exactly once (README, "On Kafka" and "Exactly once", says what is guaranteed).

``runner`` (:class:`ConsumerRunner`: configuration, run and stop, metrics and lag) runs a ``loop`` per
handler (its consumer thread, back-pressure, partition workers, commits) over ``partition`` state
(:class:`OffsetTracker`); ``policy`` decides what a failure leads to; ``exactly_once`` is the
transactional loop; ``lag`` measures consumer lag.
"""

from .lag import PartitionLag, consumer_lag
from .loop import ConsumerMetrics
from .partition import OffsetTracker
from .policy import HandlerFailedError
from .runner import ConsumerRunner

__all__ = [
    "ConsumerMetrics",
    "ConsumerRunner",
    "HandlerFailedError",
    "OffsetTracker",
    "PartitionLag",
    "consumer_lag",
]
