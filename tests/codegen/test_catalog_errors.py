"""Catalog mistakes: every error of a catalog at once, each at its `catalog.toml#/pointer`, and a topic
whose Avro value is not a record named by what it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main
from schemabus.codegen.load.catalog import read_catalog

FILES = {"agent/created.avsc", "agent/key.avsc"}
# A file must define a named type to generate anything; these define one inside another shape.
INNER = {"type": "record", "name": "Inner", "fields": [{"name": "n", "type": "int"}]}


def errors_of(text: str) -> list[str]:
    _, errors = read_catalog("catalog.toml", text, FILES)
    return [str(e) for e in errors]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[topics.a\n", "catalog.toml: invalid TOML"),
        ("x = " + "[" * 2000 + "]" * 2000, "catalog.toml: invalid TOML: arrays or tables nest too deep to read"),
        ('colour = "blue"\n[topics."a.b.c"]\nvalue = "agent/created.avsc"', 'unknown key "colour"'),
        ('defaults = 3\n[topics."a.b.c"]\nvalue = "agent/created.avsc"', "[defaults] must be a table"),
        ("[defaults]\npartitions = 3\n", "the catalog declares no topics"),
        ('[topics."a.b.c"]\nvalue = "string"', "a value must be a schema file"),
        ('topics."a.b.c" = 3', "a topic must be a table"),
        ('[topics."a.b.c"]\nkey = "string"', 'topic "a.b.c" needs a value schema'),
        ('[topics."a.b.c"]\nvalue = 7', '"string" or a schema file path relative to the schemas directory'),
        ('[topics."a.b.c"]\nvalue = "agent/created.avsc"\ndoc = 7', "doc must be a string"),
    ],
    ids=["toml", "deep", "unknown-key", "defaults", "no-topics", "string-value", "not-a-table", "no-value",
         "not-a-path", "doc"],
)  # fmt: skip
def test_catalog_mistakes_are_named_where_they_are(text: str, expected: str) -> None:
    assert any(expected in error for error in errors_of(text)), errors_of(text)


def test_every_error_of_a_catalog_is_reported_at_once() -> None:
    text = '[defaults]\nspeed = 1\n[topics."A.b.c"]\nvalue = "agent/created.avsc"\npartitions = 0\n[topics."x.y.z"]\n'
    errors = errors_of(text)
    assert len(errors) >= 4, errors
    assert any('unknown key "speed" in [defaults]' in e for e in errors)
    assert any("does not follow {domain}.{entity}.{action}" in e for e in errors)
    assert any("partitions must be a positive integer" in e for e in errors)
    assert any('topic "x.y.z" needs a value schema' in e for e in errors)


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        (["null", INNER], "a union of 2 types"),
        ({"type": "array", "items": INNER}, "an array"),
        ({"type": "map", "values": INNER}, "a map"),
        ({"type": "enum", "name": "Colour", "symbols": ["RED"]}, 'an enum "Colour"'),
    ],
    ids=["union", "array", "map", "enum"],
)
def test_a_topic_value_that_is_not_a_record_says_what_it_is(tmp_path: Path, schema: Any, kind: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev"\n')
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "value.avsc").write_text(json.dumps(schema))
    (schemas / "catalog.toml").write_text('[topics."agent.thing.done"]\nvalue = "value.avsc"\n')
    result = CliRunner().invoke(main, ["generate", "--project", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert f"value.avsc is not a record: a topic's Avro value must be a record (its type is {kind})" in result.output


def test_replication_factor_and_kafka_configs_are_read() -> None:
    text = (
        '[defaults]\nconfigs = { "segment.ms" = 3600000 }\n'
        '[topics."a.b.c"]\nvalue = "agent/created.avsc"\nreplication_factor = 3\n'
        'configs = { "min.insync.replicas" = 2, "preallocate" = true, "min.cleanable.dirty.ratio" = 0.25 }\n'
        '[topics."a.b.d"]\nvalue = "agent/created.avsc"\n'
    )
    topics, errors = read_catalog("catalog.toml", text, FILES)
    assert errors == []
    first, second = topics
    assert first.replication_factor == 3
    assert dict(first.configs) == {
        "min.cleanable.dirty.ratio": "0.25",
        "min.insync.replicas": "2",
        "preallocate": "true",
        "segment.ms": "3600000",
    }
    assert second.replication_factor is None
    assert dict(second.configs) == {"segment.ms": "3600000"}


@pytest.mark.parametrize(
    ("configs", "expected"),
    [
        ('{ "retention.hours" = 1, "segment.ms" = 1, "colour" = "x" }',
         'catalog.toml#/topics/a.b.c/configs: unknown Kafka topic configs "colour", "retention.hours"'),
        ('{ "retention.ms" = 1 }', 'catalog.toml#/topics/a.b.c/configs/retention.ms: set "retention.ms" with the '
         "topic's retention key"),
        ('{ "segment.ms" = [1] }', 'catalog.toml#/topics/a.b.c/configs/segment.ms: "segment.ms" must be a string'),
        ("3", "catalog.toml#/topics/a.b.c/configs: configs must be a table"),
    ],
    ids=["unknown", "own-key", "array", "not-a-table"],
)  # fmt: skip
def test_configs_that_kafka_does_not_know_are_named(configs: str, expected: str) -> None:
    errors = errors_of(f'[topics."a.b.c"]\nvalue = "agent/created.avsc"\nconfigs = {configs}\n')
    assert any(e.startswith(expected) for e in errors), errors


@pytest.mark.parametrize("value", ["0", "true", '"3"'])
def test_replication_factor_must_be_a_positive_integer(value: str) -> None:
    errors = errors_of(f'[topics."a.b.c"]\nvalue = "agent/created.avsc"\nreplication_factor = {value}\n')
    assert any("replication_factor must be a positive integer" in e for e in errors), errors


def test_replication_factor_and_kafka_configs_reach_the_generated_topic(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev_cfg"\n')
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "value.avsc").write_text(json.dumps({"type": "record", "name": "Done", "fields": []}))
    (schemas / "catalog.toml").write_text(
        '[topics."agent.thing.done"]\nvalue = "value.avsc"\npartitions = 6\nreplication_factor = 3\n'
        'configs = { "min.insync.replicas" = 2 }\n'
        '[topics."agent.thing.undone"]\nvalue = "value.avsc"\n'
    )
    result = CliRunner().invoke(main, ["generate", "--project", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ev_cfg as t; d, u = t.AGENT_THING_DONE, t.AGENT_THING_UNDONE;"
            "print(d.partitions, d.replication_factor, d.topic_configs()['min.insync.replicas'],"
            " u.replication_factor, sorted(u.topic_configs()))",
        ],
        cwd=tmp_path / "generated",
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["6", "3", "2", "None", "['cleanup.policy',", "'retention.ms']"]
