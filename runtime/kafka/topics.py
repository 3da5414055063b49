"""Plan and apply the topic catalog on a cluster: :func:`plan_topics` compares what the catalog wants
with what the cluster has (a pure function, no broker), :func:`read_cluster` reads the cluster's
side, :func:`apply_plan` carries a plan out with the AdminClient.

Applying only ever adds: it creates topics, raises partition counts and sets topic configs. It never
deletes a topic, lowers a partition count or moves replicas; the plan lists those as refused, with
the reason. Raising the partitions of a keyed topic changes which partition a key goes to (records
of one key are then no longer all in one partition, in order), so :func:`apply_plan` does it only
when allowed (``allow_repartition``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack the re-exports
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from ..config import KafkaConfig, TopicCheck, redact, secret_values
from ..errors import AuthenticationError, AuthorizationError, SchemabusError, ServerUnavailableError, TopicMismatchError
from ..kafka_logging import BrokerErrors
from ..topic import Topic
from .errors import AUTHENTICATION_CODES, AUTHORIZATION_CODES, error_text, kafka_error

__all__ = [
    "AppliedPlan",
    "ClusterTopic",
    "ConfigChange",
    "CreateTopic",
    "RaisePartitions",
    "Refusal",
    "SetConfigs",
    "TopicPlan",
    "WantedTopic",
    "apply_plan",
    "check_topics",
    "ensure_topics",
    "plan_topics",
    "read_cluster",
    "wanted_topic",
]

log = logging.getLogger("schemabus.kafka")

REPARTITION_REASON = (
    "the topic is keyed: more partitions change which partition each key goes to "
    "(a key's old and new records end up in different partitions, out of order)"
)


# --- what the catalog wants, what the cluster has -------------------------------------------------


@dataclass(frozen=True)
class WantedTopic:
    """A topic as the catalog declares it. ``configs`` holds every topic config the catalog sets
    (``retention.ms``, ``cleanup.policy`` and its free-form ones); ``replication_factor`` None is the
    broker's default; ``deleted``: the catalog retired the topic."""

    name: str
    partitions: int
    configs: Mapping[str, str]
    replication_factor: int | None = None
    keyed: bool = True
    deleted: bool = False


@dataclass(frozen=True)
class ClusterTopic:
    """A topic as the cluster has it; ``configs``: its effective topic configs (defaults included)."""

    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


def wanted_topic(topic: Topic[Any, Any], *, replication_factor: int | None = None) -> WantedTopic:
    """What a runtime :class:`Topic` (a generated constant) declares; ``replication_factor`` overrides
    its own."""
    return WantedTopic(
        topic.name,
        topic.partitions,
        topic.topic_configs(),
        replication_factor=topic.replication_factor if replication_factor is None else replication_factor,
        keyed=topic.key is not None,
    )


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTopic:
    topic: str
    partitions: int
    replication_factor: int | None
    configs: Mapping[str, str]

    def describe(self) -> str:
        replication = "broker default" if self.replication_factor is None else str(self.replication_factor)
        settings = ", ".join(f"{k}={v}" for k, v in sorted(self.configs.items()))
        return f"create {self.topic}: {self.partitions} partitions, replication {replication}, {settings}"


@dataclass(frozen=True)
class RaisePartitions:
    topic: str
    current: int
    wanted: int
    keyed: bool  # raising needs allow_repartition

    def describe(self) -> str:
        text = f"raise partitions of {self.topic}: {self.current} -> {self.wanted}"
        return f"{text} (keyed: needs --allow-repartition; {REPARTITION_REASON})" if self.keyed else text


@dataclass(frozen=True)
class ConfigChange:
    name: str
    current: str | None  # None: the cluster does not report the config
    wanted: str


@dataclass(frozen=True)
class SetConfigs:
    topic: str
    changes: tuple[ConfigChange, ...]

    def describe(self) -> str:
        return f"set configs of {self.topic}: " + ", ".join(
            f"{c.name} {c.current if c.current is not None else '(unset)'} -> {c.wanted}" for c in self.changes
        )


@dataclass(frozen=True)
class Refusal:
    """A difference apply will not resolve, and why."""

    topic: str
    change: str
    reason: str

    def describe(self) -> str:
        return f"refused: {self.change} of {self.topic}: {self.reason}"


Change = CreateTopic | RaisePartitions | SetConfigs


@dataclass(frozen=True)
class TopicPlan:
    """What apply would do (``changes``), what it refuses (``refused``), and the cluster's topics in a
    catalog domain that the catalog does not declare (``unmanaged``: reported, never touched)."""

    changes: tuple[Change, ...] = ()
    refused: tuple[Refusal, ...] = ()
    unmanaged: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.changes and not self.refused

    def to_json(self) -> dict[str, Any]:
        def change(c: Change) -> dict[str, Any]:
            if isinstance(c, CreateTopic):
                return {
                    "action": "create",
                    "topic": c.topic,
                    "partitions": c.partitions,
                    "replication_factor": c.replication_factor,
                    "configs": dict(sorted(c.configs.items())),
                }
            if isinstance(c, RaisePartitions):
                return {
                    "action": "raise_partitions",
                    "topic": c.topic,
                    "from": c.current,
                    "to": c.wanted,
                    "needs_allow_repartition": c.keyed,
                }
            return {
                "action": "set_configs",
                "topic": c.topic,
                "configs": [{"name": x.name, "from": x.current, "to": x.wanted} for x in c.changes],
            }

        return {
            "changes": [change(c) for c in self.changes],
            "refused": [{"topic": r.topic, "change": r.change, "reason": r.reason} for r in self.refused],
            "unmanaged": list(self.unmanaged),
        }


def domain(topic: str) -> str:
    """The first segment of ``{domain}.{entity}.{action}``."""
    return topic.split(".", 1)[0]


def _same(name: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if name == "cleanup.policy":  # a list: "compact,delete" is "delete,compact"
        return sorted(p.strip() for p in current.split(",")) == sorted(p.strip() for p in wanted.split(","))
    return current == wanted


def plan_topics(wanted: Iterable[WantedTopic], cluster: Mapping[str, ClusterTopic]) -> TopicPlan:
    """The changes that make ``cluster`` match ``wanted``, topic by topic (in name order).

    Only the configs the catalog sets are compared: others the cluster has are left as they are.
    """
    changes: list[Change] = []
    refused: list[Refusal] = []
    declared = {w.name: w for w in wanted}
    for w in sorted(declared.values(), key=lambda w: w.name):
        have = cluster.get(w.name)
        if w.deleted:
            if have is not None:
                refused.append(Refusal(w.name, "delete", "the catalog marks it deleted; apply never deletes a topic"))
            continue
        if have is None:
            changes.append(CreateTopic(w.name, w.partitions, w.replication_factor, dict(w.configs)))
            continue
        if w.partitions > have.partitions:
            changes.append(RaisePartitions(w.name, have.partitions, w.partitions, w.keyed))
        elif w.partitions < have.partitions:
            refused.append(
                Refusal(
                    w.name,
                    f"lower partitions {have.partitions} -> {w.partitions}",
                    "Kafka cannot remove partitions (recreating the topic would lose its records)",
                )
            )
        if w.replication_factor is not None and w.replication_factor != have.replication_factor:
            refused.append(
                Refusal(
                    w.name,
                    f"change replication factor {have.replication_factor} -> {w.replication_factor}",
                    "it needs a partition reassignment (kafka-reassign-partitions), which apply does not do",
                )
            )
        config_changes = tuple(
            ConfigChange(name, have.configs.get(name), value)
            for name, value in sorted(w.configs.items())
            if not _same(name, have.configs.get(name), value)
        )
        if config_changes:
            changes.append(SetConfigs(w.name, config_changes))
    domains = {domain(name) for name in declared}
    unmanaged = tuple(sorted(n for n in cluster if n not in declared and domain(n) in domains))
    return TopicPlan(tuple(changes), tuple(refused), unmanaged)


# --- the cluster ---------------------------------------------------------------------------------


def _admin(conf: Mapping[str, Any]) -> tuple[AdminClient, BrokerErrors]:
    errors = BrokerErrors(str(conf.get("bootstrap.servers", "?")), secret_values(conf))
    return AdminClient({**conf, **errors.config()}), errors


def _refused(conf: Mapping[str, Any], what: str, topic: str, e: BaseException) -> SchemabusError:
    error = kafka_error(e)
    text = redact(error_text(e), secret_values(conf))
    if error is not None and error.code() in AUTHORIZATION_CODES:
        return AuthorizationError(topic, f"not authorized to {what} {topic}: {text}", code=error.name())
    return SchemabusError(f"cannot {what} {topic}: {text}")


class _AlreadyExists(Exception):
    """A topic to create exists already."""


def _result(conf: Mapping[str, Any], errors: BrokerErrors, what: str, topic: str, future: Any, timeout: float) -> Any:
    started = time.monotonic()
    try:
        return future.result(timeout=timeout)
    except KafkaException as e:
        error = kafka_error(e)
        if error is not None and errors.unreachable_error(error):
            raise errors.unavailable(f"{what} {topic}", elapsed=time.monotonic() - started) from None
        if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            raise _AlreadyExists from None
        raise _refused(conf, what, topic, e) from None
    except concurrent.futures.TimeoutError:
        raise errors.unavailable(f"{what} {topic}", elapsed=time.monotonic() - started) from None


def _list_topics(admin: AdminClient, errors: BrokerErrors, timeout: float) -> Any:
    """The cluster's metadata, asked in slices of a second: when librdkafka reports every broker down
    (a closed port, a stopped cluster) the wait ends then, not at ``timeout``."""
    started = time.monotonic()
    while True:
        wait = max(min(timeout - (time.monotonic() - started), 1.0), 0.01)
        try:
            return errors.call("list the topics", partial(admin.list_topics, timeout=wait))
        except ServerUnavailableError:
            errors.drain(admin)
            if errors.last_code in AUTHENTICATION_CODES:  # the brokers answer, and refuse the credentials
                text = errors.last_specific or "authentication failed"
                code = KafkaError(errors.last_code).name()
                raise AuthenticationError("", f"authentication failed: {text}", code=code) from None
            if errors.all_down or time.monotonic() - started >= timeout:
                raise errors.unavailable("list the topics", elapsed=time.monotonic() - started, client=admin) from None


def read_cluster(conf: Mapping[str, Any], names: Iterable[str], *, timeout: float) -> dict[str, ClusterTopic]:
    """Every topic of the cluster (internal ones, ``__*``, left out), with partitions and replication;
    the configs of those among ``names``. Raises ServerUnavailableError when no broker answers within
    ``timeout`` seconds, SchemabusError (AuthorizationError) when the cluster refuses."""
    admin, errors = _admin(conf)
    metadata = _list_topics(admin, errors, timeout)
    out: dict[str, ClusterTopic] = {}
    for name, t in metadata.topics.items():
        if name.startswith("__") or t.error is not None:
            continue
        replicas = max((len(p.replicas) for p in t.partitions.values()), default=0)
        out[name] = ClusterTopic(name, len(t.partitions), replicas)
    wanted = sorted(n for n in set(names) if n in out)
    if wanted:
        futures = admin.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, n) for n in wanted], request_timeout=timeout
        )
        for resource, future in futures.items():
            entries = _result(conf, errors, "read the configs of", resource.name, future, timeout)
            have = out[resource.name]
            configs = {k: e.value for k, e in entries.items() if e.value is not None}
            out[resource.name] = ClusterTopic(have.name, have.partitions, have.replication_factor, configs)
    return out


@dataclass(frozen=True)
class AppliedPlan:
    """What :func:`apply_plan` did, and the changes it held back (keyed topics without repartitioning
    allowed)."""

    done: tuple[Change, ...]
    held: tuple[RaisePartitions, ...]


def apply_plan(
    conf: Mapping[str, Any], plan: TopicPlan, *, allow_repartition: bool = False, timeout: float
) -> AppliedPlan:
    """Carry out ``plan.changes``: create topics, raise partitions (of a keyed topic only with
    ``allow_repartition``), set configs. Refusals are not touched. Stops at the first change the
    cluster refuses (SchemabusError naming the topic); ServerUnavailableError when no broker answers
    within ``timeout`` seconds."""
    admin, errors = _admin(conf)
    done: list[Change] = []
    held: list[RaisePartitions] = []
    creates = [c for c in plan.changes if isinstance(c, CreateTopic)]
    if creates:
        futures = admin.create_topics(
            [
                NewTopic(
                    c.topic,
                    num_partitions=c.partitions,
                    replication_factor=-1 if c.replication_factor is None else c.replication_factor,
                    config=dict(c.configs),
                )
                for c in creates
            ],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        for c in creates:
            # _AlreadyExists: created meanwhile (another process applying, or a broker's auto-creation)
            with contextlib.suppress(_AlreadyExists):
                _result(conf, errors, "create topic", c.topic, futures[c.topic], timeout)
            done.append(c)
    raises: list[RaisePartitions] = []
    for change in plan.changes:
        if isinstance(change, RaisePartitions):
            (raises if allow_repartition or not change.keyed else held).append(change)
    if raises:
        futures = admin.create_partitions(
            [NewPartitions(r.topic, r.wanted) for r in raises], operation_timeout=timeout, request_timeout=timeout
        )
        for r in raises:
            _result(conf, errors, "raise the partitions of", r.topic, futures[r.topic], timeout)
            done.append(r)
    sets = [c for c in plan.changes if isinstance(c, SetConfigs)]
    if sets:
        resources = [
            ConfigResource(
                ConfigResource.Type.TOPIC,
                s.topic,
                incremental_configs=[
                    ConfigEntry(x.name, x.wanted, incremental_operation=AlterConfigOpType.SET) for x in s.changes
                ],
            )
            for s in sets
        ]
        altered = admin.incremental_alter_configs(resources, request_timeout=timeout)
        by_topic = {resource.name: future for resource, future in altered.items()}
        for s in sets:
            _result(conf, errors, "set the configs of", s.topic, by_topic[s.topic], timeout)
            done.append(s)
    return AppliedPlan(tuple(done), tuple(held))


# --- the runtime's topics -----------------------------------------------------------------------


def _creates(
    conf: Mapping[str, Any],
    wanted: list[WantedTopic],
    timeout: float,
    cluster: Mapping[str, ClusterTopic] | None = None,
) -> tuple[TopicPlan, Mapping[str, ClusterTopic]]:
    """The plan that creates those of ``wanted`` the cluster lacks (every topic is listed: a metadata
    request naming a missing topic could make the broker auto-create it with its defaults)."""
    if cluster is None:
        cluster = read_cluster(conf, (), timeout=timeout)
    plan = plan_topics(wanted, cluster)
    return TopicPlan(tuple(c for c in plan.changes if isinstance(c, CreateTopic))), cluster


def ensure_topics(
    kafka: KafkaConfig | str,
    topics: Iterable[Topic[Any, Any]],
    *,
    replication_factor: int | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create each of ``topics`` that does not exist yet, as the catalog declares it (partitions,
    replication, ``retention.ms``, ``cleanup.policy`` and its further configs; ``replication_factor``
    overrides the topic's). Existing topics are left as they are (``schemabus topics apply`` changes
    them). Returns the names created; raises ServerUnavailableError when no broker answers within
    ``timeout`` seconds, SchemabusError (AuthorizationError) naming a topic the cluster refused."""
    wanted = [wanted_topic(t, replication_factor=replication_factor) for t in topics]
    if not wanted:
        return []
    config = kafka if isinstance(kafka, KafkaConfig) else KafkaConfig(bootstrap_servers=kafka)
    conf = config.librdkafka_config()
    plan, _ = _creates(conf, wanted, timeout)
    return [c.topic for c in apply_plan(conf, plan, timeout=timeout).done]


def check_topics(
    conf: Mapping[str, Any],
    topics: Iterable[Topic[Any, Any]],
    mode: TopicCheck,
    *,
    timeout: float,
    cluster: Mapping[str, ClusterTopic] | None = None,
) -> list[str]:
    """The start-up check of a bus or runner (``topic_check``) on ``topics``; returns the names created.
    ``cluster``: the topics :func:`read_cluster` read already (else they are read here).

    * ``create``: create the missing ones as the catalog declares them; a partition count that differs
      from the catalog's is logged as a warning.
    * ``verify``: raise :class:`TopicMismatchError` naming every missing topic and every partition count
      that differs.
    * ``off``: nothing (a broker's auto-creation, if enabled, makes missing topics with its defaults).
    """
    wanted = {t.name: wanted_topic(t) for t in topics}
    if mode == "off" or not wanted:
        return []
    plan, cluster = _creates(conf, list(wanted.values()), timeout, cluster)
    differ = [
        f"{name} has {cluster[name].partitions} partitions, the catalog says {w.partitions}"
        for name, w in sorted(wanted.items())
        if name in cluster and cluster[name].partitions != w.partitions
    ]
    if mode == "verify":
        problems = [f"{c.topic} does not exist" for c in plan.changes] + differ
        if problems:
            names = tuple(sorted({p.split(" ", 1)[0] for p in problems}))
            raise TopicMismatchError(
                "topics differ from the catalog: " + "; ".join(problems) + " (schemabus topics plan shows the "
                "changes, schemabus topics apply makes them)",
                topics=names,
            )
        return []
    for text in differ:
        log.warning("%s (schemabus topics plan shows the change)", text)
    if not plan.changes:
        return []
    try:
        done = apply_plan(conf, plan, timeout=timeout).done
    except AuthorizationError as e:
        raise AuthorizationError(
            e.topic,
            code=e.code,
            reason=f"{e.reason} (this client does not see the topic: it is missing, or an ACL to describe it is; "
            "create missing topics with schemabus topics apply, or set topic_check='off')",
        ) from None
    created = [c.topic for c in done]
    log.info("created topics %s as the catalog declares them", ", ".join(created))
    return created
