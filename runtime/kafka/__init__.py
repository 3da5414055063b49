"""The Kafka side of the runtime: the bus (publishing: ``bus``, composing ``delivery``, ``health`` and
``transactions``), error mapping (``errors``) and topic administration (``admin``)."""

from .admin import ensure_topics
from .bus import KafkaBus

__all__ = ["KafkaBus", "ensure_topics"]
