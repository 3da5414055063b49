"""The runtime's configuration: environment loading, secrets kept out of every text, and librdkafka
properties checked by librdkafka itself. No servers needed."""

from __future__ import annotations

import logging
import socket

import pytest
from pydantic import ValidationError

from schemabus.runtime.config import BusConfig, KafkaConfig, ProducerSettings, RegistryConfig
from schemabus.runtime.errors import ConfigError, PublishError, RegistryUnavailableError, SchemabusError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.registry_client import ConfluentRegistry
from schemabus.runtime.testing import InMemoryRegistry

SECRET = "correct-horse-battery-staple"

FULL_ENV = {
    "SCHEMABUS_BOOTSTRAP_SERVERS": " broker-1:9093,broker-2:9093 ",
    "SCHEMABUS_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "SCHEMABUS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "SCHEMABUS_KAFKA_SASL_USERNAME": "svc-orders",
    "SCHEMABUS_KAFKA_SASL_PASSWORD": SECRET,
    "SCHEMABUS_KAFKA_CLIENT_ID": "orders",
    "SCHEMABUS_KAFKA_EXTRA": "socket.keepalive.enable=true, metadata.max.age.ms=60000",
    "SCHEMABUS_REGISTRY_URL": "https://registry.example.com",
    "SCHEMABUS_REGISTRY_BASIC_AUTH_USER": "svc-orders",
    "SCHEMABUS_REGISTRY_BASIC_AUTH_PASSWORD": SECRET,
    "SCHEMABUS_REGISTRY_SCHEMA_IDS": "lookup",
    "SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": "orders.order.placed-value=3, *=latest",
    "SCHEMABUS_REGISTRY_MAX_RETRIES": "5",
    "SCHEMABUS_PRODUCER_LINGER_MS": "20",
    "SCHEMABUS_PRODUCER_COMPRESSION": "zstd",
    "SCHEMABUS_PRODUCER_BROKER_DOWN_TIMEOUT_MS": "none",
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- environment -------------------------------------------------------------------------------


def test_from_env_reads_every_documented_variable() -> None:
    config = BusConfig.from_env(FULL_ENV)
    assert config.kafka.bootstrap_servers == "broker-1:9093,broker-2:9093"
    assert (config.kafka.security_protocol, config.kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert config.kafka.sasl_password is not None and config.kafka.sasl_password.get_secret_value() == SECRET
    assert config.kafka.extra == {"socket.keepalive.enable": "true", "metadata.max.age.ms": "60000"}
    assert config.registry.schema_ids == "lookup" and config.registry.max_retries == 5
    assert config.registry.schema_versions == {"orders.order.placed-value": 3, "*": "latest"}
    assert config.producer.linger_ms == 20 and config.producer.compression == "zstd"
    assert config.producer.broker_down_timeout_ms is None
    conf = config.kafka.librdkafka_config()
    assert (
        conf["sasl.password"] == SECRET and conf["client.id"] == "orders" and conf["socket.keepalive.enable"] == "true"
    )
    assert config.registry.client_config()["basic.auth.user.info"] == f"svc-orders:{SECRET}"


def test_from_env_defaults_and_the_combined_basic_auth_variable() -> None:
    env = {
        "SCHEMABUS_BOOTSTRAP_SERVERS": "localhost:9092",
        "SCHEMABUS_REGISTRY_URL": "http://localhost:8081",
        "SCHEMABUS_REGISTRY_BASIC_AUTH": f"ci:{SECRET}",  # as `schemabus register` reads it
    }
    config = BusConfig.from_env(env)
    assert config.kafka.security_protocol == "PLAINTEXT" and config.registry.schema_ids == "register"
    assert config.registry.basic_auth_user == "ci"
    assert config.producer == ProducerSettings()
    assert (config.producer.acks, config.producer.enable_idempotence, config.producer.compression) == (
        "all",
        True,
        "lz4",
    )


@pytest.mark.parametrize("missing", ["SCHEMABUS_BOOTSTRAP_SERVERS", "SCHEMABUS_REGISTRY_URL"])
def test_a_missing_required_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in FULL_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=f"{missing} is not set"):
        BusConfig.from_env(env)


def test_an_invalid_variable_is_named_without_its_value() -> None:
    env = {**FULL_ENV, "SCHEMABUS_KAFKA_SECURITY_PROTOCOL": SECRET, "SCHEMABUS_PRODUCER_LINGER_MS": "soon"}
    with pytest.raises(ConfigError) as error:
        BusConfig.from_env(env)
    assert "SCHEMABUS_KAFKA_SECURITY_PROTOCOL" in str(error.value) and SECRET not in str(error.value)
    with pytest.raises(ConfigError, match="SCHEMABUS_PRODUCER_LINGER_MS"):
        ProducerSettings.from_env(env)
    with pytest.raises(ConfigError, match="SCHEMABUS_KAFKA_EXTRA: 'oops' is not name=value"):
        KafkaConfig.from_env({**FULL_ENV, "SCHEMABUS_KAFKA_EXTRA": "oops"})


# --- secrets -----------------------------------------------------------------------------------


def test_secrets_never_appear_in_repr_or_str() -> None:
    config = BusConfig.from_env(
        {
            **FULL_ENV,
            "SCHEMABUS_KAFKA_SSL_KEY_PASSWORD": SECRET,
            "SCHEMABUS_KAFKA_EXTRA": f"sasl.oauthbearer.client.secret={SECRET}",
        }
    )
    bearer = RegistryConfig(url="https://registry.example.com", bearer_token=SECRET)
    for text in (repr(config), str(config), repr(config.kafka), str(config.registry), repr(bearer), str(bearer)):
        assert SECRET not in text
    assert "sasl.oauthbearer.client.secret" in repr(config.kafka)  # the name stays, the value is masked


def test_credentials_in_the_registry_url_are_moved_out_of_it() -> None:
    config = RegistryConfig(url=f"https://ci:{SECRET}@registry.example.com:8081/apis/ccompat/v7")
    assert config.url == "https://registry.example.com:8081/apis/ccompat/v7"
    assert config.basic_auth_user == "ci"
    assert config.basic_auth_password is not None and config.basic_auth_password.get_secret_value() == SECRET
    assert SECRET not in repr(config) and SECRET not in repr(ConfluentRegistry(config))


def test_validation_errors_hide_their_input() -> None:
    with pytest.raises(ValidationError) as error:
        KafkaConfig(bootstrap_servers="localhost:9092", sasl_password=[SECRET])  # type: ignore[arg-type]
    assert "sasl_password" in str(error.value) and SECRET not in str(error.value)


def test_librdkafka_errors_are_redacted() -> None:
    # librdkafka quotes some invalid values in its message: a secret used as one must not leak.
    with pytest.raises(ConfigError) as error:
        KafkaConfig(
            bootstrap_servers="localhost:9092",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username="u",
            sasl_password=SECRET,
            extra={"compression.type": SECRET},
        )
    assert error.value.setting == "compression.type"
    assert "compression.type" in str(error.value) and SECRET not in str(error.value)


def test_registry_errors_carry_no_credentials() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    registry = ConfluentRegistry(
        RegistryConfig(url=url, basic_auth_user="ci", basic_auth_password=SECRET, max_retries=0)
    )
    with pytest.raises(RegistryUnavailableError) as error:
        registry.lookup_schema("orders-value", '{"type": "string"}', "AVRO")
    assert url in str(error.value) and SECRET not in str(error.value)


def test_publish_errors_and_logs_carry_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    import platform_events as m
    import platform_events as pe

    kafka = KafkaConfig(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="svc",
        sasl_password=SECRET,
    )
    caplog.set_level(logging.DEBUG)
    with KafkaBus(kafka, InMemoryRegistry(), producer=ProducerSettings(broker_down_timeout_ms=300)) as bus:
        event = m.AgentDeleted.model_validate({"agent_id": "6f1c0a3e-3f0e-4c57-9d2b-3d6f2f0d1a11", "deleted_at": 0})
        with pytest.raises(PublishError) as error:
            bus.publish_sync(pe.AGENT_LIFECYCLE_DELETED, event, key="a", timeout=30)
        assert SECRET not in repr(bus)
    assert error.value.code == "_ALL_BROKERS_DOWN"
    assert SECRET not in str(error.value) and SECRET not in caplog.text


# --- librdkafka properties ---------------------------------------------------------------------


def test_an_unknown_librdkafka_property_is_rejected_with_its_name() -> None:
    with pytest.raises(ConfigError) as error:
        KafkaConfig(bootstrap_servers="localhost:9092", extra={"socket.keepalive.enable": True, "lingr.ms": 5})
    assert error.value.setting == "lingr.ms"
    assert 'No such configuration property: "lingr.ms"' in str(error.value)
    assert isinstance(error.value, SchemabusError)


def test_an_invalid_value_names_the_property_as_spelled() -> None:
    # librdkafka reports the canonical name of an alias (queue.buffering.max.ms for linger.ms).
    with pytest.raises(ConfigError) as error:
        KafkaConfig(bootstrap_servers="localhost:9092", extra={"socket.timeout.ms": 1000, "linger.ms": "soon"})
    assert error.value.setting == "linger.ms" and "'linger.ms'" in str(error.value)


def test_extra_may_not_repeat_a_typed_setting() -> None:
    with pytest.raises(ConfigError, match="sasl_password"):
        KafkaConfig(bootstrap_servers="localhost:9092", extra={"sasl.password": SECRET})
    with pytest.raises(ConfigError, match="error_cb"):
        KafkaConfig(bootstrap_servers="localhost:9092", extra={"error_cb": "x"})
    kafka = KafkaConfig(bootstrap_servers=f"127.0.0.1:{closed_port()}", extra={"linger.ms": 100})
    with pytest.raises(ConfigError, match=r"ProducerSettings\.linger_ms"):
        KafkaBus(kafka, InMemoryRegistry())


def test_producer_settings() -> None:
    conf = ProducerSettings().librdkafka_config()
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True and conf["compression.type"] == "lz4"
    assert ProducerSettings(acks=-1).acks == "all"  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="enable_idempotence needs acks='all'"):
        ProducerSettings(acks="1")
    assert ProducerSettings(acks="1", enable_idempotence=False).librdkafka_config()["acks"] == "1"
    with pytest.raises(ConfigError, match="needs sasl_mechanism"):
        KafkaConfig(bootstrap_servers="localhost:9092", security_protocol="SASL_SSL")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SCHEMABUS_REGISTRY_SCHEMA_IDS": "lookup", "SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": "s-value=0"},
            "SCHEMA_VERSIONS",
        ),
        (
            {"SCHEMABUS_REGISTRY_SCHEMA_IDS": "lookup", "SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": "*=newest"},
            "SCHEMA_VERSIONS",
        ),
        (
            {"SCHEMABUS_REGISTRY_SCHEMA_IDS": "lookup", "SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": "latest"},
            "is not name=value",
        ),
        ({"SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": "*=latest"}, "in lookup mode only"),
    ],
)
def test_schema_versions_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RegistryConfig.from_env({"SCHEMABUS_REGISTRY_URL": "http://localhost:8081", **env})


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("SCHEMABUS_PRODUCER_LINGER_MSS", "SCHEMABUS_PRODUCER_LINGER_MS"),
        ("SCHEMABUS_KAFKA_SASL_USERNAM", "SCHEMABUS_KAFKA_SASL_USERNAME"),
        ("SCHEMABUS_REGISTRY_BASIC_AUTH_USR", "SCHEMABUS_REGISTRY_BASIC_AUTH_USER"),
        ("SCHEMABUS_CONSUMER_MAX_INFLIGHT", "SCHEMABUS_CONSUMER_MAX_IN_FLIGHT"),
    ],
)
def test_a_misspelled_variable_is_refused_with_the_name_it_probably_meant(variable: str, suggestion: str) -> None:
    from schemabus.runtime.config import ConsumerConfig

    env = {"SCHEMABUS_BOOTSTRAP_SERVERS": "k:9092", "SCHEMABUS_REGISTRY_URL": "http://r:8081", variable: "secret-ish"}
    with pytest.raises(
        ConfigError, match=f"^{variable} is not a schemabus setting \\(did you mean {suggestion}"
    ) as info:
        (ConsumerConfig if "CONSUMER" in variable else BusConfig).from_env(env)
    assert info.value.setting == variable
    assert "secret-ish" not in str(info.value)


def test_a_variable_nothing_resembles_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"SCHEMABUS_PRODUCER_COLOUR is not a schemabus setting \(known: .*SCHEMABUS_PRODUCER_ACKS"
    ):
        ProducerSettings.from_env({"SCHEMABUS_PRODUCER_COLOUR": "blue"})
