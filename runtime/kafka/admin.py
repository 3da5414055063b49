"""Topic administration: create the catalog's topics that do not exist yet."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export

from ..config import KafkaConfig, redact
from ..errors import AuthorizationError, SchemabusError
from ..kafka_logging import librdkafka_logger
from ..topic import Topic
from .errors import AUTHORIZATION_CODES, error_text, kafka_error

__all__ = ["ensure_topics"]


def ensure_topics(
    kafka: KafkaConfig | str,
    topics: Iterable[Topic[Any, Any]],
    *,
    replication_factor: int | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create each topic that does not exist yet with the catalog's partitions, ``retention.ms`` and
    ``cleanup.policy`` (replication: the broker's default unless given). Existing topics are left
    as they are. Returns the names created; raises SchemabusError naming a topic that failed."""
    config = kafka if isinstance(kafka, KafkaConfig) else KafkaConfig(bootstrap_servers=kafka)
    conf: dict[str, Any] = {**config.librdkafka_config(), "logger": librdkafka_logger()}
    admin = AdminClient(conf)
    wanted = {t.name: t for t in topics}
    new = [
        NewTopic(
            t.name,
            num_partitions=t.partitions,
            replication_factor=-1 if replication_factor is None else replication_factor,
            config={"retention.ms": str(t.retention_ms), "cleanup.policy": t.cleanup_policy},
        )
        for t in wanted.values()
    ]
    if not new:
        return []
    futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as e:
            error = kafka_error(e)
            if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            text = redact(error_text(e), config.secrets())
            if error is not None and error.code() in AUTHORIZATION_CODES:
                raise AuthorizationError(name, f"not authorized to create the topic: {text}") from None
            raise SchemabusError(f"cannot create topic {name}: {text}") from None
        except concurrent.futures.TimeoutError:
            raise SchemabusError(
                f"cannot create topic {name}: no answer from {config.bootstrap_servers} within {timeout:g}s"
            ) from None
        created.append(name)
    return created
