"""ConfluentRegistry against a registry that answers with errors: a small HTTP server speaking the
Confluent API, scripted per request, because a real registry cannot be made to answer 503 twice, 401
or 403 on demand (tests/integration/ covers the answers a real registry gives).

Each test scripts (method, path) -> answers; the last answer of a list repeats. Requests are recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from schemabus.runtime.config import RegistryConfig
from schemabus.runtime.errors import IncompatibleSchemaError, RegistryError, RegistryUnavailableError
from schemabus.runtime.registry import SchemaNotRegisteredError
from schemabus.runtime.registry_client import ConfluentRegistry

SUBJECT = "orders.order.placed-value"
RECORD = json.dumps({"type": "record", "name": "Placed", "fields": [{"name": "id", "type": "string"}]})
Answer = tuple[int, Any]


def error(status: int, code: int, message: str = "refused") -> Answer:
    return status, {"error_code": code, "message": message}


def version(number: int, schema_id: int, text: str = RECORD, **extra: Any) -> Answer:
    return 200, {"subject": SUBJECT, "version": number, "id": schema_id, "schema": text, **extra}


class FakeRegistry:
    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                fake.requests.append((self.command, path))
                answers = fake.script.get((self.command, path)) or [error(404, 40401, f"nothing scripted: {path}")]
                status, body = answers.pop(0) if len(answers) > 1 else answers[0]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.script[(method, path)] = list(answers)

    def client(self, retries: int = 2) -> ConfluentRegistry:
        registry = ConfluentRegistry(RegistryConfig(url=self.url, max_retries=retries, retry_backoff_ms=1))
        registry.sleep = lambda _: None
        return registry

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    registry = FakeRegistry()
    yield registry
    registry.close()


def test_a_registry_that_answers_503_is_asked_again_until_it_answers(fake: FakeRegistry) -> None:
    fake.on("POST", f"/subjects/{SUBJECT}", error(404, 40403))  # not registered yet
    fake.on("GET", f"/subjects/{SUBJECT}/versions", error(404, 40401))
    fake.on("POST", f"/subjects/{SUBJECT}/versions", error(503, 50003), error(503, 50003), (200, {"id": 7}))
    assert fake.client(retries=2).register_schema(SUBJECT, RECORD, "AVRO") == 7
    assert fake.requests.count(("POST", f"/subjects/{SUBJECT}/versions")) == 3


def test_a_registry_that_keeps_failing_is_unavailable_after_the_retries(fake: FakeRegistry) -> None:
    fake.on("GET", "/schemas/ids/5", error(500, 50001, "database down"))
    with pytest.raises(RegistryUnavailableError, match=r"could not fetch schema id 5 \(3 attempts") as info:
        fake.client(retries=2).schema_by_id(5)
    assert info.value.http_status == 500 and "HTTP 500 (error 50001): database down" in str(info.value)


@pytest.mark.parametrize(
    ("call", "route", "what"),
    [
        pytest.param(
            lambda r: r.lookup_schema(SUBJECT, RECORD, "AVRO"),
            ("POST", f"/subjects/{SUBJECT}"),
            "cannot look up the schema of subject",
            id="lookup",
        ),
        pytest.param(lambda r: r.schema_by_id(5), ("GET", "/schemas/ids/5"), "cannot fetch schema id 5", id="by-id"),
        pytest.param(
            lambda r: r.lookup_version(SUBJECT, "latest", RECORD, "AVRO"),
            ("GET", f"/subjects/{SUBJECT}/versions/latest"),
            "cannot read the latest version of subject",
            id="latest",
        ),
        pytest.param(
            lambda r: r.lookup_version(SUBJECT, 3, RECORD, "AVRO"),
            ("GET", f"/subjects/{SUBJECT}/versions/3"),
            "cannot read version 3 of subject",
            id="version",
        ),
    ],
)
def test_a_refusal_is_a_registry_error_that_names_the_request_and_the_answer(
    fake: FakeRegistry, call: Any, route: tuple[str, str], what: str
) -> None:
    fake.on(*route, error(403, 40301, "User is denied operation on this server"))
    with pytest.raises(RegistryError, match=what) as info:
        call(fake.client())
    assert not isinstance(info.value, RegistryUnavailableError)
    assert info.value.http_status == 403 and "HTTP 403 (error 40301) from" in str(info.value)
    assert "User is denied operation" in str(info.value)
    assert fake.requests.count(route) == 1  # a refusal is not retried


def test_a_refused_or_incompatible_registration_is_a_registry_error(fake: FakeRegistry) -> None:
    fake.on("POST", f"/subjects/{SUBJECT}", error(404, 40403))
    fake.on("GET", f"/subjects/{SUBJECT}/versions", error(404, 40401))
    fake.on("POST", f"/subjects/{SUBJECT}/versions", error(409, 409, "Schema being registered is incompatible"))
    with pytest.raises(IncompatibleSchemaError) as refused:
        fake.client().register_schema(SUBJECT, RECORD, "AVRO")
    assert str(refused.value) == (  # the in-memory registry's refusal is this type too (and so starts alike)
        f"the registry refused the schema of subject {SUBJECT!r} as incompatible: HTTP 409 (error 409) "
        f"from {fake.url}: Schema being registered is incompatible"
    )
    assert (refused.value.subject, refused.value.level, refused.value.http_status) == (SUBJECT, None, 409)
    fake.on("POST", f"/subjects/{SUBJECT}/versions", error(422, 42201, "Invalid schema"))
    with pytest.raises(RegistryError, match="cannot register a schema under subject") as info:
        fake.client().register_schema(SUBJECT, RECORD, "AVRO")
    assert info.value.error_code == 42201


def test_listing_the_versions_of_a_subject_can_be_refused(fake: FakeRegistry) -> None:
    fake.on("POST", f"/subjects/{SUBJECT}", error(404, 40403))
    fake.on("GET", f"/subjects/{SUBJECT}/versions", error(403, 40301))
    with pytest.raises(RegistryError, match="cannot list the versions of subject"):
        fake.client().lookup_schema(SUBJECT, RECORD, "AVRO")


def test_a_version_whose_references_are_missing_or_unreadable_is_not_our_schema(fake: FakeRegistry) -> None:
    """Lookup compares the subject's versions, references expanded, with the schema; a version whose
    reference is gone, unreadable, or of another type is no match (and no error)."""
    fake.on("POST", f"/subjects/{SUBJECT}", error(404, 40403))
    fake.on("GET", f"/subjects/{SUBJECT}/versions", (200, [1, 2, 3]))
    missing = [{"name": "Gone", "subject": "gone-value", "version": 1}]
    unreadable = [{"name": "Bad", "subject": "bad-value", "version": 1}]
    fake.on("GET", f"/subjects/{SUBJECT}/versions/3", version(3, 13, references=missing))
    fake.on("GET", "/subjects/gone-value/versions/1", error(404, 40402))
    fake.on("GET", f"/subjects/{SUBJECT}/versions/2", version(2, 12, references=unreadable))
    fake.on(
        "GET", "/subjects/bad-value/versions/1", (200, {"subject": "bad-value", "version": 1, "id": 20, "schema": "{"})
    )
    fake.on("GET", f"/subjects/{SUBJECT}/versions/1", version(1, 11, schemaType="JSON"))
    with pytest.raises(SchemaNotRegisteredError, match="schema is not registered under subject"):
        fake.client().lookup_schema(SUBJECT, RECORD, "AVRO")
    asked = {path for _, path in fake.requests}
    assert {f"/subjects/{SUBJECT}/versions/{n}" for n in (1, 2, 3)} <= asked


def test_an_unreadable_schema_is_not_compared_with_the_registered_versions(fake: FakeRegistry) -> None:
    fake.on("POST", f"/subjects/{SUBJECT}", error(404, 40403))
    fake.on("GET", f"/subjects/{SUBJECT}/versions", (200, [1]))
    with pytest.raises(SchemaNotRegisteredError):
        fake.client().lookup_schema(SUBJECT, '{"type": "record", "name": ', "AVRO")  # not even JSON
    assert ("GET", f"/subjects/{SUBJECT}/versions/1") not in fake.requests


def test_a_missing_latest_version_is_not_registered(fake: FakeRegistry) -> None:
    fake.on("GET", f"/subjects/{SUBJECT}/versions/latest", error(404, 40401))
    with pytest.raises(SchemaNotRegisteredError, match=r"has no versions in "):
        fake.client().lookup_version(SUBJECT, "latest", RECORD, "AVRO")


def test_a_hung_registry_fails_an_operation_within_its_operation_timeout() -> None:
    """A registry that accepts connections and never answers (as one stopped with SIGSTOP): attempts
    stop before one could end after operation_timeout_s, however many retries are left."""
    import socket
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel accepts connections; nothing ever reads or answers them
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = RegistryConfig(url=url, timeout_s=0.5, max_retries=10, retry_backoff_ms=200, operation_timeout_s=1.3)
        registry = ConfluentRegistry(config)
        started = time.monotonic()
        with pytest.raises(RegistryUnavailableError, match=r"could not fetch schema id 5 \(2 attempts in 1\.\ds\)"):
            registry.schema_by_id(5)
        assert time.monotonic() - started < 1.3 + 0.5
        registry.close()
