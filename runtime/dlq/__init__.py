"""Dead-letter topics: where a record goes when it cannot be handled, and how to look at it and replay it.

A record that cannot be decoded (a poison message) or whose handler kept failing is written to
``dlq.{topic}`` with its **original key, value and headers, byte for byte**, plus headers that say
where it came from and why it failed. They follow Kafka Connect's ``__connect.errors.*`` and
Spring Kafka's ``kafka_dlt-*`` headers, under one namespace; every value is UTF-8 text:

==========================================  =====================================================
``schemabus.dlq.original.topic``            topic the record was read from
``schemabus.dlq.original.partition``        its partition (decimal)
``schemabus.dlq.original.offset``           its offset (decimal)
``schemabus.dlq.original.timestamp``        its timestamp, ms since the epoch (decimal)
``schemabus.dlq.consumer.group``            consumer group of the handler that gave up
``schemabus.dlq.exception.class``           fully qualified class of the error (``builtins.ValueError``)
``schemabus.dlq.exception.message``         its message (at most 8 KiB)
``schemabus.dlq.exception.stacktrace``      its traceback; the last 8 KiB when longer
``schemabus.dlq.attempts``                  how many times the handler ran (0 for a poison message)
``schemabus.dlq.reason``                    ``handler-error``, or the poison reason: ``bad-magic``,
                                            ``truncated``, ``unknown-schema-id``, ``invalid-payload``,
                                            ``validation``
==========================================  =====================================================

A record whose copy its dead-letter topic cannot take (too large even with the exception message
and stack trace cut to 1 KiB each) is dead-lettered as a **reference** to it: an empty value, the
headers above, and

==========================================  =====================================================
``schemabus.dlq.payload``                   ``reference``: the value was not copied
``schemabus.dlq.payload.size``              the size of the original value, bytes (decimal)
``schemabus.dlq.payload.omitted``           what was left out: ``value``, ``value,headers`` or
                                            ``value,key,headers``
==========================================  =====================================================

:class:`DeadLetterWriter` produces with an idempotent producer and waits for the broker's
acknowledgement; it creates ``dlq.{topic}`` with room for any record of ``{topic}`` plus the
dead-letter headers. When it cannot write, it raises :class:`DeadLetterError` so that the consumer
stops without committing the record. :func:`read_dead_letters` and :func:`replay` are what
``schemabus dlq inspect`` and ``schemabus dlq replay`` run.
"""

from .reader import DeadLetter, ReplayResult, describe, parse_dead_letter, read_dead_letters, replay
from .records import (
    DLQ_PREFIX,
    HEADER_ATTEMPTS,
    HEADER_CONSUMER_GROUP,
    HEADER_EXCEPTION_CLASS,
    HEADER_EXCEPTION_MESSAGE,
    HEADER_EXCEPTION_STACKTRACE,
    HEADER_ORIGINAL_OFFSET,
    HEADER_ORIGINAL_PARTITION,
    HEADER_ORIGINAL_TIMESTAMP,
    HEADER_ORIGINAL_TOPIC,
    HEADER_PAYLOAD,
    HEADER_PAYLOAD_OMITTED,
    HEADER_PAYLOAD_SIZE,
    HEADER_PREFIX,
    HEADER_REASON,
    MAX_TEXT_BYTES,
    PAYLOAD_REFERENCE,
    REASON_HANDLER_ERROR,
    SHORT_TEXT_BYTES,
    ClientConfig,
    DeadLetterError,
    DeadLetterRecord,
    build_dead_letter,
    dead_letter_of,
    dlq_topic_name,
    format_stacktrace,
    is_dlq_topic,
    reference_to,
    shortened,
)
from .writer import DeadLetterWriter

__all__ = [
    "DLQ_PREFIX",
    "HEADER_ATTEMPTS",
    "HEADER_CONSUMER_GROUP",
    "HEADER_EXCEPTION_CLASS",
    "HEADER_EXCEPTION_MESSAGE",
    "HEADER_EXCEPTION_STACKTRACE",
    "HEADER_ORIGINAL_OFFSET",
    "HEADER_ORIGINAL_PARTITION",
    "HEADER_ORIGINAL_TIMESTAMP",
    "HEADER_ORIGINAL_TOPIC",
    "HEADER_PAYLOAD",
    "HEADER_PAYLOAD_OMITTED",
    "HEADER_PAYLOAD_SIZE",
    "HEADER_PREFIX",
    "HEADER_REASON",
    "MAX_TEXT_BYTES",
    "PAYLOAD_REFERENCE",
    "REASON_HANDLER_ERROR",
    "SHORT_TEXT_BYTES",
    "ClientConfig",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterRecord",
    "DeadLetterWriter",
    "ReplayResult",
    "build_dead_letter",
    "dead_letter_of",
    "describe",
    "dlq_topic_name",
    "format_stacktrace",
    "is_dlq_topic",
    "parse_dead_letter",
    "read_dead_letters",
    "reference_to",
    "replay",
    "shortened",
]
