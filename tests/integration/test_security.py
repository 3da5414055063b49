"""Authentication and authorization failures against a real broker: typed, within seconds, no secret leaked.

librdkafka reports a wrong SASL password only through its error callback (and retries on its own),
and a missing ACL through a delivery report or a consumer error event; the runtime has to turn them
into typed errors for the caller, never only a log line. The dev broker has a SASL_PLAINTEXT
listener (``kafka_sasl``) with SASL/PLAIN users and ACLs enforced: ``alice`` gets ACLs from the
tests that need them (on that test's own topics and groups), ``bob`` never gets any. Topics are
created and ACLs granted over the same broker's PLAINTEXT listener (``sasl_bootstrap``), whose
anonymous principal is a super user. The broker is always one this session started (with external
servers, a second one), so these tests never skip.

Every test uses its own topics and groups (uuid names). How long the caller waited for each typed
error is logged (``-o log_cli=true --log-cli-level=INFO`` shows it, logger ``schemabus.tests.security``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack the re-exports
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from pydantic import SecretStr

import platform_events as m
import platform_events as pe
from schemabus.runtime import DeliveryResult, Event, FunctionHandler, Topic
from schemabus.runtime.config import ConsumerSettings, KafkaConfig, ProducerSettings
from schemabus.runtime.consumer import ConsumerRunner
from schemabus.runtime.devstack import SaslListener, SaslUser
from schemabus.runtime.errors import (
    AuthenticationError,
    AuthorizationError,
    PublishError,
    TransactionAbortedError,
)
from schemabus.runtime.kafka import KafkaBus, ensure_topics
from schemabus.runtime.kafka import bus as kafka_bus
from schemabus.runtime.testing import InMemoryRegistry
from tests.integration.test_exactly_once import keys, read_to_end

pytestmark = pytest.mark.integration

T = TypeVar("T")
TIMEOUT = 30.0  # generous for a 2-core machine, yet bounded: no test can hang
# What "within seconds" means here: the runtime must hand the caller a typed error this fast.
# librdkafka itself knows after one round trip (well under a second on the dev broker).
ERROR_BOUND = 10.0
WRONG_PASSWORD = "Wr0ng-Horse-Battery-Staple"
timing = logging.getLogger("schemabus.tests.security")

# librdkafka error codes as KafkaError.name() spells them.
AUTHENTICATION_CODES = {"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED"}


def log_time_to_error(elapsed: float, error: object) -> None:
    what = type(error).__name__ if error is not None else "still no error"
    timing.info("%s: %s after %.3f s", os.environ.get("PYTEST_CURRENT_TEST", "?"), what, elapsed)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 2 * TIMEOUT))


def fresh(topic: Topic[Any, Any] = pe.AGENT_LIFECYCLE_CREATED) -> Topic[Any, Any]:
    """A copy of a catalog topic under a unique name (its subjects are unique too)."""
    _, entity, action = topic.name.split(".")
    return dataclasses.replace(topic, name=f"t{uuid.uuid4().hex[:12]}.{entity}.{action}")


def agent_created(n: int = 0) -> m.AgentCreated:
    return m.AgentCreated(
        agent_id=uuid.UUID(int=n + 1),
        agent_type=m.AgentType.RESEARCHER,
        display_name=f"researcher {n}",
        created_at=dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC),
        capabilities=["search"],
        creator_id="user-4711",
        labels={"n": str(n)},
    )


def as_user(sasl: SaslListener, user: SaslUser, password: str | None = None) -> KafkaConfig:
    """The runtime's configuration for ``user`` on the SASL listener (``password`` to get it wrong)."""
    return KafkaConfig(
        bootstrap_servers=sasl.address,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=user.username,
        sasl_password=SecretStr(user.password if password is None else password),
    )


def grant(bootstrap: str, user: SaslUser, operation: AclOperation, resource: ResourceType, name: str) -> None:
    """Allow ``user`` ``operation`` on one topic or group, and wait until the broker enforces it.

    The controller acknowledges CreateAcls once the ACL is committed; the broker's authorizer
    applies it when it replays that record, which DescribeAcls (answered by the broker) shows.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    binding = AclBinding(
        resource, name, ResourcePatternType.LITERAL, user.principal, "*", operation, AclPermissionType.ALLOW
    )
    for future in admin.create_acls([binding]).values():
        future.result(timeout=TIMEOUT)
    query = AclBindingFilter(
        resource, name, ResourcePatternType.LITERAL, user.principal, "*", operation, AclPermissionType.ALLOW
    )
    deadline = time.monotonic() + TIMEOUT
    while binding not in admin.describe_acls(query).result(timeout=TIMEOUT):
        assert time.monotonic() < deadline, f"ACL {binding} not visible within {TIMEOUT}s"
        time.sleep(0.05)


async def publish_timed(bus: KafkaBus, topic: Topic[Any, Any]) -> tuple[DeliveryResult | PublishError, float]:
    """Publish one record; return the result or the PublishError, and how long the caller waited."""
    started = time.monotonic()
    try:
        result: DeliveryResult | PublishError = await bus.publish(topic, agent_created(), key="a")
    except PublishError as e:
        result = e
    return result, time.monotonic() - started


async def run_until_it_fails(runner: ConsumerRunner) -> tuple[BaseException | None, float]:
    """Run ``runner`` for up to ERROR_BOUND seconds: (what ``run()`` raised, seconds), or (None, ...)
    if it was still running then; it is stopped gracefully in that case."""
    started = time.monotonic()
    task = asyncio.create_task(runner.run())
    done, _ = await asyncio.wait([task], timeout=ERROR_BOUND)
    elapsed = time.monotonic() - started
    if not done:
        runner.stop()
        await asyncio.wait_for(task, TIMEOUT)
        return None, elapsed
    return task.exception(), elapsed


def quiet_handler(topic: Topic[Any, Any], seen: list[Event[Any, Any]] | None = None) -> Any:
    """A handler of ``topic`` in a consumer group of its own."""

    async def handle(event: Event[Any, Any]) -> None:
        if seen is not None:
            seen.append(event)

    return topic.handler(group=f"g{uuid.uuid4().hex[:12]}")(handle)


# --- producing -----------------------------------------------------------------------------------


def test_a_wrong_password_is_an_authentication_error_within_seconds(
    sasl_bootstrap: str, kafka_sasl: SaslListener
) -> None:
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    with KafkaBus(as_user(kafka_sasl, kafka_sasl.alice, WRONG_PASSWORD), InMemoryRegistry()) as bus:
        error, elapsed = run(publish_timed(bus, topic))
        log_time_to_error(elapsed, error)
        assert isinstance(error, AuthenticationError), error
        assert elapsed < ERROR_BOUND, f"the AuthenticationError took {elapsed:.1f}s"
        again, at_once = run(publish_timed(bus, topic))  # librdkafka retries; the bus does not wait again
        assert isinstance(again, AuthenticationError) and at_once < 1.0
        assert WRONG_PASSWORD not in repr(bus)
    assert not error.retriable and not error.possibly_persisted
    assert error.code in AUTHENTICATION_CODES and error.topic == topic.name
    assert "authentication failed" in str(error)
    for text in (str(error), repr(error), error.reason, str(again)):
        assert WRONG_PASSWORD not in text


def test_a_topic_without_a_write_acl_is_an_authorization_error_within_seconds(
    sasl_bootstrap: str, kafka_sasl: SaslListener
) -> None:
    """alice may write another topic, so her idempotent producer gets its producer id (WRITE on any
    topic implies IdempotentWrite); this topic itself is refused."""
    topic, elsewhere = fresh(), fresh()
    ensure_topics(sasl_bootstrap, [topic, elsewhere])
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.WRITE, ResourceType.TOPIC, elsewhere.name)
    with KafkaBus(as_user(kafka_sasl, kafka_sasl.alice), InMemoryRegistry()) as bus:
        error, elapsed = run(publish_timed(bus, topic))
        log_time_to_error(elapsed, error)
        assert isinstance(error, AuthorizationError), error
        assert elapsed < ERROR_BOUND, f"the AuthorizationError took {elapsed:.1f}s"
        again, _ = run(publish_timed(bus, topic))  # and again: the refusal is not cached for good
        assert isinstance(again, AuthorizationError), again
        allowed, _ = run(publish_timed(bus, elsewhere))  # the same producer still writes where it may
        assert isinstance(allowed, DeliveryResult), allowed
    assert not error.retriable and not error.possibly_persisted
    assert error.code == "TOPIC_AUTHORIZATION_FAILED"
    assert error.topic == topic.name and "not authorized" in str(error)
    assert kafka_sasl.alice.password not in str(error)


def test_a_user_without_any_acl_keeps_getting_authorization_errors(
    sasl_bootstrap: str, kafka_sasl: SaslListener, caplog: pytest.LogCaptureFixture
) -> None:
    """bob may write nowhere: the metadata refuses him the topic, and the broker refuses his idempotent
    producer a producer id (a fatal error for librdkafka, about half a second later). Both are
    authorization failures: every publish meanwhile and after must say so, and not retriable."""
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    outcomes: list[DeliveryResult | PublishError] = []
    with KafkaBus(as_user(kafka_sasl, kafka_sasl.bob), InMemoryRegistry()) as bus:
        first, elapsed = run(publish_timed(bus, topic))
        log_time_to_error(elapsed, first)
        outcomes.append(first)
        deadline = time.monotonic() + 5  # long after the producer id was refused
        while time.monotonic() < deadline and isinstance(outcomes[-1], AuthorizationError):
            time.sleep(0.25)
            outcomes.append(run(publish_timed(bus, topic))[0])
    assert elapsed < ERROR_BOUND, f"the first error took {elapsed:.1f}s"
    for outcome in outcomes:
        assert isinstance(outcome, AuthorizationError), repr(outcome)
        assert not outcome.retriable
        assert outcome.code in {"TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED"}
    assert "unexpected error" not in caplog.text


def test_a_write_acl_lets_the_user_publish(sasl_bootstrap: str, kafka_sasl: SaslListener) -> None:
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.WRITE, ResourceType.TOPIC, topic.name)
    with KafkaBus(as_user(kafka_sasl, kafka_sasl.alice), InMemoryRegistry()) as bus:
        result, _ = run(publish_timed(bus, topic))
    assert isinstance(result, DeliveryResult), result
    assert result.topic == topic.name and result.offset == 0 and 0 <= result.partition < topic.partitions


def test_the_admin_user_is_a_super_user(sasl_bootstrap: str, kafka_sasl: SaslListener) -> None:
    """No ACL anywhere, yet admin writes (super.users): the SASL listener's own control case."""
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    with KafkaBus(as_user(kafka_sasl, kafka_sasl.admin), InMemoryRegistry()) as bus:
        result, _ = run(publish_timed(bus, topic))
    assert isinstance(result, DeliveryResult) and result.offset == 0, result


# --- consuming -----------------------------------------------------------------------------------


def test_a_consumer_with_read_acls_receives_records(sasl_bootstrap: str, kafka_sasl: SaslListener) -> None:
    """The control for the failing cases below: the SASL path itself works."""
    topic = fresh()
    registry = InMemoryRegistry()
    with KafkaBus(sasl_bootstrap, registry) as bus:
        bus.ensure_topics([topic])
        run(bus.publish(topic, agent_created(7), key="a"))
    seen: list[Event[Any, Any]] = []
    handler = quiet_handler(topic, seen)
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.READ, ResourceType.TOPIC, topic.name)
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.READ, ResourceType.GROUP, handler.group)
    runner = ConsumerRunner(
        as_user(kafka_sasl, kafka_sasl.alice).librdkafka_config(), registry, [handler], dead_letters=False
    )

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        try:
            deadline = time.monotonic() + TIMEOUT
            while not seen and not task.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            runner.stop()
            await asyncio.wait_for(task, TIMEOUT)

    run(scenario())
    assert [(e.topic, e.offset, e.value) for e in seen] == [(topic.name, 0, agent_created(7))]


def test_a_consumer_with_a_wrong_password_fails_run_with_an_authentication_error(
    sasl_bootstrap: str, kafka_sasl: SaslListener
) -> None:
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    config = as_user(kafka_sasl, kafka_sasl.alice, WRONG_PASSWORD).librdkafka_config()
    runner = ConsumerRunner(config, InMemoryRegistry(), [quiet_handler(topic)], dead_letters=False)
    error, elapsed = run(run_until_it_fails(runner))
    log_time_to_error(elapsed, error)
    assert error is not None, f"run() still running after {ERROR_BOUND}s: a wrong password went unnoticed"
    assert isinstance(error, AuthenticationError), repr(error)
    assert not error.retriable and error.code in AUTHENTICATION_CODES
    assert WRONG_PASSWORD not in str(error)


@pytest.mark.parametrize(
    ("granted", "code"),
    [
        pytest.param((), "GROUP_AUTHORIZATION_FAILED", id="no ACL at all"),
        pytest.param((ResourceType.TOPIC,), "GROUP_AUTHORIZATION_FAILED", id="no READ on the group"),
        pytest.param((ResourceType.GROUP,), "TOPIC_AUTHORIZATION_FAILED", id="no READ on the topic"),
    ],
)
def test_a_consumer_without_read_acls_fails_run_with_an_authorization_error(
    sasl_bootstrap: str,
    kafka_sasl: SaslListener,
    granted: tuple[ResourceType, ...],
    code: str,
) -> None:
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    handler = quiet_handler(topic)
    # bob is never granted anything; alice gets READ on this test's own topic or group only.
    user = kafka_sasl.alice if granted else kafka_sasl.bob
    for resource in granted:
        name = topic.name if resource == ResourceType.TOPIC else handler.group
        grant(sasl_bootstrap, user, AclOperation.READ, resource, name)
    config = as_user(kafka_sasl, user).librdkafka_config()
    # The consumer's own refusal, not the start-up topic check's (tests/integration/test_topic_check.py).
    settings = ConsumerSettings(topic_check="off")
    runner = ConsumerRunner(config, InMemoryRegistry(), [handler], dead_letters=False, settings=settings)
    error, elapsed = run(run_until_it_fails(runner))
    log_time_to_error(elapsed, error)
    assert error is not None, f"run() still running after {ERROR_BOUND}s: a missing ACL went unnoticed"
    assert isinstance(error, AuthorizationError), repr(error)
    assert not error.retriable and error.code == code


# --- secrets -------------------------------------------------------------------------------------


def test_a_wrong_password_never_appears_in_logs(
    sasl_bootstrap: str,
    kafka_sasl: SaslListener,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every log record (DEBUG included, librdkafka's own with its security and broker debug
    contexts on) while a producer and a consumer fail to authenticate, and what reached stderr."""
    caplog.set_level(logging.DEBUG)
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    config = as_user(kafka_sasl, kafka_sasl.alice, WRONG_PASSWORD).model_copy(
        update={"extra": {"debug": "security,broker"}}
    )
    with KafkaBus(config, InMemoryRegistry()) as bus:
        error, _ = run(publish_timed(bus, topic))
    assert isinstance(error, AuthenticationError), error

    assert "Authentication failed" in caplog.text, "the producer's failure was not logged at all"
    producer_records = list(caplog.records)
    caplog.clear()  # the consumer's own records from here on

    runner = ConsumerRunner(config.librdkafka_config(), InMemoryRegistry(), [quiet_handler(topic)], dead_letters=False)
    consumer_error, _ = run(run_until_it_fails(runner))
    assert isinstance(consumer_error, AuthenticationError), repr(consumer_error)
    assert "Authentication failed" in caplog.text, "the consumer's failure was not logged at all"
    for record in [*producer_records, *caplog.records]:  # also arguments a handler with another format could print
        assert WRONG_PASSWORD not in record.getMessage()
    assert WRONG_PASSWORD not in caplog.text and WRONG_PASSWORD not in str(consumer_error)
    out, err = capfd.readouterr()
    assert WRONG_PASSWORD not in out and WRONG_PASSWORD not in err


# --- fatal errors and failed starts, caused by missing ACLs ----------------------------------------------


def revoke(bootstrap: str, user: SaslUser, operation: AclOperation, resource: ResourceType, name: str) -> None:
    """Take back what ``grant`` gave, and wait until the broker no longer lists it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    query = AclBindingFilter(
        resource, name, ResourcePatternType.LITERAL, user.principal, "*", operation, AclPermissionType.ALLOW
    )
    for future in admin.delete_acls([query]).values():
        future.result(timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while admin.describe_acls(query).result(timeout=TIMEOUT):
        assert time.monotonic() < deadline, f"ACLs for {user.username} on {name} still listed after {TIMEOUT}s"
        time.sleep(0.05)


def test_a_refused_producer_id_replaces_the_producer_until_an_acl_lets_it_publish(
    sasl_bootstrap: str, kafka_sasl: SaslListener, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """bob's idempotent producer is refused a producer id: a fatal error for librdkafka, so the bus
    replaces its producer (again after each refusal, backing off) and publishes fail with a typed,
    not retriable AuthorizationError meanwhile. Once bob may write the topic, a new producer gets
    its id and publishing works again, on the same bus.

    Replacing the producer can fail too. Nothing outside the process can make librdkafka refuse to
    create a client (it takes a broken configuration file, or no file descriptors left), so that
    one fault is simulated where schemabus meets confluent-kafka: the first replacement is refused
    as librdkafka refuses a client; the bus logs it, keeps failing publishes with the fatal error,
    and tries again after a second."""
    caplog.set_level(logging.WARNING, logger="schemabus.kafka")
    topic = fresh()
    ensure_topics(sasl_bootstrap, [topic])
    real_producer = kafka_bus.Producer
    refused: list[dict[str, Any]] = []

    def producer(conf: dict[str, Any]) -> Any:
        if not refused:
            refused.append(conf)
            raise KafkaException(KafkaError(KafkaError._INVALID_ARG, "Failed to create producer: no file descriptors"))
        return real_producer(conf)

    with KafkaBus(as_user(kafka_sasl, kafka_sasl.bob), InMemoryRegistry()) as bus:
        first = bus.producer
        monkeypatch.setattr(kafka_bus, "Producer", producer)
        error, elapsed = run(publish_timed(bus, topic))
        log_time_to_error(elapsed, error)
        assert isinstance(error, AuthorizationError) and not error.retriable, error
        deadline = time.monotonic() + TIMEOUT
        while not refused or bus.producer is first:  # refused once, then replaced for real
            assert time.monotonic() < deadline, f"refused {len(refused)}, replaced {bus.producer is not first}"
            time.sleep(0.05)
        assert "cannot replace the producer after a fatal error" in caplog.text
        grant(sasl_bootstrap, kafka_sasl.bob, AclOperation.WRITE, ResourceType.TOPIC, topic.name)
        try:
            outcomes: list[DeliveryResult | PublishError] = []
            deadline = time.monotonic() + 2 * TIMEOUT  # replacements back off: 1, 2, 4... s
            while not isinstance(outcome := run(publish_timed(bus, topic))[0], DeliveryResult):
                outcomes.append(outcome)
                assert time.monotonic() < deadline, f"still refused after the grant: {outcomes[-1]!r}"
                time.sleep(0.25)
        finally:
            revoke(sasl_bootstrap, kafka_sasl.bob, AclOperation.WRITE, ResourceType.TOPIC, topic.name)
    assert all(isinstance(o, AuthorizationError) for o in outcomes), outcomes  # until then: typed refusals
    assert outcome.topic == topic.name
    assert "unexpected error" not in caplog.text


def test_a_transactional_bus_refused_its_transactional_id_fails_its_with_block_and_is_closed(
    kafka_sasl: SaslListener,
) -> None:
    """``with bus`` initializes transactions; bob may not use any transactional id, so it fails with
    a typed AuthorizationError, and the bus is closed again (no producer left running)."""
    settings = ProducerSettings(transactional_id=f"txn-{uuid.uuid4().hex[:12]}", transaction_timeout_ms=10_000)
    bus = KafkaBus(as_user(kafka_sasl, kafka_sasl.bob), InMemoryRegistry(), producer=settings)
    started = time.monotonic()
    with pytest.raises(AuthorizationError, match="cannot initialize transactions") as info, bus:
        raise AssertionError("the block must not run")
    assert time.monotonic() - started < ERROR_BOUND
    assert not info.value.retriable
    assert info.value.code in {"TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED"}
    with pytest.raises(PublishError, match="the bus is closed"):
        bus.publish_sync(fresh(), agent_created(), key="a")


def test_a_transaction_with_a_refused_record_cannot_commit_so_it_is_aborted(
    sasl_bootstrap: str, kafka_sasl: SaslListener
) -> None:
    """alice may use her transactional id and write one topic, not the other: the record for the other
    is refused, which leaves the transaction abortable only. The commit fails, the bus aborts it (the
    allowed record is never visible) and says so with a TransactionAbortedError; the next transaction
    on the same bus commits."""
    allowed, refused = fresh(), fresh()
    ensure_topics(sasl_bootstrap, [allowed, refused])
    txn_id = f"txn-{uuid.uuid4().hex[:12]}"
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, txn_id)
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.WRITE, ResourceType.TOPIC, allowed.name)
    # topic_check off: the refused record must reach the broker (alice does not see its topic, so the
    # start-up check would refuse it before it entered the transaction).
    settings = ProducerSettings(transactional_id=txn_id, transaction_timeout_ms=10_000, topic_check="off")
    bus = KafkaBus(as_user(kafka_sasl, kafka_sasl.alice), InMemoryRegistry(), producer=settings)

    async def scenario() -> tuple[TransactionAbortedError, AuthorizationError]:
        async with bus:
            with pytest.raises(TransactionAbortedError, match="the commit failed") as aborted:
                async with bus.transaction():
                    await bus.publish(allowed, agent_created(1), key="aborted")
                    with pytest.raises(AuthorizationError) as denied:
                        await bus.publish(refused, agent_created(2), key="refused")
            deadline = time.monotonic() + TIMEOUT
            while True:  # the refusal may hold the bus for a moment, until a metadata probe answers
                try:
                    async with bus.transaction():
                        await bus.publish(allowed, agent_created(3), key="committed")
                    break
                except AuthorizationError:
                    assert time.monotonic() < deadline, "the bus kept refusing the allowed topic"
                    await asyncio.sleep(0.2)
        return aborted.value, denied.value

    aborted, denied = run(scenario())
    assert denied.code == "TOPIC_AUTHORIZATION_FAILED" and denied.topic == refused.name
    assert aborted.retriable and "failed delivery" in str(aborted)  # librdkafka: see the records' own errors
    assert keys(read_to_end(sasl_bootstrap, allowed.name, "read_committed")) == ["committed"]


def test_an_exactly_once_runner_whose_producer_may_not_commit_the_group_offsets_aborts_and_stops(
    sasl_bootstrap: str, kafka_sasl: SaslListener
) -> None:
    """The runner consumes as admin, its transactional bus produces as alice, who may write the output
    but not commit offsets for the consumer group (no READ on it). The first commit point cannot send
    the offsets: the transaction is aborted (its outputs never visible) and run() raises why."""
    source, target = fresh(), fresh()
    registry = InMemoryRegistry()
    with KafkaBus(sasl_bootstrap, registry) as inputs:
        inputs.ensure_topics([source, target])
        for n in range(3):
            inputs.publish_sync(source, agent_created(n), key=str(n))
    txn_id, group = f"txn-{uuid.uuid4().hex[:12]}", f"g{uuid.uuid4().hex[:12]}"
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, txn_id)
    grant(sasl_bootstrap, kafka_sasl.alice, AclOperation.WRITE, ResourceType.TOPIC, target.name)
    settings = ProducerSettings(transactional_id=txn_id, transaction_timeout_ms=10_000)
    bus = KafkaBus(as_user(kafka_sasl, kafka_sasl.alice), registry, producer=settings)

    async def transform(event: Event[Any, Any]) -> None:
        await bus.publish(target, event.value, key=event.key)

    handler = FunctionHandler(source, transform, group=group)
    admin = as_user(kafka_sasl, kafka_sasl.admin).librdkafka_config()
    runner = ConsumerRunner(admin, registry, [handler], exactly_once=bus, commit_interval=0.2)

    async def scenario() -> BaseException | None:
        async with bus:
            outcome = await asyncio.wait_for(asyncio.gather(runner.run(), return_exceptions=True), TIMEOUT)
        return outcome[0]

    error = run(scenario())
    assert isinstance(error, TransactionAbortedError), repr(error)
    assert "GROUP_AUTHORIZATION_FAILED" in str(error) or "not authorized" in str(error).lower(), error
    assert read_to_end(sasl_bootstrap, target.name, "read_committed") == []


def test_a_user_may_not_create_topics_without_an_acl(kafka_sasl: SaslListener) -> None:
    topic = fresh()
    with pytest.raises(AuthorizationError, match="not authorized to create topic") as info:
        ensure_topics(as_user(kafka_sasl, kafka_sasl.bob), [topic], timeout=TIMEOUT)
    assert info.value.topic == topic.name and kafka_sasl.bob.password not in str(info.value)
