"""The Kafka side of the runtime: the bus (publishing: ``bus``, composing ``delivery``, ``health`` and
``transactions``), error mapping (``errors``) and topic administration (``topics``: plan, apply, the start-up check)."""

from .bus import KafkaBus
from .topics import ensure_topics

__all__ = ["KafkaBus", "ensure_topics"]
