"""ConsumerSettings and the consumer runner's configuration: defaults, validation, the environment,
and the librdkafka check when a runner is made. No servers needed."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
from pydantic import ValidationError

import platform_events as pe
from schemabus.runtime import Event
from schemabus.runtime.config import ConsumerConfig, ConsumerSettings, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.errors import ConfigError
from schemabus.runtime.kafka import KafkaBus
from schemabus.runtime.testing import InMemoryRegistry

SECRET = "correct-horse-battery-staple"

ENV = {
    "SCHEMABUS_BOOTSTRAP_SERVERS": "broker-1:9092",
    "SCHEMABUS_KAFKA_CLIENT_ID": "billing",
    "SCHEMABUS_REGISTRY_URL": "http://registry.example.com:8081",
    "SCHEMABUS_REGISTRY_SCHEMA_IDS": "lookup",
    "SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": "*=latest",
    "SCHEMABUS_CONSUMER_MAX_IN_FLIGHT": "50",
    "SCHEMABUS_CONSUMER_COMMIT_INTERVAL": "2.5",
    "SCHEMABUS_CONSUMER_SESSION_TIMEOUT_MS": "10000",
    "SCHEMABUS_CONSUMER_AUTO_OFFSET_RESET": "latest",
}


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _handler(name: str = "record") -> Any:
    async def record(event: Event[str, pe.AgentCreated]) -> None:
        pass

    return pe.AGENT_LIFECYCLE_CREATED.handler(name=name)(record)


def _runner(**kwargs: Any) -> ConsumerRunner:
    config = kwargs.pop("config", _closed_port())
    return ConsumerRunner(config, InMemoryRegistry(), [_handler()], **kwargs)


# --- the model -------------------------------------------------------------------------------------


def test_the_defaults_are_the_runners() -> None:
    settings = ConsumerSettings()
    assert (settings.max_in_flight, settings.commit_interval, settings.poll_timeout) == (1000, 0.5, 0.2)
    assert (settings.backpressure_wait, settings.revoke_timeout, settings.shutdown_timeout) == (1.0, 15.0, 30.0)
    assert settings.librdkafka_config() == {
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "queued.max.messages.kbytes": 16384,
        "queued.min.messages": 20000,
        "fetch.queue.backoff.ms": 20,
    }
    runner = _runner()
    assert runner.settings == settings and runner.max_in_flight == 1000 and runner.shutdown_timeout == 30.0
    conf = runner.consumer_config(runner.handlers[0])
    assert conf["auto.offset.reset"] == "earliest" and conf["queued.max.messages.kbytes"] == 16384
    assert conf["enable.auto.commit"] is False and conf["enable.auto.offset.store"] is False


def test_typed_properties_reach_the_consumer_configuration() -> None:
    settings = ConsumerSettings(
        session_timeout_ms=10_000,
        heartbeat_interval_ms=2_000,
        max_poll_interval_ms=60_000,
        fetch_max_bytes=10_000_000,
        max_partition_fetch_bytes=2_000_000,
        auto_offset_reset="smallest",  # type: ignore[arg-type]  # librdkafka's synonym
        isolation_level="read_uncommitted",
    )
    runner = _runner(settings=settings)
    conf = runner.consumer_config(runner.handlers[0])
    assert conf["auto.offset.reset"] == "earliest"
    assert (conf["session.timeout.ms"], conf["heartbeat.interval.ms"], conf["max.poll.interval.ms"]) == (
        10_000,
        2_000,
        60_000,
    )
    assert (conf["fetch.max.bytes"], conf["max.partition.fetch.bytes"]) == (10_000_000, 2_000_000)
    assert conf["isolation.level"] == "read_uncommitted"


@pytest.mark.parametrize(
    "values",
    [
        {"max_in_flight": 0},
        {"commit_interval": 0},
        {"poll_timeout": -1},
        {"auto_offset_reset": "sometime"},
        {"session_timeout_ms": 0},
        {"isolation_level": "read_everything"},
        {"sesion_timeout_ms": 6000},  # a misspelt field
    ],
)
def test_invalid_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ConsumerSettings(**values)


def test_timeouts_are_checked_against_each_other() -> None:
    with pytest.raises(ConfigError, match=r"max_poll_interval_ms \(5000\) must be >= session_timeout_ms") as error:
        ConsumerSettings(session_timeout_ms=6_000, max_poll_interval_ms=5_000)
    assert error.value.setting == "max_poll_interval_ms"
    with pytest.raises(ConfigError, match="heartbeat_interval_ms"):
        ConsumerSettings(session_timeout_ms=6_000, heartbeat_interval_ms=6_000)
    assert ConsumerSettings(session_timeout_ms=6_000, max_poll_interval_ms=6_000, heartbeat_interval_ms=2_000)


# --- the environment -----------------------------------------------------------------------------


def test_from_env_reads_the_consumer_variables() -> None:
    settings = ConsumerSettings.from_env(ENV)
    assert (settings.max_in_flight, settings.commit_interval) == (50, 2.5)
    assert (settings.session_timeout_ms, settings.auto_offset_reset) == (10_000, "latest")
    assert settings.poll_timeout == 0.2  # not set: the default
    assert ConsumerSettings.from_env({}) == ConsumerSettings()
    config = ConsumerConfig.from_env(ENV)
    assert config.consumer == settings
    assert config.kafka.bootstrap_servers == "broker-1:9092" and config.registry.schema_ids == "lookup"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCHEMABUS_CONSUMER_MAX_IN_FLIGHT", "lots"),
        ("SCHEMABUS_CONSUMER_MAX_IN_FLIGHT", "0"),
        ("SCHEMABUS_CONSUMER_AUTO_OFFSET_RESET", SECRET),
        ("SCHEMABUS_CONSUMER_SHUTDOWN_TIMEOUT", "-1"),
    ],
)
def test_an_invalid_variable_is_named_without_its_value(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        ConsumerSettings.from_env({**ENV, variable: value})
    assert variable in str(error.value) and error.value.setting == variable
    assert value not in str(error.value)
    with pytest.raises(ConfigError, match=variable):
        ConsumerRunner.from_env([_handler()], environ={**ENV, variable: value}, registry=InMemoryRegistry())


def test_kafka_extra_may_not_set_consumer_properties() -> None:
    with pytest.raises(ConfigError, match=r"ConsumerSettings\.session_timeout_ms") as error:
        ConsumerConfig.from_env({**ENV, "SCHEMABUS_KAFKA_EXTRA": "session.timeout.ms=6000"})
    assert error.value.setting == "session.timeout.ms"
    with pytest.raises(ConfigError, match=re.escape("'enable.auto.commit' is set by the consumer runner")):
        ConsumerConfig.from_env({**ENV, "SCHEMABUS_KAFKA_EXTRA": "enable.auto.commit=true"})


def test_a_runner_from_env() -> None:
    runner = ConsumerRunner.from_env([_handler()], environ=ENV, registry=InMemoryRegistry(), service="billing")
    assert runner.settings == ConsumerSettings.from_env(ENV)
    assert (runner.max_in_flight, runner.commit_interval) == (50, 2.5)
    assert runner.config["bootstrap.servers"] == "broker-1:9092" and runner.config["client.id"] == "billing"
    conf = runner.consumer_config(runner.handlers[0])
    assert conf["group.id"] == "billing.agent.lifecycle.created.record"
    assert (conf["session.timeout.ms"], conf["auto.offset.reset"]) == (10_000, "latest")
    with pytest.raises(ConfigError, match="SCHEMABUS_BOOTSTRAP_SERVERS is not set"):
        ConsumerRunner.from_env(environ={k: v for k, v in ENV.items() if k != "SCHEMABUS_BOOTSTRAP_SERVERS"})


def test_a_runner_from_env_looks_schema_ids_up_in_the_configured_registry() -> None:
    runner = ConsumerRunner.from_env(
        environ={**ENV, "SCHEMABUS_REGISTRY_SCHEMA_IDS": "register", "SCHEMABUS_REGISTRY_SCHEMA_VERSIONS": ""}
    )
    assert runner.codec.ids.mode == "lookup" and runner.codec.ids.versions == {}
    pinned = ConsumerRunner.from_env(environ=ENV)
    assert pinned.codec.ids.mode == "lookup" and pinned.codec.ids.versions == {"*": "latest"}


# --- the librdkafka check when a runner is made ------------------------------------------------


def test_an_unknown_property_is_refused_when_the_runner_is_made() -> None:
    with pytest.raises(ConfigError) as error:
        _runner(extra_config={"socket.keepalive.enable": True, "sesion.timeout.ms": 6000})
    assert error.value.setting == "sesion.timeout.ms"
    assert 'No such configuration property: "sesion.timeout.ms"' in str(error.value)
    with pytest.raises(ConfigError, match=re.escape("'fetch.wait.max.ms'")):
        _runner(config={"bootstrap.servers": _closed_port(), "fetch.wait.max.ms": "soon"})


def test_the_configuration_is_checked_as_a_consumer_s() -> None:
    # librdkafka compares these two for a consumer only: a producer would accept them.
    with pytest.raises(ConfigError, match=re.escape("must be >= `session.timeout.ms`")) as error:
        _runner(extra_config={"max.poll.interval.ms": 1000})
    assert error.value.setting == "max.poll.interval.ms"


def test_secrets_are_redacted_from_the_check() -> None:
    config = {
        "bootstrap.servers": _closed_port(),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "svc",
        "sasl.password": SECRET,
    }
    with pytest.raises(ConfigError) as error:
        _runner(config=config, extra_config={"client.rack": 1, "compression.type": SECRET})
    assert error.value.setting == "compression.type" and SECRET not in str(error.value)


def test_extra_config_properties_of_the_settings_are_read_into_them() -> None:
    runner = _runner(extra_config={"session.timeout.ms": "6000", "auto.offset.reset": "latest"})
    assert (runner.settings.session_timeout_ms, runner.settings.auto_offset_reset) == (6000, "latest")
    assert runner.consumer_config(runner.handlers[0])["session.timeout.ms"] == 6000
    # A typed property is validated as the field: named by where it came from.
    with pytest.raises(ConfigError, match=re.escape("extra_config property 'auto.offset.reset'")) as error:
        _runner(extra_config={"auto.offset.reset": "sometime"})
    assert error.value.setting == "auto.offset.reset"
    with pytest.raises(ConfigError, match=re.escape("config property 'session.timeout.ms'")) as error:
        _runner(config={"bootstrap.servers": _closed_port(), "session.timeout.ms": "soon"})
    assert error.value.setting == "session.timeout.ms"


def test_a_typed_property_may_not_be_set_twice() -> None:
    settings = ConsumerSettings(session_timeout_ms=10_000)
    with pytest.raises(ConfigError, match=r"ConsumerSettings\.session_timeout_ms too") as error:
        _runner(settings=settings, extra_config={"session.timeout.ms": 6000})
    assert error.value.setting == "session.timeout.ms"
    with pytest.raises(ConfigError, match=r"ConsumerSettings\.max_partition_fetch_bytes"):  # an alias
        _runner(
            settings=ConsumerSettings(max_partition_fetch_bytes=1 << 20),
            config={"bootstrap.servers": _closed_port(), "fetch.message.max.bytes": 1 << 21},
        )
    # Another property of the same settings is fine.
    runner = _runner(settings=settings, extra_config={"max.poll.interval.ms": 60_000})
    assert (runner.settings.session_timeout_ms, runner.settings.max_poll_interval_ms) == (10_000, 60_000)


@pytest.mark.parametrize(
    ("where", "name", "value"),
    [
        ("extra_config", "enable.auto.commit", True),
        ("extra_config", "enable.auto.offset.store", "true"),
        ("config", "group.id", "mine"),
        ("extra_config", "group.id", "mine"),
    ],
)
def test_the_runners_own_properties_may_not_be_changed(where: str, name: str, value: Any) -> None:
    conf = {name: value}
    kwargs: dict[str, Any] = (
        {"extra_config": conf} if where == "extra_config" else {"config": {"bootstrap.servers": _closed_port(), **conf}}
    )
    with pytest.raises(ConfigError, match=re.escape(f"{where}: '{name}' is set by the runner")) as error:
        _runner(**kwargs)
    assert error.value.setting == name


def test_the_runners_own_values_may_be_repeated() -> None:
    runner = _runner(extra_config={"enable.auto.commit": "false", "enable.auto.offset.store": False})
    assert runner.consumer_config(runner.handlers[0])["enable.auto.commit"] is False


def test_keyword_arguments_override_the_settings() -> None:
    settings = ConsumerSettings(max_in_flight=10, commit_interval=2.0, revoke_timeout=5.0)
    runner = _runner(settings=settings, max_in_flight=5, poll_timeout=1.0)
    assert (runner.max_in_flight, runner.commit_interval, runner.poll_timeout) == (5, 2.0, 1.0)
    assert (runner.settings.max_in_flight, runner.settings.revoke_timeout) == (5, 5.0)
    assert settings.max_in_flight == 10  # not changed in place
    with pytest.raises(ConfigError, match="commit_interval") as error:
        _runner(commit_interval=0)
    assert error.value.setting == "commit_interval"
    with pytest.raises(ValueError, match="max_in_flight must be >= 1"):
        _runner(settings=settings, max_in_flight=0)


def test_an_exactly_once_runner_reads_committed_records_only() -> None:
    bus = KafkaBus(_closed_port(), InMemoryRegistry(), producer=ProducerSettings(transactional_id="eos-settings"))
    try:
        with pytest.raises(ConfigError, match="isolation_level must be read_committed"):
            _runner(settings=ConsumerSettings(isolation_level="read_uncommitted"), exactly_once=bus)
        with pytest.raises(ConfigError, match="isolation_level"):
            _runner(extra_config={"isolation.level": "read_uncommitted"}, exactly_once=bus)
        runner = _runner(exactly_once=bus)
        assert runner.consumer_config(runner.handlers[0])["isolation.level"] == "read_committed"
    finally:
        bus.close_sync(1)


def test_static_membership_and_the_consumer_group_protocol_reach_librdkafka() -> None:
    from schemabus.runtime.config import ConsumerSettings

    static = ConsumerSettings(instance_id="pod-3").librdkafka_config()
    assert static["group.instance.id"] == "pod-3"
    assert static["partition.assignment.strategy"] == "cooperative-sticky"
    kip848 = ConsumerSettings(group_protocol="consumer").librdkafka_config()
    assert kip848["group.protocol"] == "consumer"
    assert "partition.assignment.strategy" not in kip848  # librdkafka refuses it with this protocol


@pytest.mark.parametrize(
    ("settings", "setting"),
    [
        ({"session_timeout_ms": 6000}, "session_timeout_ms"),
        ({"heartbeat_interval_ms": 1000}, "heartbeat_interval_ms"),
        ({"partition_assignment_strategy": "range"}, "partition_assignment_strategy"),
    ],
)
def test_the_consumer_group_protocol_refuses_the_classic_protocols_settings(
    settings: dict[str, object], setting: str
) -> None:
    from schemabus.runtime.config import ConsumerSettings
    from schemabus.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match=r"ConsumerSettings: .*group_protocol='consumer'") as info:
        ConsumerSettings(group_protocol="consumer", **settings)  # type: ignore[arg-type]
    assert info.value.setting == setting
