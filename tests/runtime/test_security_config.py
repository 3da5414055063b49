"""TLS and SASL misconfigurations name the property at fault (``ConfigError.setting`` and the message),
never the ``security.protocol`` that merely needs them. Real files: a self-signed certificate, its key
(plain and encrypted), another key, garbage, a directory. No servers needed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from schemabus.runtime.config import KafkaConfig
from schemabus.runtime.errors import ConfigError

KEY_PASSWORD = "key-Pa55word-7"


def _key_and_cert(name: str) -> tuple[bytes, bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM), key


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths: ca (the certificate, as its own CA), cert, key, encrypted key, other key, garbage, dir, missing."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert, key_object = _key_and_cert("client")
    other_key, _, _ = _key_and_cert("someone-else")
    encrypted = key_object.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
    )
    files = {"cert": cert, "key": key, "encrypted": encrypted, "other": other_key, "garbage": b"not a PEM file\n"}
    paths = {}
    for name, data in files.items():
        (folder / f"{name}.pem").write_bytes(data)
        paths[name] = str(folder / f"{name}.pem")
    paths["ca"] = paths["cert"]
    paths["dir"] = str(folder)
    paths["missing"] = str(folder / "missing.pem")
    return paths


def _config(**fields: Any) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers="localhost:9093", **fields)


def _refused(**fields: Any) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        _config(**fields)
    return error.value


def test_a_complete_tls_configuration_is_accepted(tls: dict[str, str]) -> None:
    plain = _config(
        security_protocol="SSL",
        ssl_ca_location=tls["ca"],
        ssl_certificate_location=tls["cert"],
        ssl_key_location=tls["key"],
    )
    assert plain.librdkafka_config()["ssl.key.location"] == tls["key"]
    _config(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password="pw",
        ssl_ca_location=tls["dir"],  # a CA location may be a directory of certificates
        ssl_certificate_location=tls["cert"],
        ssl_key_location=tls["encrypted"],
        ssl_key_password=KEY_PASSWORD,
    )


# (what is wrong, the fields, the property that must be named, a phrase of the message)
TLS_CASES = [
    ("missing key file", {"ssl_key_location": "missing"}, "ssl.key.location", "does not exist"),
    ("key is a directory", {"ssl_key_location": "dir"}, "ssl.key.location", "is a directory"),
    ("key of another certificate", {"ssl_key_location": "other"}, "ssl.key.location", "mismatch"),
    ("garbage key", {"ssl_key_location": "garbage"}, "ssl.key.location", "ssl.key.location failed"),
    ("missing certificate file", {"ssl_certificate_location": "missing"}, "ssl.certificate.location", "does not exist"),
    ("garbage certificate", {"ssl_certificate_location": "garbage"}, "ssl.certificate.location", "failed"),
    ("missing CA file", {"ssl_ca_location": "missing"}, "ssl.ca.location", "does not exist"),
    ("garbage CA file", {"ssl_ca_location": "garbage"}, "ssl.ca.location", "ssl.ca.location failed"),
    ("encrypted key without password", {"ssl_key_location": "encrypted"}, "ssl.key.password", "is encrypted"),
]


@pytest.mark.parametrize(("case", "fields", "prop", "phrase"), TLS_CASES, ids=[c[0] for c in TLS_CASES])
def test_a_tls_mistake_names_its_property(
    tls: dict[str, str], case: str, fields: dict[str, str], prop: str, phrase: str
) -> None:
    settings: dict[str, Any] = {"ssl_certificate_location": tls["cert"], "ssl_key_location": tls["key"]}
    settings.update({name: tls[value] for name, value in fields.items()})
    error = _refused(security_protocol="SSL", **settings)
    assert error.setting == prop, str(error)
    assert str(error).startswith(f"KafkaConfig property {prop!r}: ") and phrase in str(error)


def test_a_wrong_key_password_names_the_password_and_hides_it(tls: dict[str, str]) -> None:
    wrong = "not-the-Key-Password-9"
    error = _refused(
        security_protocol="SSL",
        ssl_certificate_location=tls["cert"],
        ssl_key_location=tls["encrypted"],
        ssl_key_password=wrong,
    )
    assert error.setting == "ssl.key.password" and "does not decrypt" in str(error)
    assert wrong not in str(error)


def test_a_key_without_its_certificate_names_the_certificate(tls: dict[str, str]) -> None:
    error = _refused(security_protocol="SSL", ssl_key_location=tls["key"])
    assert error.setting == "ssl.certificate.location"


def test_an_extra_tls_file_is_checked_too(tls: dict[str, str]) -> None:
    error = _refused(security_protocol="SSL", extra={"ssl.crl.location": tls["missing"]})
    assert error.setting == "ssl.crl.location" and tls["missing"] in str(error)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_credentials_are_named_one_by_one(mechanism: str) -> None:
    base = {"security_protocol": "SASL_SSL", "sasl_mechanism": mechanism}
    assert _refused(**base, sasl_password="pw").setting == "sasl.username"
    missing_password = _refused(**base, sasl_username="svc")
    assert missing_password.setting == "sasl.password" and mechanism in str(missing_password)
    assert _refused(**base).setting == "sasl.username"


def test_an_oidc_login_without_its_endpoint_names_the_endpoint() -> None:
    error = _refused(
        security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER", extra={"sasl.oauthbearer.method": "oidc"}
    )
    assert error.setting == "sasl.oauthbearer.token.endpoint.url"


def test_settings_the_protocol_would_ignore_name_the_protocol(tls: dict[str, str]) -> None:
    tls_on_plaintext = _refused(ssl_ca_location=tls["ca"])
    assert tls_on_plaintext.setting == "security.protocol"
    assert "PLAINTEXT does not use TLS, so ssl.ca.location would be ignored" in str(tls_on_plaintext)
    sasl_on_ssl = _refused(security_protocol="SSL", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")
    assert sasl_on_ssl.setting == "security.protocol" and "does not use SASL" in str(sasl_on_ssl)


def test_the_environment_gets_the_same_checks(tls: dict[str, str]) -> None:
    env = {
        "SCHEMABUS_BOOTSTRAP_SERVERS": "localhost:9093",
        "SCHEMABUS_KAFKA_SECURITY_PROTOCOL": "SSL",
        "SCHEMABUS_KAFKA_SSL_CERTIFICATE_LOCATION": tls["cert"],
        "SCHEMABUS_KAFKA_SSL_KEY_LOCATION": tls["missing"],
    }
    with pytest.raises(ConfigError) as error:
        KafkaConfig.from_env(env)
    assert error.value.setting == "ssl.key.location" and tls["missing"] in str(error.value)
