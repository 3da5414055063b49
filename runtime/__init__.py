"""The schemabus runtime: the public API generated code imports, bound to a bus at run time.

Generated packages import only the names listed in ``__all__`` here and the Avro building blocks
of :mod:`schemabus.runtime.avro`; a bus (in-memory for tests, Kafka in production) is chosen by
the application, so generated code never changes between the two.

The Kafka side (``KafkaBus``, ``ConsumerRunner``, configuration, errors) is importable from here
too, but loaded on first use: it pulls in confluent-kafka's clients, which generated code and the
in-memory bus do not need.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .bus import Bus, RecordCodec
from .handler import FunctionHandler, Handler, consumer_group
from .publisher import NotConnectedError, Publisher
from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaRegistry, SchemaVersion
from .serde import AvroSerde, DeserializationError, JsonSerde, Serde, StringSerde
from .topic import DeliveryResult, Event, Headers, Topic

if TYPE_CHECKING:  # type checkers see the real names; at run time they load on first use
    from .config import BusConfig, KafkaConfig, ProducerSettings, RegistryConfig
    from .consumer import ConsumerRunner
    from .dlq import DeadLetterWriter
    from .errors import (
        AuthenticationError,
        AuthorizationError,
        ConfigError,
        FatalProducerError,
        ProducerFencedError,
        PublishBatchError,
        PublishError,
        RegistryError,
        RegistryUnavailableError,
        SchemabusError,
        ServerUnavailableError,
        TransactionAbortedError,
        TransactionError,
        TransactionOutcomeUnknownError,
        TransactionStateError,
    )
    from .kafka_bus import KafkaBus, ensure_topics
    from .registry_client import ConfluentRegistry
    from .retry import RetryableError, RetryPolicy
    from .transactions import Transaction

_LAZY = {
    "AuthenticationError": "errors",
    "AuthorizationError": "errors",
    "BusConfig": "config",
    "ConfigError": "errors",
    "ConfluentRegistry": "registry_client",
    "ConsumerRunner": "consumer",
    "DeadLetterWriter": "dlq",
    "FatalProducerError": "errors",
    "KafkaBus": "kafka_bus",
    "KafkaConfig": "config",
    "ProducerFencedError": "errors",
    "ProducerSettings": "config",
    "PublishBatchError": "errors",
    "PublishError": "errors",
    "RegistryConfig": "config",
    "RegistryError": "errors",
    "RegistryUnavailableError": "errors",
    "RetryPolicy": "retry",
    "RetryableError": "retry",
    "SchemabusError": "errors",
    "ServerUnavailableError": "errors",
    "Transaction": "transactions",
    "TransactionAbortedError": "errors",
    "TransactionError": "errors",
    "TransactionOutcomeUnknownError": "errors",
    "TransactionStateError": "errors",
    "ensure_topics": "kafka_bus",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "AvroSerde",
    "Bus",
    "BusConfig",
    "ConfigError",
    "ConfluentRegistry",
    "ConsumerRunner",
    "DeadLetterWriter",
    "DeliveryResult",
    "DeserializationError",
    "Event",
    "FatalProducerError",
    "FunctionHandler",
    "Handler",
    "Headers",
    "IdMode",
    "JsonSerde",
    "KafkaBus",
    "KafkaConfig",
    "NotConnectedError",
    "ProducerFencedError",
    "ProducerSettings",
    "PublishBatchError",
    "PublishError",
    "Publisher",
    "RecordCodec",
    "RegistryConfig",
    "RegistryError",
    "RegistryUnavailableError",
    "RetryPolicy",
    "RetryableError",
    "SchemaIds",
    "SchemaNotRegisteredError",
    "SchemaRegistry",
    "SchemaVersion",
    "SchemabusError",
    "Serde",
    "ServerUnavailableError",
    "StringSerde",
    "Topic",
    "Transaction",
    "TransactionAbortedError",
    "TransactionError",
    "TransactionOutcomeUnknownError",
    "TransactionStateError",
    "consumer_group",
    "ensure_topics",
]
