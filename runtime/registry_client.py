"""A Confluent-API schema registry (Confluent Schema Registry, Apicurio's ``/apis/ccompat/v7``,
Karapace, Redpanda) as the :class:`~schemabus.runtime.registry.SchemaRegistry` the runtime needs.

It wraps confluent-kafka's ``SchemaRegistryClient``: network errors, timeouts and 408/429/5xx
answers are retried with exponential backoff (``max_retries`` times, or for ``retry_timeout_s``
seconds), then reported as one
:class:`~schemabus.runtime.errors.RegistryUnavailableError` that names the registry, the request
and the last error. :class:`~schemabus.runtime.registry.SchemaIds` caches what this returns, so a
warm publisher never calls the registry again.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from .config import RegistryConfig, redact
from .errors import IncompatibleSchemaError, RegistryError, RegistryUnavailableError
from .registry import SchemaNotRegisteredError, SchemaVersion, canonical_schema

__all__ = ["ConfluentRegistry"]

T = TypeVar("T")

_RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Confluent error codes: 40401 subject not found, 40403 schema not found.
_NOT_FOUND = frozenset({40401, 40402, 40403})
_MAX_VERSIONS_COMPARED = 20  # newest versions of a subject compared with a schema whose text was not found


def _network_errors() -> tuple[type[BaseException], ...]:
    """What the registry client raises when no HTTP answer came: OSErrors, and the transport errors
    of its HTTP library (confluent-kafka uses httpx2 when installed, else httpx; older versions httpx)."""
    errors: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        transport_error = getattr(module, "TransportError", None)
        if isinstance(transport_error, type) and issubclass(transport_error, BaseException):
            errors.append(transport_error)
    return tuple(errors)


_NETWORK_ERRORS = _network_errors()


class ConfluentRegistry:
    """Register, look up and fetch schemas over the Confluent registry API, with retries.

    ``config`` is a :class:`RegistryConfig` or just the registry URL. ``client`` replaces the
    ``SchemaRegistryClient`` built from it (tests).
    """

    def __init__(self, config: RegistryConfig | str, *, client: Any | None = None) -> None:
        self.config = config if isinstance(config, RegistryConfig) else RegistryConfig(url=config)
        self.client: Any = client if client is not None else SchemaRegistryClient(self.config.client_config())
        self._secrets = self.config.secrets()
        self.sleep: Callable[[float], None] = time.sleep

    @property
    def url(self) -> str:
        """The registry URL (credentials are never part of it)."""
        return self.config.url

    def register_schema(self, subject: str, schema: str, schema_type: str) -> int:
        """The id of ``schema`` under ``subject``: an equivalent registered version if there is one
        (see :meth:`lookup_schema`), else a newly registered version."""
        try:
            return self.lookup_schema(subject, schema, schema_type)
        except SchemaNotRegisteredError:
            pass
        operation = f"register a schema under subject {subject!r}"
        try:
            return int(self.call(operation, lambda: self.client.register_schema(subject, Schema(schema, schema_type))))
        except SchemaRegistryError as e:
            if e.http_status_code == 409:
                raise IncompatibleSchemaError(
                    subject, self._answer(e), http_status=e.http_status_code, error_code=e.error_code
                ) from None
            raise self._refused(f"cannot {operation}", e) from None

    def lookup_schema(self, subject: str, schema: str, schema_type: str) -> int:
        """The id of ``schema`` if it is a version of ``subject``; SchemaNotRegisteredError if not.

        The registry compares schema texts. ``schemabus register`` registers an Avro schema that
        uses named types of other files with references, while the runtime holds the same schema
        self-contained; so when the text is not found, the subject's Avro versions (newest first)
        are expanded with their references and compared with ``schema``, and an equal one is used.
        """
        operation = f"look up the schema of subject {subject!r}"
        try:
            found = self.call(operation, lambda: self.client.lookup_schema(subject, Schema(schema, schema_type)))
            return int(found.schema_id)
        except SchemaRegistryError as e:
            if not _not_found(e):
                raise self._refused(f"cannot {operation}", e) from None
        if schema_type == "AVRO":
            schema_id = self._equivalent_avro_version(subject, schema)
            if schema_id is not None:
                return schema_id
        raise SchemaNotRegisteredError(
            f"schema is not registered under subject {subject!r} in {self.url} "
            f"(lookup mode never registers: register it first, e.g. with `schemabus register`)"
        )

    def _equivalent_avro_version(self, subject: str, schema: str) -> int | None:
        """The id of the newest version of ``subject`` whose schema, references expanded, equals ``schema``."""
        try:
            what = f"list the versions of subject {subject!r}"
            versions = self.call(what, lambda: self.client.get_versions(subject))
        except SchemaRegistryError as e:
            if _not_found(e):
                return None
            raise self._refused(f"cannot list the versions of subject {subject!r}", e) from None
        wanted = _expanded_avro(schema, {})
        if wanted is None:
            return None
        for version in sorted(versions, reverse=True)[:_MAX_VERSIONS_COMPARED]:
            registered = self._version(subject, version)
            if registered is not None and self._same_avro(registered, wanted):
                return int(registered.schema_id)
        return None

    def _same_avro(self, registered: Any, wanted: str | None) -> bool:
        """Whether a registered version, its references expanded, is the Avro schema ``wanted`` (expanded)."""
        if wanted is None or (registered.schema.schema_type or "AVRO") != "AVRO":
            return False
        named: dict[str, Any] = {}
        if not self._load_references(registered.schema.references or [], named, depth=0):
            return False
        return bool(_expanded_avro(registered.schema.schema_str, named) == wanted)

    def lookup_version(self, subject: str, version: SchemaVersion, schema: str, schema_type: str) -> int:
        """The id of version ``version`` of ``subject`` (``"latest"``: the newest), which must hold
        ``schema``: the same text up to formatting, or for Avro the same schema with references
        expanded. SchemaNotRegisteredError when there is no such version or it holds another schema."""
        label = "the latest version" if version == "latest" else f"version {version}"
        if version == "latest":
            try:
                registered = self.call(
                    f"read {label} of subject {subject!r}", lambda: self.client.get_latest_version(subject)
                )
            except SchemaRegistryError as e:
                if not _not_found(e):
                    raise self._refused(f"cannot read {label} of subject {subject!r}", e) from None
                registered = None
        else:
            registered = self._version(subject, version)
        if registered is None:
            raise SchemaNotRegisteredError(
                f"subject {subject!r} has no {'versions' if version == 'latest' else label} in {self.url} "
                f"(lookup mode never registers: register it first, e.g. with `schemabus register`)"
            )
        held_type = registered.schema.schema_type or "AVRO"
        same = held_type == schema_type and (
            canonical_schema(registered.schema.schema_str) == canonical_schema(schema)
            or (schema_type == "AVRO" and self._same_avro(registered, _expanded_avro(schema, {})))
        )
        if not same:
            raise SchemaNotRegisteredError(
                f"{label} of subject {subject!r} (version {registered.version}, id {registered.schema_id}) is "
                f"not the schema this code was generated from: regenerate the code from the registered "
                f"schema, or pin the version that holds it"
            )
        return int(registered.schema_id)

    def _version(self, subject: str, version: int) -> Any:
        try:
            return self.call(
                f"read version {version} of subject {subject!r}", lambda: self.client.get_version(subject, version)
            )
        except SchemaRegistryError as e:
            if _not_found(e):
                return None
            raise self._refused(f"cannot read version {version} of subject {subject!r}", e) from None

    def _load_references(self, references: list[Any], named: dict[str, Any], *, depth: int) -> bool:
        """Parse referenced schemas (their own references first) into ``named``; False if one is missing."""
        if depth > 32:
            return False
        for ref in references:
            registered = self._version(ref.subject, ref.version)
            if registered is None:
                return False
            if not self._load_references(registered.schema.references or [], named, depth=depth + 1):
                return False
            try:
                fastavro.parse_schema(json.loads(registered.schema.schema_str), named_schemas=named)
            except Exception:  # not a schema fastavro can read: not equivalent to ours
                return False
        return True

    def schema_by_id(self, schema_id: int) -> tuple[str, str]:
        """``(schema_type, schema_text)`` of a global id; KeyError when the registry does not know it."""
        try:
            schema = self.call(f"fetch schema id {schema_id}", lambda: self.client.get_schema(schema_id))
        except SchemaRegistryError as e:
            if _not_found(e):
                raise KeyError(schema_id) from None
            raise self._refused(f"cannot fetch schema id {schema_id}", e) from None
        # Apicurio's ccompat API leaves schemaType out for Avro; the Confluent default is AVRO.
        return (schema.schema_type or "AVRO", schema.schema_str)

    def close(self) -> None:
        session = getattr(getattr(self.client, "_rest_client", None), "session", None)
        if session is not None and hasattr(session, "close"):
            session.close()

    def call(self, operation: str, fn: Callable[[], T]) -> T:
        """``fn()`` (a request of :attr:`client`), retried on network errors and 408/429/5xx answers with
        exponential backoff: ``max_retries`` times, with no attempt starting that could end after
        ``operation_timeout_s``; or until ``retry_timeout_s`` seconds have passed when that is set. Then
        :class:`RegistryUnavailableError` names the registry, ``operation`` ("list the versions of subject
        'x'"), the attempts and the last error. Other refusals raise the client's ``SchemaRegistryError``."""
        budget = self.config.retry_timeout_s
        attempts = 0
        delay = self.config.retry_backoff_ms / 1000
        started = time.monotonic()
        while True:
            attempts += 1
            try:
                return fn()
            except SchemaRegistryError as e:
                if e.http_status_code not in _RETRIABLE_STATUS:
                    raise
                last: BaseException = e
            except _NETWORK_ERRORS as e:
                last = e
            if budget is None:
                if attempts > self.config.max_retries:
                    break
                bound = self.config.operation_timeout_s
                if bound is not None and time.monotonic() - started + delay + self.config.timeout_s > bound:
                    break  # the next attempt could end after operation_timeout_s
                self.sleep(delay)
            else:
                remaining = budget - (time.monotonic() - started)
                if remaining <= 0:
                    break
                self.sleep(min(delay, remaining))  # the last attempt comes when the time is up
            delay = min(delay * 2, self.config.retry_backoff_max_ms / 1000)
        raise RegistryUnavailableError(
            self.url,
            operation,
            redact(_describe(last), self._secrets),
            attempts=attempts,
            elapsed=time.monotonic() - started,
            http_status=getattr(last, "http_status_code", None),
        ) from None

    def _refused(self, what: str, e: SchemaRegistryError) -> RegistryError:
        return RegistryError(f"{what}: {self._answer(e)}", http_status=e.http_status_code, error_code=e.error_code)

    def _answer(self, e: SchemaRegistryError) -> str:
        """The registry's refusal in one line: ``HTTP 409 (error 409) from URL: its message``."""
        message = redact(str(e.error_message), self._secrets)
        return f"HTTP {e.http_status_code} (error {e.error_code}) from {self.url}: {message}"

    def __repr__(self) -> str:
        return f"ConfluentRegistry({self.url!r})"


def _not_found(e: SchemaRegistryError) -> bool:
    return e.http_status_code == 404 or e.error_code in _NOT_FOUND


def _expanded_avro(text: str, named: dict[str, Any]) -> str | None:
    """``text`` parsed with its named types expanded in place, as canonical JSON (None if unreadable)."""
    try:
        parsed = fastavro.parse_schema(json.loads(text), named_schemas=dict(named), expand=True)
    except Exception:
        return None
    return json.dumps(_without_fastavro_keys(parsed), sort_keys=True, separators=(",", ":"))


def _without_fastavro_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_fastavro_keys(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_without_fastavro_keys(v) for v in value]
    return value


def _describe(e: BaseException) -> str:
    if isinstance(e, SchemaRegistryError):
        return f"HTTP {e.http_status_code} (error {e.error_code}): {e.error_message}"
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"
