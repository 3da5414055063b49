"""The Kafka side of the runtime: the bus (publishing), error mapping and topic administration."""

from .admin import ensure_topics
from .bus import KafkaBus

__all__ = ["KafkaBus", "ensure_topics"]
