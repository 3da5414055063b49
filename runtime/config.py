"""Typed configuration of the Kafka runtime: the cluster, the schema registry, the producer and the consumer.

Build the models in code, or read them from the environment with ``from_env()``:

- ``SCHEMABUS_BOOTSTRAP_SERVERS`` (required): ``KafkaConfig.bootstrap_servers``, ``host:port,...``
- ``SCHEMABUS_KAFKA_SECURITY_PROTOCOL``: ``PLAINTEXT`` (default), ``SSL``, ``SASL_PLAINTEXT``, ``SASL_SSL``
- ``SCHEMABUS_KAFKA_SASL_MECHANISM``: ``PLAIN``, ``SCRAM-SHA-256``, ``SCRAM-SHA-512``, ``OAUTHBEARER``, ``GSSAPI``
- ``SCHEMABUS_KAFKA_SASL_USERNAME``, ``SCHEMABUS_KAFKA_SASL_PASSWORD`` (secret)
- ``SCHEMABUS_KAFKA_SSL_CA_LOCATION``, ``SCHEMABUS_KAFKA_SSL_CERTIFICATE_LOCATION``,
  ``SCHEMABUS_KAFKA_SSL_KEY_LOCATION``, ``SCHEMABUS_KAFKA_SSL_KEY_PASSWORD`` (secret)
- ``SCHEMABUS_KAFKA_CLIENT_ID``: ``client.id`` (default ``schemabus``)
- ``SCHEMABUS_KAFKA_EXTRA``: other librdkafka properties, ``name=value,name=value``
- ``SCHEMABUS_REGISTRY_URL`` (required): ``RegistryConfig.url``, e.g. ``http://host:8081``
- ``SCHEMABUS_REGISTRY_BASIC_AUTH_USER``, ``SCHEMABUS_REGISTRY_BASIC_AUTH_PASSWORD`` (secret), or
  ``SCHEMABUS_REGISTRY_BASIC_AUTH=user:password`` as ``schemabus register`` reads it
- ``SCHEMABUS_REGISTRY_BEARER_TOKEN`` (secret), ``SCHEMABUS_REGISTRY_BEARER_LOGICAL_CLUSTER``
- ``SCHEMABUS_REGISTRY_SCHEMA_IDS``: ``register`` (default: register on first use) or ``lookup`` (only
  look schemas up: production, where CI registered them)
- ``SCHEMABUS_REGISTRY_SCHEMA_VERSIONS``: in lookup mode, the version to look subjects up as,
  ``subject=version,...`` with a number or ``latest``; ``*`` stands for every subject not listed
- ``SCHEMABUS_REGISTRY_SSL_CA_LOCATION``, ``SCHEMABUS_REGISTRY_TIMEOUT_S``,
  ``SCHEMABUS_REGISTRY_MAX_RETRIES``, ``SCHEMABUS_REGISTRY_RETRY_BACKOFF_MS``,
  ``SCHEMABUS_REGISTRY_RETRY_BACKOFF_MAX_MS``, ``SCHEMABUS_REGISTRY_RETRY_TIMEOUT_S`` (retry for this
  many seconds instead of ``MAX_RETRIES`` times)
- ``SCHEMABUS_PRODUCER_<FIELD>``: any :class:`ProducerSettings` field, e.g. ``SCHEMABUS_PRODUCER_LINGER_MS``,
  ``SCHEMABUS_PRODUCER_BROKER_DOWN_TIMEOUT_MS`` (``none`` to wait for the delivery timeout instead),
  ``SCHEMABUS_PRODUCER_TRANSACTIONAL_ID`` (a transactional bus: see :meth:`KafkaBus.transaction`)
- ``SCHEMABUS_CONSUMER_<FIELD>``: any :class:`ConsumerSettings` field, e.g. ``SCHEMABUS_CONSUMER_MAX_IN_FLIGHT``,
  ``SCHEMABUS_CONSUMER_SESSION_TIMEOUT_MS``, ``SCHEMABUS_CONSUMER_AUTO_OFFSET_RESET``

Secrets are ``SecretStr``: they never appear in ``repr``/``str``, in validation errors (inputs are
hidden) or in :class:`~schemabus.runtime.errors.ConfigError` messages. librdkafka properties in
``KafkaConfig.extra`` are checked against librdkafka when the model is built: an unknown name or an
invalid value raises ``ConfigError`` naming the property.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .registry import IdMode

__all__ = [
    "ENV_BOOTSTRAP",
    "ENV_REGISTRY",
    "BusConfig",
    "ConsumerConfig",
    "ConsumerSettings",
    "KafkaConfig",
    "ProducerSettings",
    "RegistryConfig",
    "TopicCheck",
    "redact",
]

ENV_BOOTSTRAP = "SCHEMABUS_BOOTSTRAP_SERVERS"
ENV_REGISTRY = "SCHEMABUS_REGISTRY_URL"
_KAFKA_PREFIX = "SCHEMABUS_KAFKA_"
_REGISTRY_PREFIX = "SCHEMABUS_REGISTRY_"
_PRODUCER_PREFIX = "SCHEMABUS_PRODUCER_"
_CONSUMER_PREFIX = "SCHEMABUS_CONSUMER_"

ExtraValue = str | int | float | bool
_TRANSACTION_TIMEOUT_MS = 60_000  # librdkafka's transaction.timeout.ms

# librdkafka properties whose values are secrets (masked in repr and error messages).
_SECRET_PROPERTY = re.compile(r"password|secret|token|\.pem$|jaas|oauthbearer\.config", re.IGNORECASE)
# Properties set by typed fields: `extra` may not set them too (one place per setting).
_TYPED_KAFKA_PROPERTIES = {
    "bootstrap.servers": "bootstrap_servers",
    "metadata.broker.list": "bootstrap_servers",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_username",
    "sasl.password": "sasl_password",
    "ssl.ca.location": "ssl_ca_location",
    "ssl.certificate.location": "ssl_certificate_location",
    "ssl.key.location": "ssl_key_location",
    "ssl.key.password": "ssl_key_password",
    "client.id": "client_id",
}
TYPED_PRODUCER_PROPERTIES = {
    "acks": "acks",
    "request.required.acks": "acks",
    "enable.idempotence": "enable_idempotence",
    "linger.ms": "linger_ms",
    "queue.buffering.max.ms": "linger_ms",
    "batch.size": "batch_size",
    "batch.num.messages": "batch_num_messages",
    "compression.type": "compression",
    "compression.codec": "compression",
    "delivery.timeout.ms": "delivery_timeout_ms",
    "message.timeout.ms": "delivery_timeout_ms",
    "queue.buffering.max.messages": "queue_max_messages",
    "queue.buffering.max.kbytes": "queue_max_kbytes",
    "transactional.id": "transactional_id",
    "transaction.timeout.ms": "transaction_timeout_ms",
}
TYPED_CONSUMER_PROPERTIES = {
    "auto.offset.reset": "auto_offset_reset",
    "session.timeout.ms": "session_timeout_ms",
    "heartbeat.interval.ms": "heartbeat_interval_ms",
    "max.poll.interval.ms": "max_poll_interval_ms",
    "fetch.max.bytes": "fetch_max_bytes",
    "max.partition.fetch.bytes": "max_partition_fetch_bytes",
    "fetch.message.max.bytes": "max_partition_fetch_bytes",
    "queued.max.messages.kbytes": "queued_max_messages_kbytes",
    "queued.min.messages": "queued_min_messages",
    "fetch.queue.backoff.ms": "fetch_queue_backoff_ms",
    "partition.assignment.strategy": "partition_assignment_strategy",
    "isolation.level": "isolation_level",
    "group.instance.id": "instance_id",
    "group.protocol": "group_protocol",
}
# Consumer properties the ConsumerRunner sets itself, with what it sets them to (None: its own value
# per consumer) and why: its at-least-once commits depend on them.
RUNNER_CONSUMER_PROPERTIES: dict[str, tuple[bool | None, str]] = {
    "group.id": (None, "each handler has its own group: consumer_group(handler, service)"),
    "enable.auto.commit": (False, "the runner commits the offsets of finished records itself"),
    "auto.commit.enable": (False, "the runner commits the offsets of finished records itself"),
    "enable.auto.offset.store": (False, "the runner stores the offsets of finished records itself"),
}
# Callbacks and handles the runtime installs itself.
_RESERVED_PROPERTIES = {"error_cb", "on_delivery", "stats_cb", "throttle_cb", "logger", "oauth_cb", "log_cb"}

M = TypeVar("M", bound=BaseModel)

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def secret_values(conf: Mapping[str, Any]) -> list[str]:
    """The secret values of a librdkafka configuration (passwords, tokens, keys), to :func:`redact`."""
    return [str(v) for k, v in conf.items() if v and isinstance(v, str | bytes) and _SECRET_PROPERTY.search(k)]


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class KafkaConfig(BaseModel):
    """Where the cluster is and how to authenticate: the settings every client (producer, consumer,
    admin) shares. ``extra`` holds any other librdkafka property (validated against librdkafka)."""

    model_config = _MODEL_CONFIG

    bootstrap_servers: str = Field(min_length=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    client_id: str = "schemabus"
    extra: dict[str, ExtraValue] = Field(default_factory=dict)

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _join_servers(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ",".join(str(v).strip() for v in value)
        return value.strip() if isinstance(value, str) else value

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> KafkaConfig:
        for name in self.extra:
            if name in _RESERVED_PROPERTIES:
                raise ConfigError(f"KafkaConfig.extra: {name!r} is installed by schemabus itself", setting=name)
            if name in _TYPED_KAFKA_PROPERTIES:
                raise ConfigError(
                    f"KafkaConfig.extra: set {name!r} with the field KafkaConfig.{_TYPED_KAFKA_PROPERTIES[name]}",
                    setting=name,
                )
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ConfigError(
                f"KafkaConfig: security_protocol {self.security_protocol} needs sasl_mechanism",
                setting="sasl_mechanism",
            )
        from .client_check import check_librdkafka  # it reads this module's names

        check_librdkafka(self.librdkafka_config(), self.secrets(), what="KafkaConfig", skip=("bootstrap.servers",))
        return self

    def librdkafka_config(self) -> dict[str, ExtraValue]:
        """The librdkafka properties (secrets revealed: for the client only, never for logs)."""
        conf: dict[str, ExtraValue] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "client.id": self.client_id,
        }
        optional: dict[str, str | None] = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        conf.update(self.extra)
        return conf

    def secrets(self) -> list[str]:
        """Every secret value of this configuration (to redact them from messages)."""
        values = [s.get_secret_value() for s in (self.sasl_password, self.ssl_key_password) if s is not None]
        values += [str(v) for k, v in self.extra.items() if _SECRET_PROPERTY.search(k)]
        return values

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "extra" and isinstance(value, dict):
                value = {k: ("**********" if _SECRET_PROPERTY.search(k) else v) for k, v in value.items()}
            yield name, value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaConfig:
        """Read ``SCHEMABUS_BOOTSTRAP_SERVERS`` and ``SCHEMABUS_KAFKA_*`` (see the module docstring)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        names: dict[str, str] = {"bootstrap_servers": ENV_BOOTSTRAP}
        if env.get(ENV_BOOTSTRAP, "").strip():
            values["bootstrap_servers"] = env[ENV_BOOTSTRAP]
        else:
            raise ConfigError(
                f"{ENV_BOOTSTRAP} is not set: the Kafka bootstrap servers (host:port,...)", setting=ENV_BOOTSTRAP
            )
        for field in cls.model_fields:
            if field in ("bootstrap_servers", "extra"):
                continue
            var = _KAFKA_PREFIX + field.upper()
            names[field] = var
            if env.get(var, "").strip():
                values[field] = env[var].strip()
        extra_var = _KAFKA_PREFIX + "EXTRA"
        names["extra"] = extra_var
        if env.get(extra_var, "").strip():
            values["extra"] = _parse_extra(env[extra_var], extra_var)
        _refuse_unknown(env, _KAFKA_PREFIX, {v for f, v in names.items() if f != "bootstrap_servers"})
        return _build(cls, values, names)


class RegistryConfig(BaseModel):
    """A Confluent-API schema registry: where, how to authenticate, how to retry, and whether
    schemas are registered on first use (``schema_ids="register"``, development) or only looked up
    (``"lookup"``, production, where CI registered every schema)."""

    model_config = _MODEL_CONFIG

    url: str = Field(min_length=1)
    basic_auth_user: str | None = None
    basic_auth_password: SecretStr | None = None
    bearer_token: SecretStr | None = None
    bearer_logical_cluster: str | None = None
    ssl_ca_location: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    retry_backoff_ms: int = Field(default=200, ge=0)
    retry_backoff_max_ms: int = Field(default=5_000, ge=0)
    # Retry for this long instead of max_retries times (a time bound, for command-line tools).
    retry_timeout_s: float | None = Field(default=None, gt=0)
    # With max_retries: the most one operation may take, retries included. No attempt starts that could
    # end after it (an attempt may take timeout_s): a hung registry fails a cold publish within this.
    operation_timeout_s: float | None = Field(default=25.0, gt=0)
    schema_ids: IdMode = "register"
    # Lookup mode only: subject -> the version its schema must be (a number or "latest"; "*": any other).
    schema_versions: dict[str, Annotated[int, Field(ge=1)] | Literal["latest"]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_url(cls, data: Any) -> Any:
        """``http://user:password@host`` keeps the credentials as fields, out of the URL (and of any message)."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        data = dict(data)
        urls = []
        for url in data["url"].split(","):
            parts = urlsplit(url.strip())
            if parts.username is not None or parts.password is not None:
                data.setdefault("basic_auth_user", unquote(parts.username or ""))
                if parts.password is not None:
                    data.setdefault("basic_auth_password", unquote(parts.password))
                host = parts.hostname or ""
                netloc = f"[{host}]" if ":" in host else host
                if parts.port is not None:
                    netloc += f":{parts.port}"
                parts = parts._replace(netloc=netloc)
            urls.append(urlunsplit(parts))
        data["url"] = ",".join(urls)
        return data

    @model_validator(mode="after")
    def _check(self) -> RegistryConfig:
        for url in self.url.split(","):
            if not url.startswith(("http://", "https://", "mock://")):
                raise ConfigError(f"RegistryConfig.url: {url!r} is not an http(s) URL", setting="url")
        if self.bearer_token is not None and (self.basic_auth_user or self.basic_auth_password):
            raise ConfigError("RegistryConfig: use basic auth or a bearer token, not both", setting="bearer_token")
        if (self.basic_auth_password is not None) != (self.basic_auth_user is not None):
            raise ConfigError("RegistryConfig: basic auth needs both a user and a password", setting="basic_auth_user")
        if self.schema_versions and self.schema_ids != "lookup":
            raise ConfigError(
                "RegistryConfig.schema_versions pins versions in lookup mode only (schema_ids='lookup')",
                setting="schema_versions",
            )
        return self

    def client_config(self) -> dict[str, Any]:
        """The configuration of confluent-kafka's ``SchemaRegistryClient`` (secrets revealed).

        The client does not retry (``max.retries`` 0): :class:`~schemabus.runtime.registry_client.ConfluentRegistry`
        retries with its own backoff and reports the outcome as one error.
        """
        conf: dict[str, Any] = {"url": self.url, "timeout": self.timeout_s, "max.retries": 0}
        if self.basic_auth_user is not None and self.basic_auth_password is not None:
            conf["basic.auth.user.info"] = f"{self.basic_auth_user}:{self.basic_auth_password.get_secret_value()}"
        if self.bearer_token is not None:
            conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
            conf["bearer.auth.token"] = self.bearer_token.get_secret_value()
            conf["bearer.auth.logical.cluster"] = self.bearer_logical_cluster or ""
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        return conf

    def secrets(self) -> list[str]:
        return [s.get_secret_value() for s in (self.basic_auth_password, self.bearer_token) if s is not None]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RegistryConfig:
        """Read ``SCHEMABUS_REGISTRY_URL`` and ``SCHEMABUS_REGISTRY_*`` (see the module docstring)."""
        env = os.environ if environ is None else environ
        if not env.get(ENV_REGISTRY, "").strip():
            raise ConfigError(f"{ENV_REGISTRY} is not set: the schema registry URL", setting=ENV_REGISTRY)
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        for field in cls.model_fields:
            var = _REGISTRY_PREFIX + field.upper()
            names[field] = var
            if env.get(var, "").strip():
                raw = env[var].strip()
                values[field] = _parse_extra(raw, var) if field == "schema_versions" else raw
        combined = env.get(_REGISTRY_PREFIX + "BASIC_AUTH", "")
        if combined and "basic_auth_user" not in values:
            user, sep, password = combined.partition(":")
            if not sep:
                raise ConfigError(f"{_REGISTRY_PREFIX}BASIC_AUTH must be user:password", setting="basic_auth_user")
            values["basic_auth_user"], values["basic_auth_password"] = user, password
        _refuse_unknown(env, _REGISTRY_PREFIX, {*names.values(), _REGISTRY_PREFIX + "BASIC_AUTH"})
        return _build(cls, values, names)


# What a bus or runner does at start about its catalog topics (README, "Operations", "Topics").
TopicCheck = Literal["create", "verify", "off"]


class ProducerSettings(BaseModel):
    """Producer tuning. The defaults favour durability (``acks=all``, idempotence: no duplicates and
    no reordering on retries) and throughput (5 ms linger, lz4)."""

    model_config = _MODEL_CONFIG

    acks: Literal["all", "1", "0"] = "all"
    enable_idempotence: bool = True
    linger_ms: float = Field(default=5.0, ge=0)
    batch_size: int = Field(default=1_000_000, gt=0, description="bytes per partition batch (batch.size)")
    batch_num_messages: int = Field(default=10_000, gt=0)
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    delivery_timeout_ms: int = Field(default=120_000, gt=0, description="a record not acknowledged by then fails")
    queue_max_messages: int = Field(default=100_000, gt=0, description="local queue; publish waits when it is full")
    queue_max_kbytes: int = Field(default=1_048_576, gt=0)
    broker_down_timeout_ms: int | None = Field(
        default=10_000,
        gt=0,
        description="when every broker has been unreachable (or refused authentication) this long, pending "
        "and new publishes fail with a typed error instead of waiting for the delivery timeout; None: wait",
    )
    transactional_id: str | None = Field(
        default=None,
        min_length=1,
        description="transactional.id: makes the bus transactional (publish inside bus.transaction()); "
        "stable per producing instance, unique across instances. None: not transactional",
    )
    transaction_timeout_ms: int | None = Field(
        default=None,
        gt=0,
        description="transaction.timeout.ms: the broker aborts a transaction left open this long "
        "(librdkafka's default, 60 s, when None)",
    )
    topic_check: TopicCheck = Field(
        default="create",
        description="before the first record to a topic: create it as the catalog declares it when missing "
        "(create), fail unless it exists with the catalog's partitions (verify), or nothing (off)",
    )

    @model_validator(mode="before")
    @classmethod
    def _transactional_delivery_timeout(cls, data: Any) -> Any:
        """A transactional producer delivers within the transaction timeout (librdkafka insists):
        without an explicit ``delivery_timeout_ms``, it is the transaction timeout."""
        if isinstance(data, dict) and data.get("transactional_id") and data.get("delivery_timeout_ms") is None:
            data = {**data, "delivery_timeout_ms": data.get("transaction_timeout_ms") or _TRANSACTION_TIMEOUT_MS}
        return data

    @field_validator("acks", mode="before")
    @classmethod
    def _acks(cls, value: Any) -> Any:
        if value in (-1, "-1"):
            return "all"
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check(self) -> ProducerSettings:
        if self.enable_idempotence and self.acks != "all":
            raise ConfigError("ProducerSettings: enable_idempotence needs acks='all'", setting="acks")
        if self.transactional_id is not None and not self.enable_idempotence:
            raise ConfigError(
                "ProducerSettings: a transactional_id needs enable_idempotence", setting="enable_idempotence"
            )
        if self.transactional_id is not None and self.delivery_timeout_ms > self.transaction_timeout_s * 1000:
            raise ConfigError(
                f"ProducerSettings: delivery_timeout_ms ({self.delivery_timeout_ms}) must not exceed the transaction "
                f"timeout ({self.transaction_timeout_s * 1000:g} ms)",
                setting="delivery_timeout_ms",
            )
        return self

    @property
    def transaction_timeout_s(self) -> float:
        """The transaction timeout in effect (librdkafka's default when not set)."""
        return (self.transaction_timeout_ms or _TRANSACTION_TIMEOUT_MS) / 1000

    def librdkafka_config(self) -> dict[str, ExtraValue]:
        conf: dict[str, ExtraValue] = {
            "acks": self.acks,
            "enable.idempotence": self.enable_idempotence,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "batch.num.messages": self.batch_num_messages,
            "compression.type": self.compression,
            "delivery.timeout.ms": self.delivery_timeout_ms,
            "queue.buffering.max.messages": self.queue_max_messages,
            "queue.buffering.max.kbytes": self.queue_max_kbytes,
        }
        if self.transactional_id is not None:
            conf["transactional.id"] = self.transactional_id
        if self.transaction_timeout_ms is not None:
            conf["transaction.timeout.ms"] = self.transaction_timeout_ms
        return conf

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProducerSettings:
        """Read ``SCHEMABUS_PRODUCER_<FIELD>`` variables (``none`` unsets ``broker_down_timeout_ms``)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        for field in cls.model_fields:
            var = _PRODUCER_PREFIX + field.upper()
            names[field] = var
            raw = env.get(var, "").strip()
            if raw:
                values[field] = None if raw.lower() == "none" and field == "broker_down_timeout_ms" else raw
        _refuse_unknown(env, _PRODUCER_PREFIX, set(names.values()))
        return _build(cls, values, names)


class ConsumerSettings(BaseModel):
    """Consumer tuning: the :class:`~schemabus.runtime.consumer.ConsumerRunner`'s own settings (per
    handler) and the librdkafka consumer properties commonly set. The defaults read from the earliest
    offset of a new group and bound the prefetch queue to 16 MiB per consumer."""

    model_config = _MODEL_CONFIG

    max_in_flight: int = Field(default=1000, ge=1, description="records fetched but not finished, per handler")
    commit_interval: float = Field(default=0.5, gt=0, description="seconds between commits (at most)")
    poll_timeout: float = Field(default=0.2, gt=0, description="seconds a poll waits for a record")
    backpressure_wait: float = Field(
        default=1.0, gt=0, description="seconds to wait for room before pausing the partitions (slow handlers)"
    )
    revoke_timeout: float = Field(
        default=15.0, gt=0, description="seconds a revoked partition's current record may take to finish"
    )
    shutdown_timeout: float = Field(default=30.0, gt=0, description="seconds fetched records may take at shutdown")
    registry_outage_limit: float = Field(
        default=300.0,
        ge=0,
        description="seconds a partition waits for an unreachable schema registry to decode its next record "
        "(retrying with the retry policy's backoff; not ready meanwhile) before the runner stops",
    )
    cluster_down_timeout: float = Field(
        default=10.0,
        gt=0,
        description="seconds without a reachable broker after which a running runner is not ready "
        "(logged once, and once more when the cluster answers again)",
    )
    startup_timeout: float | None = Field(
        default=30.0,
        gt=0,
        description="seconds run() waits for the cluster to answer at start, then raises ServerUnavailableError "
        "naming it; None: start regardless (the consumers wait for the cluster)",
    )
    topic_check: TopicCheck = Field(
        default="create",
        description="at start: create the handlers' topics as the catalog declares them when missing "
        "(create), fail unless they exist with the catalog's partitions (verify), or nothing (off)",
    )
    auto_offset_reset: Literal["earliest", "latest", "error"] = Field(
        default="earliest", description="where a group without a committed offset starts (auto.offset.reset)"
    )
    session_timeout_ms: int | None = Field(default=None, gt=0, description="session.timeout.ms (librdkafka's: 45 s)")
    heartbeat_interval_ms: int | None = Field(default=None, gt=0, description="heartbeat.interval.ms")
    max_poll_interval_ms: int | None = Field(
        default=None, gt=0, description="max.poll.interval.ms (librdkafka's: 300 s)"
    )
    fetch_max_bytes: int | None = Field(default=None, gt=0, description="fetch.max.bytes, per fetch request")
    max_partition_fetch_bytes: int | None = Field(
        default=None, gt=0, description="max.partition.fetch.bytes, per partition and fetch request"
    )
    # Prefetch: librdkafka's defaults (64 MiB, 100k records per partition) hold 150 MiB of RSS ahead
    # of a runner that takes max_in_flight records at a time, per handler (one consumer each). These
    # bound it (bench/memory_bench.py: peak RSS 217 -> 177 MiB for 1M events, no loss of speed); a
    # short fetch backoff keeps the smaller queue from running dry (the 1 s default halves throughput).
    queued_max_messages_kbytes: int = Field(default=16384, gt=0, description="queued.max.messages.kbytes")
    queued_min_messages: int = Field(default=20000, gt=0, description="queued.min.messages")
    fetch_queue_backoff_ms: int = Field(default=20, ge=0, description="fetch.queue.backoff.ms")
    partition_assignment_strategy: str = Field(
        default="cooperative-sticky", min_length=1, description="partition.assignment.strategy (classic protocol)"
    )
    # Fast recovery (README, "Recovery after a restart"): a restarted instance with the same instance_id
    # takes its partitions back at once, without waiting for its old session to expire.
    instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=249,
        description="group.instance.id: static membership, a stable name per instance (a pod name); it does "
        "not leave its groups on shutdown, so its partitions wait for it until session_timeout_ms",
    )
    group_protocol: Literal["classic", "consumer"] = Field(
        default="classic",
        description="group.protocol: classic, or consumer (KIP-848: the broker assigns partitions, "
        "incrementally; session and heartbeat times are the broker's group.consumer.* settings)",
    )
    isolation_level: Literal["read_committed", "read_uncommitted"] | None = Field(
        default=None,
        description="isolation.level (librdkafka's: read_committed; exactly-once runners read committed only)",
    )

    @field_validator("auto_offset_reset", mode="before")
    @classmethod
    def _offset_reset(cls, value: Any) -> Any:
        """librdkafka's synonyms: smallest and beginning for earliest, largest and end for latest."""
        if isinstance(value, str):
            value = value.strip().lower()
            return {"smallest": "earliest", "beginning": "earliest", "largest": "latest", "end": "latest"}.get(
                value, value
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> ConsumerSettings:
        session, heartbeat, poll = self.session_timeout_ms, self.heartbeat_interval_ms, self.max_poll_interval_ms
        if session is not None and poll is not None and poll < session:
            raise ConfigError(
                f"ConsumerSettings: max_poll_interval_ms ({poll}) must be >= session_timeout_ms ({session})",
                setting="max_poll_interval_ms",
            )
        if session is not None and heartbeat is not None and heartbeat >= session:
            raise ConfigError(
                f"ConsumerSettings: heartbeat_interval_ms ({heartbeat}) must be below session_timeout_ms ({session})",
                setting="heartbeat_interval_ms",
            )
        if self.group_protocol == "consumer":
            for name in ("session_timeout_ms", "heartbeat_interval_ms"):
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"ConsumerSettings: {name} is the broker's with group_protocol='consumer' "
                        "(group.consumer.session.timeout.ms, group.consumer.heartbeat.interval.ms)",
                        setting=name,
                    )
            if "partition_assignment_strategy" in self.model_fields_set:
                raise ConfigError(
                    "ConsumerSettings: with group_protocol='consumer' the broker assigns partitions "
                    "(partition_assignment_strategy is for the classic protocol)",
                    setting="partition_assignment_strategy",
                )
        return self

    def librdkafka_config(self) -> dict[str, ExtraValue]:
        conf: dict[str, ExtraValue] = {
            "auto.offset.reset": self.auto_offset_reset,
            "queued.max.messages.kbytes": self.queued_max_messages_kbytes,
            "queued.min.messages": self.queued_min_messages,
            "fetch.queue.backoff.ms": self.fetch_queue_backoff_ms,
        }
        optional = {
            "session.timeout.ms": self.session_timeout_ms,
            "heartbeat.interval.ms": self.heartbeat_interval_ms,
            "max.poll.interval.ms": self.max_poll_interval_ms,
            "fetch.max.bytes": self.fetch_max_bytes,
            "max.partition.fetch.bytes": self.max_partition_fetch_bytes,
            "isolation.level": self.isolation_level,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        if self.group_protocol == "consumer":
            conf["group.protocol"] = "consumer"
        else:
            conf["partition.assignment.strategy"] = self.partition_assignment_strategy
        if self.instance_id is not None:
            conf["group.instance.id"] = self.instance_id
        return conf

    def merged(self, values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> ConsumerSettings:
        """A copy with ``values`` (by field) validated; a ConfigError names a value by ``names[field]`` (where
        it came from: an argument, a property), never shows it."""
        return _build(type(self), {**self.model_dump(exclude_unset=True), **values}, dict(names or {}))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsumerSettings:
        """Read ``SCHEMABUS_CONSUMER_<FIELD>`` variables (``none`` unsets ``startup_timeout``)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        for field in cls.model_fields:
            var = _CONSUMER_PREFIX + field.upper()
            names[field] = var
            raw = env.get(var, "").strip()
            if raw:
                values[field] = None if raw.lower() == "none" and field == "startup_timeout" else raw
        _refuse_unknown(env, _CONSUMER_PREFIX, set(names.values()))
        return _build(cls, values, names)


class BusConfig(BaseModel):
    """Everything a :class:`~schemabus.runtime.kafka.KafkaBus` needs."""

    model_config = _MODEL_CONFIG

    kafka: KafkaConfig
    registry: RegistryConfig
    producer: ProducerSettings = Field(default_factory=ProducerSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BusConfig:
        return cls(
            kafka=KafkaConfig.from_env(environ),
            registry=RegistryConfig.from_env(environ),
            producer=ProducerSettings.from_env(environ),
        )


class ConsumerConfig(BaseModel):
    """Everything a :class:`~schemabus.runtime.consumer.ConsumerRunner` needs. ``kafka.extra`` is shared
    with the producer: the properties of :class:`ConsumerSettings` and those the runner sets are refused there."""

    model_config = _MODEL_CONFIG

    kafka: KafkaConfig
    registry: RegistryConfig
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)

    @model_validator(mode="after")
    def _check(self) -> ConsumerConfig:
        for name in self.kafka.extra:
            if name in TYPED_CONSUMER_PROPERTIES:
                raise ConfigError(
                    f"KafkaConfig.extra: set {name!r} with ConsumerSettings.{TYPED_CONSUMER_PROPERTIES[name]}",
                    setting=name,
                )
            if name in RUNNER_CONSUMER_PROPERTIES:
                raise ConfigError(
                    f"KafkaConfig.extra: {name!r} is set by the consumer runner: {RUNNER_CONSUMER_PROPERTIES[name][1]}",
                    setting=name,
                )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsumerConfig:
        return cls(
            kafka=KafkaConfig.from_env(environ),
            registry=RegistryConfig.from_env(environ),
            consumer=ConsumerSettings.from_env(environ),
        )


def _parse_extra(text: str, var: str) -> dict[str, ExtraValue]:
    out: dict[str, ExtraValue] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{var}: {name.strip()!r} is not name=value", setting=var)
        out[name.strip()] = value.strip()
    return out


def _refuse_unknown(env: Mapping[str, str], prefix: str, known: set[str]) -> None:
    """A ``prefix*`` variable that names no setting is a typo (``SCHEMABUS_KAFKA_LINGER_MSS``): refuse it
    with the closest names, as an unknown librdkafka property is refused, instead of ignoring it."""
    names = set(known)
    unknown = sorted(var for var in env if var.startswith(prefix) and var not in names)
    if not unknown:
        return
    problems = []
    for var in unknown:
        # Compared without the prefix they share: SCHEMABUS_PRODUCER_COLOUR resembles nothing.
        close = difflib.get_close_matches(var[len(prefix) :], sorted(n[len(prefix) :] for n in names), n=2, cutoff=0.7)
        hint = (
            f" (did you mean {' or '.join(prefix + c for c in close)}?)"
            if close
            else f" (known: {', '.join(sorted(names))})"
        )
        problems.append(f"{var} is not a schemabus setting{hint}")
    raise ConfigError("; ".join(problems), setting=unknown[0])


def _build(cls: type[M], values: dict[str, Any], names: dict[str, str]) -> M:
    """Build a model from environment values; validation errors name the variable, never the value."""
    try:
        return cls(**values)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            problems.append(f"{names.get(field, field)}: {err['msg']}")
        raise ConfigError("; ".join(problems), setting=names.get(str(e.errors()[0]["loc"][0]))) from None
