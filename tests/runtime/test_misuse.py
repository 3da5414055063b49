"""What the runtime says when it is used wrongly or given values it cannot write: configuration that
cannot work, values out of an Avro type's range, keys for topics without a key schema, tombstones,
handlers without ``handle``. No servers needed."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import pickle
from decimal import Decimal

import pytest

import platform_events as pe
from schemabus.runtime import RecordCodec, SchemaIds
from schemabus.runtime import avro as rt
from schemabus.runtime.config import KafkaConfig, RegistryConfig
from schemabus.runtime.errors import ConfigError, PublishBatchError, PublishError
from schemabus.runtime.handler import Handler
from schemabus.runtime.serde import DeserializationError
from schemabus.runtime.testing import InMemoryBus, InMemoryRegistry


def test_registry_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        RegistryConfig(url="ftp://registry.example.com")
    with pytest.raises(ConfigError, match="basic auth or a bearer token, not both"):
        RegistryConfig(url="https://r.example.com", basic_auth_user="u", basic_auth_password="p", bearer_token="t")
    with pytest.raises(ConfigError, match="basic auth needs both a user and a password"):
        RegistryConfig(url="https://r.example.com", basic_auth_user="u")
    with pytest.raises(ConfigError, match="BASIC_AUTH must be user:password"):
        RegistryConfig.from_env(
            {"SCHEMABUS_REGISTRY_URL": "https://r.example.com", "SCHEMABUS_REGISTRY_BASIC_AUTH": "u"}
        )


def test_a_bearer_token_and_a_ca_reach_the_registry_client() -> None:
    config = RegistryConfig(
        url="https://r.example.com", bearer_token="t0k3n", bearer_logical_cluster="lsrc-1", ssl_ca_location="/ca.pem"
    )
    conf = config.client_config()
    assert conf["bearer.auth.credentials.source"] == "STATIC_TOKEN" and conf["bearer.auth.token"] == "t0k3n"
    assert conf["bearer.auth.logical.cluster"] == "lsrc-1" and conf["ssl.ca.location"] == "/ca.pem"
    assert "t0k3n" not in repr(config)


def test_bootstrap_servers_may_be_a_list() -> None:
    assert KafkaConfig(bootstrap_servers=[" b1:9092", "b2:9092 "]).bootstrap_servers == "b1:9092,b2:9092"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal("1.234"), "more than 2 decimal places"),
        (Decimal("12345.6"), "more than 5 digits"),
        (Decimal("NaN"), "cannot be encoded as an Avro decimal"),
        (Decimal("Infinity"), "cannot be encoded as an Avro decimal"),
    ],
)
def test_decimals_an_avro_decimal_cannot_hold_are_refused(value: Decimal, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rt.decimal_to_bytes(value, 2, 5)


def test_decimals_round_trip_beyond_the_default_precision_and_overflow_a_small_fixed() -> None:
    wide = Decimal("1234567890123456789012345678901234.56")  # 36 digits: more than decimal's default 28
    assert rt.decimal_from_bytes(rt.decimal_to_bytes(wide, 2, 38), 2, 38) == wide
    with pytest.raises(ValueError, match=r"does not fit in fixed\(2\)"):
        rt.decimal_to_fixed(Decimal("99999.99"), 2, 9, 2)


def test_timestamps_need_a_timezone() -> None:
    naive = dt.datetime(2026, 11, 28, 12, 0)
    for convert in (rt.timestamp_to_micros, rt.timestamp_to_millis):
        with pytest.raises(ValueError, match="a timestamp needs a timezone"):
            convert(naive)


def test_keys_for_a_topic_without_a_key_schema_and_tombstones_are_refused() -> None:
    keyless = dataclasses.replace(pe.AGENT_LIFECYCLE_CREATED, key=None)
    codec = RecordCodec(SchemaIds(InMemoryRegistry()))
    with pytest.raises(TypeError, match="has no key schema; publish without a key"):
        codec.encode_key(keyless, "a")
    assert codec.encode_key(keyless, None) is None
    with pytest.raises(DeserializationError, match="a tombstone") as info:
        codec.decode_value(pe.AGENT_LIFECYCLE_CREATED, None)
    assert info.value.reason == "invalid-payload"

    class KeylessPublisher(pe.AgentLifecycleCreatedPublisher):
        topic = keyless

    publisher = KeylessPublisher()
    publisher.connect(InMemoryBus())
    with pytest.raises(TypeError, match="has no key schema; publish without a key"):
        asyncio.run(publisher.publish(pe.AgentCreated.model_construct(), key="a"))


def test_a_handler_class_without_handle_says_so() -> None:
    class Forgetful(Handler[str, pe.AgentCreated]):
        topic = pe.AGENT_LIFECYCLE_CREATED

    with pytest.raises(NotImplementedError, match=r"Forgetful\.handle is not implemented"):
        asyncio.run(Forgetful()(None))  # type: ignore[arg-type]


def test_a_batch_error_names_at_least_one_record_and_survives_pickling() -> None:
    with pytest.raises(ValueError, match="at least one failed record"):
        PublishBatchError("orders", {}, 3)
    error = PublishBatchError("orders", {2: PublishError("orders", "refused", retriable=True)}, 3)
    moved = error.for_topic("billing")
    assert isinstance(moved, PublishBatchError) and moved.topic == "billing" and moved.delivered == 2
    restored = pickle.loads(pickle.dumps(error))
    assert restored.failed.keys() == {2} and restored.total == 3 and restored.retriable
    assert repr(pe.AGENT_LIFECYCLE_CREATED) == "Topic('agent.lifecycle.created')"
