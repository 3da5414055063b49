"""Where schemabus's log records go in a command-line tool: stderr, at the level ``-v`` asks for.

Kept apart from :mod:`.kafka_logging` (which re-exports both names) so that every ``schemabus``
command can set up its logging without importing confluent-kafka.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

__all__ = ["LIBRDKAFKA_LOGGER", "log_to_stderr"]

LIBRDKAFKA_LOGGER = "schemabus.kafka.librdkafka"


def log_to_stderr(verbosity: int) -> Callable[[], None]:
    """Show schemabus's log records on stderr (for command-line tools); returns what undoes it.

    0: warnings and errors, but not librdkafka's lines (a failure's last librdkafka error is part of
    its one-line message); 1: info and librdkafka's lines (once per condition); 2: debug.
    """
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    if verbosity <= 0:
        handler.addFilter(lambda record: not record.name.startswith(LIBRDKAFKA_LOGGER))
    logger = logging.getLogger("schemabus")
    previous = logger.level
    logger.addHandler(handler)
    if level < logging.WARNING:
        logger.setLevel(level)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo
