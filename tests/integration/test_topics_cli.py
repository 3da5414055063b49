"""`schemabus topics plan|apply` on the real broker: create, raise partitions, change a config, refuse a
decrease, and a plan of an unchanged cluster that shows nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # type: ignore[attr-defined]  # stubs lack the re-export

from schemabus.codegen.cli import main

pytestmark = pytest.mark.integration

ORDER = json.dumps({"type": "record", "name": "OrderPlaced", "fields": [{"name": "order_id", "type": "string"}]})


def write_project(folder: Path, domain: str, *, partitions: int, retention: str, legacy: bool = True) -> Path:
    schemas = folder / "schemas"
    schemas.mkdir(parents=True, exist_ok=True)
    (schemas / "order.avsc").write_text(ORDER)
    (schemas / "catalog.toml").write_text(
        f'[topics."{domain}.order.placed"]\nkey = "string"\nvalue = "order.avsc"\n'
        f'partitions = {partitions}\nretention = "{retention}"\nreplication_factor = 1\n'
        f'configs = {{ "max.message.bytes" = 2097152 }}\n'
    )
    (folder / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev"\n')
    return folder


def run(kafka: str, project: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["topics", *args, "--bootstrap-servers", kafka, "--project", str(project), "--timeout", "20"]
    )


def describe(kafka: str, topic: str) -> tuple[int, dict[str, str]]:
    admin = AdminClient({"bootstrap.servers": kafka})
    partitions = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return partitions, {k: e.value for k, e in future.result(timeout=10).items()}


def test_plan_and_apply_the_catalog_step_by_step(kafka_bootstrap: str, tmp_path: Path) -> None:
    domain = "t" + uuid.uuid4().hex[:12]
    topic = f"{domain}.order.placed"
    project = write_project(tmp_path, domain, partitions=3, retention="7d")

    # create
    planned = run(kafka_bootstrap, project, "plan")
    assert planned.exit_code == 1, planned.output
    assert f"create {topic}: 3 partitions, replication 1" in planned.output
    applied = run(kafka_bootstrap, project, "apply")
    assert applied.exit_code == 0, applied.output
    assert describe(kafka_bootstrap, topic)[0] == 3
    assert describe(kafka_bootstrap, topic)[1]["max.message.bytes"] == "2097152"

    # nothing to do on an unchanged cluster
    unchanged = run(kafka_bootstrap, project, "plan", "--format", "json")
    assert unchanged.exit_code == 0, unchanged.output
    assert json.loads(unchanged.stdout) == {"changes": [], "refused": [], "unmanaged": []}

    # raise 3 -> 6: a keyed topic needs --allow-repartition
    write_project(tmp_path, domain, partitions=6, retention="7d")
    held = run(kafka_bootstrap, project, "apply")
    assert held.exit_code == 3, held.output
    assert "needs --allow-repartition" in held.output
    assert describe(kafka_bootstrap, topic)[0] == 3
    raised = run(kafka_bootstrap, project, "apply", "--allow-repartition")
    assert raised.exit_code == 0, raised.output
    assert f"done: raise partitions of {topic}: 3 -> 6" in raised.output
    assert describe(kafka_bootstrap, topic)[0] == 6

    # change retention
    write_project(tmp_path, domain, partitions=6, retention="1d")
    planned = run(kafka_bootstrap, project, "plan")
    assert planned.exit_code == 1, planned.output
    assert f"set configs of {topic}: retention.ms 604800000 -> 86400000" in planned.output
    assert run(kafka_bootstrap, project, "apply").exit_code == 0
    assert describe(kafka_bootstrap, topic)[1]["retention.ms"] == "86400000"

    # a decrease is refused, by plan and apply alike, and changes nothing
    write_project(tmp_path, domain, partitions=4, retention="1d")
    for command in ("plan", "apply"):
        refused = run(kafka_bootstrap, project, command)
        assert refused.exit_code == 3, refused.output
        assert f"refused: lower partitions 6 -> 4 of {topic}: Kafka cannot remove partitions" in refused.output
    assert describe(kafka_bootstrap, topic)[0] == 6

    # a topic of the domain the catalog lacks is reported, never touched; the plan is otherwise empty
    write_project(tmp_path, domain, partitions=6, retention="1d")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})  # kept alive until its future is done
    admin.create_topics([NewTopic(f"{domain}.order.legacy", 1)])[f"{domain}.order.legacy"].result(timeout=20)
    final = run(kafka_bootstrap, project, "plan")
    assert final.exit_code == 0, final.output
    assert final.stdout == f"unmanaged: {domain}.order.legacy (in a catalog domain, not in the catalog; left alone)\n"
