"""Where :class:`KafkaBus` lived before :mod:`schemabus.runtime.kafka`; kept so that imports keep working."""

from .kafka import KafkaBus, ensure_topics

__all__ = ["KafkaBus", "ensure_topics"]
