"""The schemabus runtime: the public API generated code imports, bound to a bus at run time.

Generated packages import only the names listed in ``__all__`` here and the Avro building blocks
of :mod:`schemabus.runtime.avro`; a bus (in-memory for tests, Kafka in production) is chosen by
the application, so generated code never changes between the two.

Every name is loaded on first use, from the module that defines it: generated code and the
in-memory bus never load the Kafka side (``KafkaBus``, ``ConsumerRunner``, configuration), which pulls
in confluent-kafka's clients, and a program that needs only :mod:`schemabus.runtime.errors` (the
``schemabus`` command) loads neither pydantic nor fastavro.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real names; at run time they load on first use
    from .bus import Bus, RecordCodec
    from .config import BusConfig, ConsumerConfig, ConsumerSettings, KafkaConfig, ProducerSettings, RegistryConfig
    from .consumer import ConsumerRunner
    from .dlq import DeadLetterWriter
    from .errors import (
        AuthenticationError,
        AuthorizationError,
        ConfigError,
        FatalProducerError,
        IncompatibleSchemaError,
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
    from .handler import BatchFailedError, BatchHandler, FunctionBatchHandler, FunctionHandler, Handler, consumer_group
    from .kafka import KafkaBus, ensure_topics
    from .publisher import NotConnectedError, Publisher
    from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaRegistry, SchemaVersion
    from .registry_client import ConfluentRegistry
    from .retry import RetryableError, RetryPolicy
    from .serde import AvroSerde, DeserializationError, JsonSerde, Serde, StringSerde
    from .topic import DeliveryResult, Event, Headers, Topic
    from .transactions import Transaction

_LAZY = {
    "AuthenticationError": "errors",
    "AuthorizationError": "errors",
    "AvroSerde": "serde",
    "BatchFailedError": "handler",
    "BatchHandler": "handler",
    "Bus": "bus",
    "BusConfig": "config",
    "ConfigError": "errors",
    "ConfluentRegistry": "registry_client",
    "ConsumerConfig": "config",
    "ConsumerRunner": "consumer",
    "ConsumerSettings": "config",
    "DeadLetterWriter": "dlq",
    "DeliveryResult": "topic",
    "DeserializationError": "serde",
    "Event": "topic",
    "FatalProducerError": "errors",
    "FunctionBatchHandler": "handler",
    "FunctionHandler": "handler",
    "Handler": "handler",
    "Headers": "topic",
    "IdMode": "registry",
    "IncompatibleSchemaError": "errors",
    "JsonSerde": "serde",
    "KafkaBus": "kafka",
    "KafkaConfig": "config",
    "NotConnectedError": "publisher",
    "ProducerFencedError": "errors",
    "ProducerSettings": "config",
    "PublishBatchError": "errors",
    "PublishError": "errors",
    "Publisher": "publisher",
    "RecordCodec": "bus",
    "RegistryConfig": "config",
    "RegistryError": "errors",
    "RegistryUnavailableError": "errors",
    "RetryPolicy": "retry",
    "RetryableError": "retry",
    "SchemaIds": "registry",
    "SchemaNotRegisteredError": "registry",
    "SchemaRegistry": "registry",
    "SchemaVersion": "registry",
    "SchemabusError": "errors",
    "Serde": "serde",
    "ServerUnavailableError": "errors",
    "StringSerde": "serde",
    "Topic": "topic",
    "Transaction": "transactions",
    "TransactionAbortedError": "errors",
    "TransactionError": "errors",
    "TransactionOutcomeUnknownError": "errors",
    "TransactionStateError": "errors",
    "consumer_group": "handler",
    "ensure_topics": "kafka",
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
    "BatchFailedError",
    "BatchHandler",
    "Bus",
    "BusConfig",
    "ConfigError",
    "ConfluentRegistry",
    "ConsumerConfig",
    "ConsumerRunner",
    "ConsumerSettings",
    "DeadLetterWriter",
    "DeliveryResult",
    "DeserializationError",
    "Event",
    "FatalProducerError",
    "FunctionBatchHandler",
    "FunctionHandler",
    "Handler",
    "Headers",
    "IdMode",
    "IncompatibleSchemaError",
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
