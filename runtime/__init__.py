"""The schemabus runtime: the public API generated code imports, bound to a bus at run time.

Generated packages import only the names listed in ``__all__`` here and the Avro building blocks
of :mod:`schemabus.runtime.avro`; a bus (in-memory for tests, Kafka in production) is chosen by
the application, so generated code never changes between the two.
"""

from .bus import Bus, RecordCodec
from .handler import FunctionHandler, Handler, consumer_group
from .publisher import NotConnectedError, Publisher
from .registry import IdMode, SchemaIds, SchemaNotRegisteredError, SchemaRegistry
from .serde import AvroSerde, DeserializationError, JsonSerde, Serde, StringSerde
from .topic import DeliveryResult, Event, Headers, Topic

__all__ = [
    "AvroSerde",
    "Bus",
    "DeliveryResult",
    "DeserializationError",
    "Event",
    "FunctionHandler",
    "Handler",
    "Headers",
    "IdMode",
    "JsonSerde",
    "NotConnectedError",
    "Publisher",
    "RecordCodec",
    "SchemaIds",
    "SchemaNotRegisteredError",
    "SchemaRegistry",
    "Serde",
    "StringSerde",
    "Topic",
    "consumer_group",
]
