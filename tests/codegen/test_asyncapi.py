"""`schemabus asyncapi`: the catalog as an AsyncAPI 3.0 document, valid against the official schema
(vendored in tests/asyncapi/), its payloads the schemas `schemabus register` registers, written the
same way every run, and `--check` for drift."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from schemabus.codegen.asyncapi import AVRO_FORMAT, document, split_avro_names
from schemabus.codegen.cli import main
from schemabus.codegen.config import load_config
from schemabus.codegen.pipeline import load_project
from schemabus.codegen.registry_sync import plan
from schemabus.codegen.yaml_text import dump

from ..conftest import ROOT

SCHEMA_FILE = ROOT / "tests" / "asyncapi" / "asyncapi-3.0.0.schema.json"


def _validator() -> jsonschema.Draft7Validator:
    """The official AsyncAPI 3.0.0 schema, every $ref resolved inside the bundle (no network: the
    registry has no retrieve function, so a reference outside it fails instead of fetching)."""
    bundle = json.loads(SCHEMA_FILE.read_text())
    resources = [
        (uri, Resource.from_contents(s, default_specification=DRAFT7)) for uri, s in bundle["definitions"].items()
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    return jsonschema.Draft7Validator(bundle, registry=registry)


VALIDATOR = _validator()


def assert_valid(doc: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        pytest.fail(f"{len(errors)} errors; the best match at {list(best.absolute_path)}: {best.message[:500]}")


PYPROJECT = """\
[project]
name = "platform-events"
version = "2.1.0"

[tool.schemabus]
schemas = "schemas"
package = "platform_events"

[tool.schemabus.asyncapi]
description = "The event bus of the platform."

[tool.schemabus.asyncapi.servers.local]
host = "localhost:9092"
description = "A dev stack (schemabus dev up)."
schema_registry_url = "http://localhost:8081"

[tool.schemabus.asyncapi.servers.local-tls]
host = "localhost:9093"
protocol = "kafka-secure"

[tool.schemabus.asyncapi.consumers]
billing = ["cost.tracking.recorded", "task.execution.completed"]
"agent-registry" = ["agent.lifecycle.created", "agent.lifecycle.updated", "agent.lifecycle.deleted"]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """This repository's catalog and schemas, with servers and consumer groups declared."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "schemas", root / "schemas")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def _document(root: Path) -> dict[str, Any]:
    config = load_config(root / "pyproject.toml")
    return document(load_project(config), config)


def _run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["asyncapi", "--project", str(root), *args])
    return result.exit_code, result.stdout, result.stderr


# --- the document of this repository ----------------------------------------------------------------


def test_this_repositorys_document_is_valid_asyncapi_3(repo: Path) -> None:
    code, _, err = _run(repo)
    assert code == 0, err
    assert err.startswith("wrote ") and err.endswith("asyncapi.yaml\n")
    doc = yaml.safe_load((repo / "asyncapi.yaml").read_text())
    assert doc == _document(repo)
    assert_valid(doc)
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"] == {
        "title": "platform-events",
        "version": "2.1.0",
        "description": "The event bus of the platform.",
    }


def test_the_validator_refuses_what_the_specification_refuses(repo: Path) -> None:
    doc = _document(repo)
    broken = json.loads(json.dumps(doc))
    broken["channels"]["agent.lifecycle.created"]["bindings"]["kafka"]["partitions"] = 0
    assert not VALIDATOR.is_valid(broken)
    avro = json.loads(json.dumps(doc))
    payload = avro["channels"]["agent.lifecycle.created"]["messages"]["AgentCreated"]["payload"]
    payload["schema"]["name"] = "io.schemabus.platform.agent.lifecycle.AgentCreated"  # a dotted name: refused
    assert not VALIDATOR.is_valid(avro)
    del broken["channels"]["agent.lifecycle.created"]["bindings"]["kafka"]["partitions"]
    broken["info"] = {"title": "no version"}
    assert not VALIDATOR.is_valid(broken)


def test_one_channel_per_live_topic_with_its_kafka_binding(repo: Path) -> None:
    doc = _document(repo)
    config = load_config(repo / "pyproject.toml")
    topics = [t for t in load_project(config).topics if not t.deleted]
    assert list(doc["channels"]) == [t.name for t in topics]
    for t in topics:
        channel = doc["channels"][t.name]
        assert channel["address"] == t.name
        binding = channel["bindings"]["kafka"]
        assert binding["partitions"] == t.partitions
        assert binding["topicConfiguration"]["retention.ms"] == t.retention_ms
        assert binding["topicConfiguration"]["cleanup.policy"] == t.cleanup_policy.split(",")
        assert binding["bindingVersion"] == "0.5.0"
        assert len(channel["messages"]) == 1
    updated = doc["channels"]["agent.lifecycle.updated"]["bindings"]["kafka"]["topicConfiguration"]
    assert updated == {"cleanup.policy": ["compact"], "retention.ms": -1}


def _qualified(schema: Any, namespace: str = "") -> Any:
    """An Avro schema with every named type's name and aliases written as full names, and no
    ``namespace`` key: two spellings of one schema compare equal."""
    if isinstance(schema, list):
        return [_qualified(b, namespace) for b in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out.get("type") in ("record", "enum", "fixed"):
        name = out["name"]
        if "." not in name:
            ns = out.get("namespace", namespace)
            name = f"{ns}.{name}" if ns else name
        out["name"] = name
        out.pop("namespace", None)
        namespace = name.rpartition(".")[0]
        if "aliases" in out:
            out["aliases"] = [a if "." in a or not namespace else f"{namespace}.{a}" for a in out["aliases"]]
    if isinstance(out.get("fields"), list):
        out["fields"] = [{**f, "type": _qualified(f["type"], namespace)} for f in out["fields"]]
    for key in ("items", "values"):
        if key in out:
            out[key] = _qualified(out[key], namespace)
    if isinstance(out.get("type"), dict | list):
        out["type"] = _qualified(out["type"], namespace)
    return out


def _same_schema(schema_type: str, written: Any, registered_text: str) -> bool:
    registered = json.loads(registered_text)
    if schema_type == "JSON":
        return bool(written == registered)
    return bool(_qualified(written) == _qualified(registered))


def test_every_payload_key_and_reference_is_the_registered_schema(repo: Path) -> None:
    """Compared with the text `schemabus register` registers (registry_sync.plan, the same function):
    JSON Schema as it is; Avro with its full names spelled as name + namespace (the same names)."""
    config = load_config(repo / "pyproject.toml")
    project = load_project(config)
    subjects = {s.subject: s for s in plan(project)}
    doc = document(project, config)
    checked = 0
    for t in project.topics:
        if t.deleted:
            continue
        (message,) = doc["channels"][t.name]["messages"].values()
        value = subjects[t.value_subject]
        payload = message["payload"]
        assert _same_schema(value.schema_type, payload["schema"], value.text), t.name
        if value.schema_type == "AVRO":
            assert payload["schemaFormat"] == AVRO_FORMAT
            assert message["contentType"] == "avro/binary"
        else:
            draft = project.json[value.file].draft.value
            assert payload["schemaFormat"] == f"application/schema+json;version={draft}"
            assert message["contentType"] == "application/json"
        refs = [{"name": n, "subject": s, "$ref": f"#/components/schemas/{s}"} for n, s in value.references]
        assert payload.get("x-schemaReferences", []) == refs
        for _, subject in value.references:
            component = doc["components"]["schemas"][subject]
            assert _same_schema("AVRO", component["schema"], subjects[subject].text)
        key = message["bindings"]["kafka"]["key"] if t.key else None
        if t.key is None:
            assert "key" not in message["bindings"]["kafka"]
        elif t.key.kind == "string":
            assert key == {"type": "string", "description": "A UTF-8 string."}
        else:
            registered = subjects[t.key_subject]
            written = key.get("x-schema", key)
            assert _same_schema(registered.schema_type, written, registered.text), t.name
        checked += 1
    assert checked == len(doc["channels"]) >= 16
    assert set(doc["components"]["schemas"]) == {s.subject for s in subjects.values() if s.level is None}


def test_operations_send_every_topic_and_receive_for_each_declared_group(repo: Path) -> None:
    doc = _document(repo)
    operations = doc["operations"]
    sends = {k: v for k, v in operations.items() if v["action"] == "send"}
    assert sorted(sends) == sorted(f"{t}.send" for t in doc["channels"])
    receives = {k: v for k, v in operations.items() if v["action"] == "receive"}
    assert sorted(receives) == sorted(
        [
            "cost.tracking.recorded.receive.billing",
            "task.execution.completed.receive.billing",
            "agent.lifecycle.created.receive.agent-registry",
            "agent.lifecycle.updated.receive.agent-registry",
            "agent.lifecycle.deleted.receive.agent-registry",
        ]
    )
    billing = receives["cost.tracking.recorded.receive.billing"]
    assert billing == {
        "action": "receive",
        "channel": {"$ref": "#/channels/cost.tracking.recorded"},
        "messages": [{"$ref": "#/channels/cost.tracking.recorded/messages/CostRecorded"}],
        "bindings": {"kafka": {"groupId": {"type": "string", "enum": ["billing"]}, "bindingVersion": "0.5.0"}},
    }
    # every reference of an operation points into the document
    for operation in operations.values():
        for ref in [operation["channel"]["$ref"], *(m["$ref"] for m in operation["messages"])]:
            node: Any = doc
            for part in ref.removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]


def test_servers_from_configuration(repo: Path) -> None:
    assert _document(repo)["servers"] == {
        "local": {
            "host": "localhost:9092",
            "protocol": "kafka",
            "description": "A dev stack (schemabus dev up).",
            "bindings": {
                "kafka": {
                    "schemaRegistryUrl": "http://localhost:8081",
                    "schemaRegistryVendor": "confluent",
                    "bindingVersion": "0.5.0",
                }
            },
        },
        "local-tls": {"host": "localhost:9093", "protocol": "kafka-secure"},
    }


# --- determinism and --check ------------------------------------------------------------------------


def test_two_runs_write_the_same_bytes(repo: Path) -> None:
    assert _run(repo)[0] == 0
    first = (repo / "asyncapi.yaml").read_bytes()
    code, _, err = _run(repo)
    assert code == 0 and err.endswith("is up to date\n")
    (repo / "asyncapi.yaml").unlink()
    assert _run(repo)[0] == 0
    assert (repo / "asyncapi.yaml").read_bytes() == first


def _written_under_seed(root: Path, seed: str, out: Path) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    args = [sys.executable, "-m", "schemabus.codegen", "asyncapi", "--project", str(root), "-o", str(out)]
    subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return out.read_bytes()


def test_the_document_is_the_same_under_different_hash_seeds(repo: Path, tmp_path: Path) -> None:
    assert _written_under_seed(repo, "1", tmp_path / "a.yaml") == _written_under_seed(repo, "4242", tmp_path / "b.yaml")


def test_check_passes_when_current_and_fails_with_a_diff_and_one_line_when_not(repo: Path) -> None:
    code, out, err = _run(repo, "--check")
    assert code == 1
    assert out.startswith("--- /dev/null\n+++ ")
    assert err.splitlines()[-1].endswith("asyncapi.yaml is out of date: run `schemabus asyncapi`")
    assert not (repo / "asyncapi.yaml").exists()
    assert _run(repo)[0] == 0
    code, out, err = _run(repo, "--check")
    assert (code, out) == (0, "") and err.endswith("asyncapi.yaml is up to date\n")
    path = repo / "asyncapi.yaml"
    path.write_text(path.read_text().replace("partitions: 12", "partitions: 24", 1))
    code, out, err = _run(repo, "--check")
    assert code == 1
    assert "-        partitions: 24\n+        partitions: 12\n" in out
    assert len(err.splitlines()) == 1 and err.rstrip().endswith("is out of date: run `schemabus asyncapi`")


def test_json_when_the_output_ends_in_json(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "asyncapi.json"
    code, _, err = _run(repo, "-o", str(out))
    assert code == 0, err
    text = out.read_text()
    assert json.loads(text) == _document(repo) and text.startswith('{\n  "asyncapi": "3.0.0",')
    code, _, err = _run(repo, "-o", str(out), "--check")
    assert code == 0, err
    out.write_text(text.replace('"version": "2.1.0"', '"version": "2.0.0"'))
    code, _, err = _run(repo, "-o", str(out), "--check")
    assert code == 1 and err.rstrip().endswith(f"run `schemabus asyncapi -o {out}`")


# --- a small catalog of every kind of topic ---------------------------------------------------------

AVRO_VALUE = {
    "type": "record",
    "name": "Placed",
    "namespace": "com.example.shop",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "customer", "type": "com.example.common.Customer"},
        {"name": "ratio", "type": "double", "default": 1e-05},
    ],
}
AVRO_CUSTOMER = {"type": "record", "name": "com.example.common.Customer", "fields": [{"name": "id", "type": "long"}]}
AVRO_KEY = {
    "type": "record",
    "name": "OrderKey",
    "namespace": "com.example.shop",
    "fields": [{"name": "id", "type": "string"}],
}
JSON_VALUE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Shipped",
    "type": "object",
    "properties": {"id": {"type": "string"}, "items": {"type": "array", "prefixItems": [{"type": "integer"}]}},
    "required": ["id"],
}
JSON_KEY = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "ShipmentKey",
    "type": "string",
    "maxLength": 64,
}
CATALOG = """\
[defaults]
partitions = 2
retention = "1d"

[topics."shop.order.placed"]
key = "shop/order_key.avsc"
value = "shop/placed.avsc"
replication_factor = 3
configs = { "max.message.bytes" = 1048576, "message.timestamp.type" = "LogAppendTime", "unclean.leader.election.enable" = false }
doc = "An order was placed."

[topics."shop.order.shipped"]
key = "shop/shipment_key.schema.json"
value = "shop/shipped.schema.json"
cleanup_policy = "compact,delete"

[topics."shop.customer.state"]
value = "common/customer.avsc"
cleanup_policy = "compact"
retention = "infinite"

[topics."shop.order.archived"]
key = "string"
value = "shop/placed.avsc"
deleted = true
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    files = {
        "schemas/shop/placed.avsc": json.dumps(AVRO_VALUE),
        "schemas/common/customer.avsc": json.dumps(AVRO_CUSTOMER),
        "schemas/shop/order_key.avsc": json.dumps(AVRO_KEY),
        "schemas/shop/shipped.schema.json": json.dumps(JSON_VALUE),
        "schemas/shop/shipment_key.schema.json": json.dumps(JSON_KEY),
        "schemas/catalog.toml": CATALOG,
        "pyproject.toml": '[tool.schemabus]\npackage = "shop_events"\n\n[tool.schemabus.asyncapi.consumers]\n'
        'fulfilment = ["shop.order.placed", "shop.order.shipped"]\n',
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def test_avro_json_keyed_unkeyed_and_compacted_topics(shop: Path) -> None:
    code, _, err = _run(shop)
    assert code == 0, err
    doc = yaml.safe_load((shop / "asyncapi.yaml").read_text())
    assert_valid(doc)
    assert doc["info"]["title"] == "shop_events" and doc["info"]["version"] == "0.0.0"
    assert "servers" not in doc
    assert list(doc["channels"]) == ["shop.customer.state", "shop.order.placed", "shop.order.shipped"]  # not deleted

    placed = doc["channels"]["shop.order.placed"]
    assert placed["description"] == "An order was placed."
    assert placed["bindings"]["kafka"] == {
        "partitions": 2,
        "replicas": 3,
        "topicConfiguration": {
            "cleanup.policy": ["delete"],
            "retention.ms": 86_400_000,
            "max.message.bytes": 1048576,
            "message.timestamp.type": "LogAppendTime",
            "unclean.leader.election.enable": False,
        },
        "bindingVersion": "0.5.0",
    }
    message = placed["messages"]["Placed"]
    assert message["payload"]["schema"]["fields"][2]["default"] == 1e-05
    assert message["payload"]["schema"]["fields"][1]["type"] == "com.example.common.Customer"
    assert message["payload"]["x-schemaReferences"] == [
        {
            "name": "com.example.common.Customer",
            "subject": "com.example.common.Customer",
            "$ref": "#/components/schemas/com.example.common.Customer",
        }
    ]
    assert doc["components"]["schemas"]["com.example.common.Customer"]["schema"]["name"] == "Customer"
    key = message["bindings"]["kafka"]["key"]
    assert key["x-schemaFormat"] == AVRO_FORMAT and key["x-schema"] == AVRO_KEY
    assert message["bindings"]["kafka"]["schemaIdPayloadEncoding"] == "confluent"

    shipped = doc["channels"]["shop.order.shipped"]
    assert shipped["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"] == ["compact", "delete"]
    json_message = shipped["messages"]["Shipped"]
    assert json_message["payload"] == {"schemaFormat": "application/schema+json;version=2020-12", "schema": JSON_VALUE}
    assert json_message["bindings"]["kafka"]["key"] == JSON_KEY  # draft-07: an AsyncAPI Schema Object as it is

    state = doc["channels"]["shop.customer.state"]
    assert state["bindings"]["kafka"]["topicConfiguration"] == {"cleanup.policy": ["compact"], "retention.ms": -1}
    assert "key" not in state["messages"]["Customer"]["bindings"]["kafka"]

    assert sorted(doc["operations"]) == [
        "shop.customer.state.send",
        "shop.order.placed.receive.fulfilment",
        "shop.order.placed.send",
        "shop.order.shipped.receive.fulfilment",
        "shop.order.shipped.send",
    ]


def test_split_avro_names_keeps_every_full_name() -> None:
    schema = {
        "type": "record",
        "name": "a.b.Outer",
        "aliases": ["a.b.Old", "c.Other"],
        "fields": [
            {"name": "inner", "type": {"type": "enum", "name": "Inner", "namespace": "", "symbols": ["X"]}},
            {"name": "fixed", "type": ["null", {"type": "fixed", "name": "x.Md5", "size": 16}]},
            {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "a.b.Item", "fields": []}}},
            {"name": "data", "type": "string", "default": {"type": "record", "name": "d.e.NotAType"}},
        ],
    }
    split = split_avro_names(schema)
    assert split["name"] == "Outer" and split["namespace"] == "a.b" and split["aliases"] == ["Old", "c.Other"]
    assert split["fields"][0]["type"] == {"type": "enum", "name": "Inner", "namespace": "", "symbols": ["X"]}
    assert split["fields"][1]["type"][1] == {"type": "fixed", "name": "Md5", "namespace": "x", "size": 16}
    assert split["fields"][2]["type"]["items"]["name"] == "Item"
    assert split["fields"][3]["default"] == {"type": "record", "name": "d.e.NotAType"}  # data, untouched
    assert _qualified(split) == _qualified(schema)


# --- configuration errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            '[tool.schemabus.asyncapi]\nserver = "localhost:9092"\n',
            'unknown key "server" in [tool.schemabus.asyncapi] (known: consumers, description, servers, title, version)',
        ),
        (
            '[tool.schemabus.asyncapi.servers.local]\nhost = "localhost:9092"\nregistry = "http://localhost:8081"\n',
            'unknown key "registry" in [tool.schemabus.asyncapi.servers.local] '
            "(known: description, host, protocol, schema_registry_url)",
        ),
        (
            '[tool.schemabus.asyncapi.servers.local]\nhost = "kafka://localhost:9092"\n',
            'host is "host:port", without a scheme',
        ),
        (
            '[tool.schemabus.asyncapi.servers.local]\nhost = "localhost:9092"\nprotocol = "http"\n',
            "protocol must be one of kafka, kafka-secure",
        ),
        ("[tool.schemabus.asyncapi.servers.local]\n", "server 'local' needs a host"),
        ('[tool.schemabus.asyncapi.consumers]\nbilling = "shop.order.placed"\n', "needs an array of topic names"),
        ('[tool.schemabus.asyncapi.consumers]\n"a b" = ["shop.order.placed"]\n', "may hold only letters"),
        (
            '[tool.schemabus.asyncapi.consumers]\nb = ["shop.order.placed", "shop.order.placed"]\n',
            "names a topic twice",
        ),
        (
            '[tool.schemabus.asyncapi.consumers]\nbilling = ["shop.order.placed", "shop.order.archived"]\n',
            "pyproject.toml#/tool/schemabus/asyncapi/consumers/billing/1: consumer group 'billing' reads \"shop.order.archived\"",
        ),
    ],
)
def test_configuration_errors_name_the_key(shop: Path, section: str, message: str) -> None:
    (shop / "pyproject.toml").write_text(f'[tool.schemabus]\npackage = "shop_events"\n\n{section}')
    code, _, err = _run(shop)
    assert code == 2 and message in err, err
    assert not (shop / "asyncapi.yaml").exists()


def test_asyncapi_settings_do_not_make_generate_run_again(shop: Path) -> None:
    from schemabus.codegen.pipeline import fingerprint

    before = fingerprint(load_config(shop / "pyproject.toml"))
    (shop / "pyproject.toml").write_text(
        '[tool.schemabus]\npackage = "shop_events"\n\n[tool.schemabus.asyncapi]\ntitle = "Shop"\n'
    )
    assert fingerprint(load_config(shop / "pyproject.toml")) == before


# --- the YAML writer --------------------------------------------------------------------------------

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_yaml_reads_back_as_the_same_data(data: Any) -> None:
    assert yaml.safe_load(dump(data)) == data


@pytest.mark.parametrize(
    "text",
    ["yes", "No", "null", "~", "123", "1e3", "0x10", "- a", "a: b", "#x", "'q'", '"q"', "\\", "é", "\u2028", "\x85",
     "\ufeff", "\U0001f600", "\0", "<<", "", " lead", "trail ", "2026-12-06", "1:20"],
)  # fmt: skip
def test_yaml_strings_and_keys_that_look_like_something_else(text: str) -> None:
    data = {text: [text, {text: text}]}
    assert yaml.safe_load(dump(data)) == data


def test_yaml_special_floats() -> None:
    loaded = yaml.safe_load(dump([float("inf"), float("-inf"), float("nan"), 1e-05, 1e20, -0.0]))
    assert loaded[:2] == [float("inf"), float("-inf")] and math.isnan(loaded[2])
    assert loaded[3:] == [1e-05, 1e20, 0.0]


def _readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### AsyncAPI")
    return readme[start : readme.index("\n## ", start + 1)]


def test_readme_excerpt_is_real_output(tmp_path: Path) -> None:
    """The README's excerpt is what `schemabus asyncapi` writes for the Quickstart's project with the
    section's configuration added to its pyproject.toml."""
    from ..release.readme import readme_files

    section = _readme_section()
    config = section.split("```toml\n", 1)[1].split("```", 1)[0]
    excerpt = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    for name, content in readme_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content + ("\n" + config if name == "pyproject.toml" else ""))
    code, _, err = _run(tmp_path)
    assert code == 0, err
    text = (tmp_path / "asyncapi.yaml").read_text()
    assert_valid(yaml.safe_load(text))
    chunks = excerpt.split("# ...\n")
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk in text, chunk
