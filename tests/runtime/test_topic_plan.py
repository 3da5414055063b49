"""The topic planner (runtime/kafka/topics.py, plan_topics): the catalog against a cluster's state, no broker."""

from __future__ import annotations

from schemabus.runtime.kafka.topics import (
    ClusterTopic,
    ConfigChange,
    CreateTopic,
    RaisePartitions,
    Refusal,
    SetConfigs,
    TopicPlan,
    WantedTopic,
    plan_topics,
)

WEEK = {"retention.ms": "604800000", "cleanup.policy": "delete"}


def wanted(name: str = "orders.order.placed", partitions: int = 3, **kw: object) -> WantedTopic:
    return WantedTopic(name, partitions, dict(kw.pop("configs", WEEK)), **kw)  # type: ignore[arg-type]


def cluster(*topics: ClusterTopic) -> dict[str, ClusterTopic]:
    return {t.name: t for t in topics}


def have(name: str = "orders.order.placed", partitions: int = 3, configs: dict[str, str] = WEEK) -> ClusterTopic:
    return ClusterTopic(name, partitions, 1, {**configs, "segment.ms": "604800000"})


def test_a_missing_topic_is_created_with_the_catalog_settings() -> None:
    plan = plan_topics([wanted(replication_factor=1)], {})
    assert plan == TopicPlan(changes=(CreateTopic("orders.order.placed", 3, 1, WEEK),))
    assert not plan.in_sync


def test_a_topic_with_fewer_partitions_is_raised_and_a_keyed_one_needs_repartitioning() -> None:
    plan = plan_topics([wanted(partitions=6), wanted("orders.order.shipped", 6, keyed=False)],
                       cluster(have(), have("orders.order.shipped")))  # fmt: skip
    assert plan.changes == (
        RaisePartitions("orders.order.placed", 3, 6, keyed=True),
        RaisePartitions("orders.order.shipped", 3, 6, keyed=False),
    )
    assert "needs --allow-repartition" in plan.changes[0].describe()
    assert "needs --allow-repartition" not in plan.changes[1].describe()


def test_configs_that_differ_are_set_and_others_of_the_cluster_are_left_alone() -> None:
    configs = {"retention.ms": "86400000", "cleanup.policy": "delete,compact", "min.insync.replicas": "2"}
    plan = plan_topics([wanted(configs=configs)], cluster(have(configs={**WEEK, "cleanup.policy": "compact,delete"})))
    assert plan.changes == (
        SetConfigs(
            "orders.order.placed",
            (ConfigChange("min.insync.replicas", None, "2"), ConfigChange("retention.ms", "604800000", "86400000")),
        ),
    )
    assert plan.changes[0].describe() == (
        "set configs of orders.order.placed: min.insync.replicas (unset) -> 2, retention.ms 604800000 -> 86400000"
    )


def test_fewer_partitions_or_another_replication_factor_are_refused_with_the_reason() -> None:
    plan = plan_topics([wanted(partitions=2, replication_factor=3)], cluster(have()))
    assert plan.changes == ()
    assert [(r.change, r.reason.split(" (")[0]) for r in plan.refused] == [
        ("lower partitions 3 -> 2", "Kafka cannot remove partitions"),
        ("change replication factor 1 -> 3", "it needs a partition reassignment"),
    ]
    assert not plan.in_sync


def test_a_topic_the_catalog_marks_deleted_is_never_deleted() -> None:
    plan = plan_topics([wanted(deleted=True), wanted("orders.order.gone", deleted=True)], cluster(have()))
    assert plan == TopicPlan(
        refused=(Refusal("orders.order.placed", "delete", "the catalog marks it deleted; apply never deletes a topic"),)
    )


def test_topics_of_a_catalog_domain_that_the_catalog_lacks_are_reported_only() -> None:
    plan = plan_topics([wanted()], cluster(have(), have("orders.order.legacy"), have("billing.invoice.sent")))
    assert plan == TopicPlan(unmanaged=("orders.order.legacy",))
    assert plan.in_sync
    assert plan.to_json() == {"changes": [], "refused": [], "unmanaged": ["orders.order.legacy"]}


def test_a_cluster_that_matches_the_catalog_needs_nothing() -> None:
    plan = plan_topics([wanted(replication_factor=1)], cluster(have()))
    assert plan == TopicPlan()
    assert plan.in_sync


def test_the_json_form_names_every_change() -> None:
    plan = plan_topics(
        [wanted(partitions=6), wanted("orders.order.new")], cluster(have(configs={**WEEK, "retention.ms": "1"}))
    )
    assert plan.to_json()["changes"] == [
        {"action": "create", "topic": "orders.order.new", "partitions": 3, "replication_factor": None,
         "configs": {"cleanup.policy": "delete", "retention.ms": "604800000"}},
        {"action": "raise_partitions", "topic": "orders.order.placed", "from": 3, "to": 6,
         "needs_allow_repartition": True},
        {"action": "set_configs", "topic": "orders.order.placed",
         "configs": [{"name": "retention.ms", "from": "1", "to": "604800000"}]},
    ]  # fmt: skip
