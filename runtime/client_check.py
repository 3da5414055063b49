"""Check a librdkafka client configuration before any client runs: librdkafka itself reads it (a client
that never connects), and TLS and SASL settings that cannot work are named first."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from .config import ExtraValue, redact
from .errors import ConfigError

__all__ = ["check_librdkafka", "check_security"]


def check_librdkafka(
    conf: Mapping[str, Any],
    secrets: list[str],
    *,
    what: str,
    skip: tuple[str, ...] = (),
    client: Literal["producer", "consumer"] = "producer",
) -> None:
    """Let librdkafka validate ``conf`` by building a ``client`` that never connects (no bootstrap servers);
    raise ConfigError naming the offending property as it was spelled (secrets redacted). A consumer is
    checked as a consumer: librdkafka checks some consumer properties against each other only then.

    TLS and SASL settings are checked first (:func:`check_security`), so that a missing key file names
    ``ssl.key.location`` and a missing password ``sasl.password``, not the protocol that needs them."""
    probe = {k: v for k, v in conf.items() if k not in skip}
    check_security(probe, what=what)
    message = _librdkafka_refusal(probe, client)
    if message is None:
        return
    name = _property_named(message, probe)
    if name not in probe and not _names_a_missing_property(message):
        # librdkafka names an alias by its canonical name (linger.ms -> queue.buffering.max.ms): find the
        # property as spelled here, the one without which librdkafka accepts the rest (on this error path
        # only). security.protocol comes last: without it every TLS and SASL setting is ignored.
        order = sorted(probe, key=lambda k: k == "security.protocol")
        without = ({k: v for k, v in probe.items() if k != culprit} for culprit in order)
        name = next((k for k, rest in zip(order, without) if _librdkafka_refusal(rest, client) is None), name)
    if name == "ssl.key.location" and _encrypted_key(probe) and probe.get("ssl.key.password"):
        name, message = "ssl.key.password", f"does not decrypt the key {probe[name]} ({message})"
    where = f"{what} property {name!r}" if name else what
    raise ConfigError(f"{where}: {redact(message, secrets)}", setting=name)


# What librdkafka's refusals say about the property at fault.
_PROPERTY_IN_MESSAGE = (
    re.compile(r'property:? "([^"]+)"'),  # No such configuration property: "lingr.ms"
    re.compile(r"\b([a-z]+(?:\.[a-z]+)+) failed:"),  # ssl.key.location failed: error:…
    re.compile(r"Failed to open ([a-z]+(?:\.[a-z]+)+):"),  # Failed to open ssl.keystore.location: …
    re.compile(r"`([a-z]+(?:\.[a-z]+)+)` is mandatory"),  # `sasl.oauthbearer.token.endpoint.url` is mandatory
    re.compile(r"`([a-z]+(?:\.[a-z]+)+)` ?must be"),  # `max.poll.interval.ms`must be >= `session.timeout.ms`
)
_TLS_PROTOCOLS = ("SSL", "SASL_SSL")
_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
# Settings that only mean something with TLS or with SASL: set with another protocol, they are ignored.
_TLS_SETTINGS = (
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.keystore.location",
    "ssl.crl.location",
)
_SASL_SETTINGS = ("sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password")
_FILE_SETTINGS = (
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.keystore.location",
    "ssl.crl.location",
)
_USER_PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _names_a_missing_property(message: str) -> bool:
    return "is mandatory" in message


def _property_named(message: str, conf: Mapping[str, ExtraValue]) -> str | None:
    if "No provider for SASL mechanism" in message:  # a mechanism this librdkafka was built without
        return "sasl.mechanisms" if "sasl.mechanisms" in conf else "sasl.mechanism"
    if "Private key check failed" in message:  # a key without its certificate
        return "ssl.certificate.location" if "ssl.certificate.location" not in conf else "ssl.key.location"
    if "sasl.username and sasl.password must be set" in message:
        return "sasl.username" if not conf.get("sasl.username") else "sasl.password"
    for pattern in _PROPERTY_IN_MESSAGE:
        match = pattern.search(message)
        if match:
            return match.group(1)
    return None


def _encrypted_key(conf: Mapping[str, ExtraValue]) -> bool:
    try:
        with open(str(conf["ssl.key.location"]), "rb") as f:
            head = f.read(4096)
    except (KeyError, OSError):
        return False
    return b"ENCRYPTED" in head


def check_security(conf: Mapping[str, ExtraValue], *, what: str = "KafkaConfig") -> None:
    """TLS and SASL settings that cannot work, named by property: a file that does not exist or cannot
    be read, a key without its certificate, an encrypted key without a password, a user without a
    password (or the reverse), and settings the ``security.protocol`` in effect would ignore."""

    def fail(name: str, reason: str) -> None:
        raise ConfigError(f"{what} property {name!r}: {reason}", setting=name)

    protocol = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    for name in _TLS_SETTINGS:
        if conf.get(name) and protocol not in _TLS_PROTOCOLS:
            fail(
                "security.protocol",
                f"{protocol} does not use TLS, so {name} would be ignored: use SSL or SASL_SSL",
            )
    for name in _SASL_SETTINGS:
        if conf.get(name) and protocol not in _SASL_PROTOCOLS:
            fail(
                "security.protocol",
                f"{protocol} does not use SASL, so {name} would be ignored: use SASL_PLAINTEXT or SASL_SSL",
            )
    for name in _FILE_SETTINGS:
        value = conf.get(name)
        if not value or not isinstance(value, str) or (name == "ssl.ca.location" and value == "probe"):
            continue
        if not os.path.exists(value):
            fail(name, f"{value} does not exist")
        if os.path.isdir(value) and name != "ssl.ca.location":  # a CA location may be a directory
            fail(name, f"{value} is a directory, not a file")
        if not os.access(value, os.R_OK):
            fail(name, f"{value} cannot be read (permission denied)")
    if conf.get("ssl.key.location") and not conf.get("ssl.certificate.location"):
        fail("ssl.certificate.location", "not set, but ssl.key.location is: the key needs its certificate")
    if _encrypted_key(conf) and not conf.get("ssl.key.password"):
        fail("ssl.key.password", f"not set, but the key {conf['ssl.key.location']} is encrypted")
    mechanism = str(conf.get("sasl.mechanism") or conf.get("sasl.mechanisms") or "").upper()
    if protocol in _SASL_PROTOCOLS and mechanism in _USER_PASSWORD_MECHANISMS:
        for name in ("sasl.username", "sasl.password"):
            if not conf.get(name):
                fail(name, f"not set, but sasl.mechanism {mechanism} needs sasl.username and sasl.password")


def _librdkafka_refusal(conf: Mapping[str, Any], client: Literal["producer", "consumer"] = "producer") -> str | None:
    from confluent_kafka import Consumer, KafkaException, Producer

    probe: dict[str, Any] = {**conf, "log_level": 0}  # no brokers on purpose: keep librdkafka from saying so
    try:
        if client == "consumer":
            Consumer({"group.id": "schemabus-probe", **probe}).close()  # a consumer needs a group: any will do
        else:
            Producer(probe)
    except KafkaException as e:
        arg = e.args[0] if e.args else e
        return str(arg.str()) if hasattr(arg, "str") else str(arg)
    return None
