"""One fixture project per rule and case: each rule runs alone (``select``), and every finding is
compared whole: rule ID, ``file#/pointer`` relative to the project root, and message."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from schemabus.codegen.lint import RULES

from .support import field as f
from .support import findings, json_schema, project, record


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    files: dict[str, Any]
    expected: list[tuple[str, str]]  # (file#/pointer, message); empty for a clean case
    catalog: str | None = None
    lint: str = field(default="")


def topic(name: str, value: str, key: str | None = None, extra: str = "") -> str:
    return f'[topics."{name}"]\n' + (f'key = "{key}"\n' if key else "") + f'value = "{value}"\n{extra}\n'


ONE = {"a.avsc": record("A", f("id"))}
ENUM_OK = {"type": "enum", "name": "Status", "doc": "A status.", "symbols": ["UNKNOWN", "ACTIVE"], "default": "UNKNOWN"}
LONG = "a.b." + "c" * 246

CASES = [
    # --- TOPIC_NAME -------------------------------------------------------------------------
    Case(
        "topic-name-not-snake-case-or-too-long",
        "TOPIC_NAME",
        ONE,
        [
            (f"schemas/catalog.toml#/topics/{LONG}", f'topic name "{LONG}" is longer than Kafka\'s 249 characters'),
            (
                "schemas/catalog.toml#/topics/agent.life__cycle.x1",
                'entity "life__cycle" of topic "agent.life__cycle.x1" is not snake_case',
            ),
            (
                "schemas/catalog.toml#/topics/agent_.lifecycle.created",
                'domain "agent_" of topic "agent_.lifecycle.created" is not snake_case',
            ),
        ],
        catalog=topic("agent_.lifecycle.created", "a.avsc")
        + topic("agent.life__cycle.x1", "a.avsc")
        + topic(LONG, "a.avsc")
        + topic("zz.gone_.deleted", "a.avsc", extra="deleted = true"),  # deleted topics are not linted
    ),
    Case(
        "topic-name-clean",
        "TOPIC_NAME",
        ONE,
        [],
        catalog=topic("agent.lifecycle.created", "a.avsc") + topic("a1.b_c.d2", "a.avsc"),
    ),
    # --- TOPIC_NAME_COLLISION ----------------------------------------------------------------
    Case(
        "topic-collision",
        "TOPIC_NAME_COLLISION",
        ONE,
        [
            (
                "schemas/catalog.toml#/topics/agent_life.cycle.created",
                'topic "agent_life.cycle.created" collides with topic "agent.life_cycle.created" in Kafka\'s metric names',
            )
        ],
        catalog=topic("agent.life_cycle.created", "a.avsc") + topic("agent_life.cycle.created", "a.avsc"),
    ),
    Case(
        "topic-collision-clean",
        "TOPIC_NAME_COLLISION",
        ONE,
        [],
        catalog=topic("agent.lifecycle.created", "a.avsc")
        + topic("agent.lifecycle.deleted", "a.avsc")
        + topic("agent_lifecycle.deleted.x", "a.avsc", extra="deleted = true"),
    ),
    # --- SUBJECT_NAME ----------------------------------------------------------------------
    Case(
        "subject-name",
        "SUBJECT_NAME",
        {
            "agent/created.avsc": record("Created", f("id")),
            "agent/lifecycle/created_id.avsc": record("CreatedKey", f("id")),
            "agent/started.json": json_schema(),
        },
        [
            (
                "schemas/catalog.toml#/topics/agent.execution.started/value",
                'subject "agent.execution.started-value" has schema file "agent/started.json", '
                'expected "agent/execution/started.json"',
            ),
            (
                "schemas/catalog.toml#/topics/agent.lifecycle.created/key",
                'subject "agent.lifecycle.created-key" has schema file "agent/lifecycle/created_id.avsc", '
                'expected "agent/lifecycle/created_key.avsc"',
            ),
            (
                "schemas/catalog.toml#/topics/agent.lifecycle.created/value",
                'subject "agent.lifecycle.created-value" has schema file "agent/created.avsc", '
                'expected "agent/lifecycle/created.avsc"',
            ),
        ],
        catalog=topic("agent.lifecycle.created", "agent/created.avsc", key="agent/lifecycle/created_id.avsc")
        + topic("agent.execution.started", "agent/started.json", key="string"),
    ),
    Case(
        "subject-name-clean",
        "SUBJECT_NAME",
        {
            "agent/lifecycle/created.avsc": record("Created", f("id")),
            "agent/lifecycle/created_key.avsc": record("CreatedKey", f("id")),
            "agent/execution/started.schema.json": json_schema(),
        },
        [],
        catalog=topic("agent.lifecycle.created", "agent/lifecycle/created.avsc", key="agent/lifecycle/created_key.avsc")
        + topic("agent.execution.started", "agent/execution/started.schema.json", key="string"),
    ),
    # --- RECORD_DOC ------------------------------------------------------------------------
    Case(
        "record-doc",
        "RECORD_DOC",
        {
            "agent/created.avsc": record(
                "Created",
                f("status", {**ENUM_OK, "doc": " "}),
                f("checksum", {"type": "fixed", "name": "Md5", "size": 16}),
                doc=None,
            ),
            "agent/started.schema.json": json_schema(description=None, defs={"Money": {"type": "object"}}),
        },
        [
            ("schemas/agent/created.avsc", 'record "Created" has no doc'),
            ("schemas/agent/created.avsc#/fields/0/type", 'enum "Status" has no doc'),
            ("schemas/agent/created.avsc#/fields/1/type", 'fixed "Md5" has no doc'),
            ("schemas/agent/started.schema.json", "schema has no description"),
            ("schemas/agent/started.schema.json#/$defs/Money", 'definition "Money" has no description'),
        ],
    ),
    Case(
        "record-doc-clean",
        "RECORD_DOC",
        {
            "agent/created.avsc": record(
                "Created",
                f("status", ENUM_OK),
                f("checksum", {"type": "fixed", "name": "Md5", "size": 16, "doc": "MD5."}),
            ),
            "agent/started.schema.json": json_schema(defs={"Money": {"type": "object", "description": "Money."}}),
        },
        [],
    ),
    # --- FIELD_DOC -------------------------------------------------------------------------
    Case(
        "field-doc",
        "FIELD_DOC",
        {
            "agent/created.avsc": record(
                "Created",
                f("agent_id"),
                f("creator_id", doc=None),
                f("window", record("Window", f("start", "int", doc=""))),
            ),
            "agent/started.schema.json": json_schema(
                properties={
                    "amount": {"type": "string"},
                    "anything": True,
                    "note": {"type": "string", "description": "A note."},
                },
                defs={
                    "Money": {"type": "object", "description": "Money.", "properties": {"currency": {"type": "string"}}}
                },
            ),
        },
        [
            ("schemas/agent/created.avsc#/fields/1", 'field "creator_id" has no doc'),
            ("schemas/agent/created.avsc#/fields/2/type/fields/0", 'field "start" has no doc'),
            (
                "schemas/agent/started.schema.json#/$defs/Money/properties/currency",
                'property "currency" has no description',
            ),
            ("schemas/agent/started.schema.json#/properties/amount", 'property "amount" has no description'),
        ],
    ),
    Case(
        "field-doc-clean",
        "FIELD_DOC",
        {
            "agent/created.avsc": record("Created", f("agent_id"), f("window", record("Window", f("start", "int")))),
            "agent/started.schema.json": json_schema(
                properties={"amount": {"type": "string", "description": "Amount."}}
            ),
        },
        [],
    ),
    # --- ENUM_DEFAULT ----------------------------------------------------------------------
    Case(
        "enum-default",
        "ENUM_DEFAULT",
        {
            "common/status.avsc": {"type": "enum", "name": "Status", "namespace": "acme", "symbols": ["A", "B"]},
            "agent/created.avsc": record("Created", f("mode", {"type": "enum", "name": "Mode", "symbols": ["X"]})),
        },
        [
            ("schemas/agent/created.avsc#/fields/0/type", 'enum "Mode" has no default'),
            ("schemas/common/status.avsc", 'enum "Status" has no default'),
        ],
    ),
    Case(
        "enum-default-clean",
        "ENUM_DEFAULT",
        {
            "common/status.avsc": {**ENUM_OK, "namespace": "acme"},
            "agent/created.avsc": record("Created", f("s", ENUM_OK)),
        },
        [],
    ),
    # --- FIELD_DEFAULT ---------------------------------------------------------------------
    Case(
        "field-default",
        "FIELD_DEFAULT",
        {
            "agent/created.avsc": record(
                "Created",
                f("note", ["null", "string"]),
                f("label", ["string", "null"]),
                f("title", ["string", "null"], default="x"),
            )
        },
        [
            ("schemas/agent/created.avsc#/fields/0", 'nullable field "note" has no default'),
            (
                "schemas/agent/created.avsc#/fields/1",
                'nullable field "label" has no default and "null" is not the first branch of its union',
            ),
            ("schemas/agent/created.avsc#/fields/2/default", 'nullable field "title" has default "x", not null'),
        ],
    ),
    Case(
        "field-default-clean",
        "FIELD_DEFAULT",
        {
            "agent/created.avsc": record(
                "Created", f("note", ["null", "string"], default=None), f("id"), f("either", ["string", "int"])
            )
        },
        [],
    ),
    # --- ALL_FIELDS_DEFAULT (off by default) -----------------------------------------------
    Case(
        "all-fields-default",
        "ALL_FIELDS_DEFAULT",
        {
            "agent/lifecycle/created.avsc": record(
                "Created", f("id"), f("error", "acme.common.ErrorInfo"), f("note", ["null", "string"], default=None)
            ),
            "agent/lifecycle/created_key.avsc": record("CreatedKey", f("id")),  # keys are exempt
            "common/error_info.avsc": record("ErrorInfo", f("code"), namespace="acme.common"),
            "unused.avsc": record("Unused", f("x")),  # no topic uses it
        },
        [
            ("schemas/agent/lifecycle/created.avsc#/fields/0", 'field "id" has no default'),
            ("schemas/agent/lifecycle/created.avsc#/fields/1", 'field "error" has no default'),
            ("schemas/common/error_info.avsc#/fields/0", 'field "code" has no default'),
        ],
        catalog=topic(
            "agent.lifecycle.created", "agent/lifecycle/created.avsc", key="agent/lifecycle/created_key.avsc"
        ),
    ),
    Case(
        "all-fields-default-clean",
        "ALL_FIELDS_DEFAULT",
        {
            "agent/lifecycle/created.avsc": record("Created", f("id", default=""), f("n", "int", default=0)),
            "agent/lifecycle/created_key.avsc": record("CreatedKey", f("id")),
        },
        [],
        catalog=topic(
            "agent.lifecycle.created", "agent/lifecycle/created.avsc", key="agent/lifecycle/created_key.avsc"
        ),
    ),
    # --- NAMESPACE_CONSISTENT --------------------------------------------------------------
    Case(
        "namespace-inferred-prefix",
        "NAMESPACE_CONSISTENT",
        {
            "agent/lifecycle/created.avsc": record(
                "Created",
                f("window", record("Window", f("start", "int"), namespace="io.acme.window")),
                namespace="io.acme.agent.lifecycle",
            ),
            "task/execution/started.avsc": record("Started", f("id"), namespace="io.acme.task.execution"),
            "task/execution/failed.avsc": record("Failed", f("id"), namespace="io.other.task.execution"),
            "cost/recorded.avsc": record("Recorded", f("id"), namespace="io.acme.costs"),
            "cost/key.avsc": record("io.acme.billing.Key", f("id"), namespace=None),
            "common/type.avsc": {"type": "enum", "name": "Type", "doc": "A type.", "symbols": ["A"], "default": "A"},
        },
        [
            (
                "schemas/agent/lifecycle/created.avsc#/fields/0/type/namespace",
                'namespace "io.acme.window" is not "io.acme.agent.lifecycle" '
                "(the prefix the other files use and the file's directory)",
            ),
            (
                "schemas/common/type.avsc",
                'enum "Type" has no namespace, expected "io.acme.common" '
                "(the prefix the other files use and the file's directory)",
            ),
            (
                "schemas/cost/key.avsc#/name",
                'namespace "io.acme.billing" is not "io.acme.cost" (the prefix the other files use and the file\'s directory)',
            ),
            (
                "schemas/cost/recorded.avsc#/namespace",
                'namespace "io.acme.costs" is not "io.acme.cost" (the prefix the other files use and the file\'s directory)',
            ),
            (
                "schemas/task/execution/failed.avsc#/namespace",
                'namespace "io.other.task.execution" is not "io.acme.task.execution" '
                "(the prefix the other files use and the file's directory)",
            ),
        ],
    ),
    Case(
        "namespace-configured-prefix",
        "NAMESPACE_CONSISTENT",
        {"agent/lifecycle/created.avsc": record("Created", f("id"), namespace="io.acme.agent.lifecycle")},
        [
            (
                "schemas/agent/lifecycle/created.avsc#/namespace",
                'namespace "io.acme.agent.lifecycle" is not "com.acme.agent.lifecycle" '
                "(the configured prefix and the file's directory)",
            )
        ],
        lint='namespace-prefix = "com.acme"\n',
    ),
    Case(
        "namespace-no-common-prefix",
        "NAMESPACE_CONSISTENT",
        {
            "agent/created.avsc": record("Created", f("id"), namespace="io.acme.agents"),
            "task/started.avsc": record("Started", f("id"), namespace="io.acme.tasks"),
        },
        [
            (
                "schemas/agent/created.avsc#/namespace",
                'namespace "io.acme.agents" does not end with "agent", the file\'s directory',
            ),
            (
                "schemas/task/started.avsc#/namespace",
                'namespace "io.acme.tasks" does not end with "task", the file\'s directory',
            ),
        ],
    ),
    Case(
        "namespace-clean",
        "NAMESPACE_CONSISTENT",
        {
            "agent/lifecycle/created.avsc": record(
                "Created",
                f("window", record("Window", f("start", "int"), namespace=None)),
                namespace="io.acme.agent.lifecycle",
            ),
            "task/started.avsc": record("Started", f("id"), namespace="io.acme.task"),
            "top.avsc": record("Top", f("id"), namespace="io.acme"),
        },
        [],
    ),
    Case(
        "namespace-clean-empty-prefix",
        "NAMESPACE_CONSISTENT",
        {"agent/lifecycle/created.avsc": record("Created", f("id"), namespace="agent.lifecycle")},
        [],
        lint='namespace-prefix = ""\n',
    ),
    # --- FIELD_ALIAS_COLLISION -------------------------------------------------------------
    Case(
        "field-alias-collision",
        "FIELD_ALIAS_COLLISION",
        {
            "agent/created.avsc": record(
                "Created",
                f("creator_id", aliases=["creator_id"]),
                f("created_at", "long", aliases=["created", "ts"]),
                f("ts", "long"),
                f("owner", aliases=["user_id"]),
                f("editor", aliases=["user_id"]),
            )
        },
        [
            (
                "schemas/agent/created.avsc#/fields/0/aliases/0",
                'alias "creator_id" of field "creator_id" is the field\'s own name',
            ),
            (
                "schemas/agent/created.avsc#/fields/1/aliases/1",
                'alias "ts" of field "created_at" is the name of another field',
            ),
            (
                "schemas/agent/created.avsc#/fields/4/aliases/0",
                'alias "user_id" of field "editor" is also an alias of field "owner"',
            ),
        ],
    ),
    Case(
        "field-alias-collision-clean",
        "FIELD_ALIAS_COLLISION",
        {
            "agent/created.avsc": record(
                "Created", f("creator_id", aliases=["user_id", "user_id"]), f("created_at", "long", aliases=["created"])
            )
        },
        [],
    ),
    # --- RECURSIVE_RECORD_DEFAULT ----------------------------------------------------------
    Case(
        "recursive-record-default",
        "RECURSIVE_RECORD_DEFAULT",
        {
            "tree/node.avsc": record(
                "Node",
                f("value", "int"),
                f("children", {"type": "array", "items": "Node"}, default=[{"value": 1, "children": []}]),
                namespace="acme.tree",
            ),
            "tree/outer.avsc": record(
                "Outer",
                f(
                    "inner",
                    record("Inner", f("outer_list", {"type": "array", "items": "Outer"}, default=[]), namespace=None),
                ),
                f("second", "Inner", default={"outer_list": [{"inner": {"outer_list": []}}]}),
                namespace="acme.tree",
            ),
        },
        [
            (
                "schemas/tree/node.avsc#/fields/1/default/0",
                'default of field "children" holds a value of record "Node", which is still being defined there',
            ),
            (
                "schemas/tree/outer.avsc#/fields/1/default/outer_list/0",
                'default of field "second" holds a value of record "Outer", which is still being defined there',
            ),
        ],
    ),
    Case(
        "recursive-record-default-clean",
        "RECURSIVE_RECORD_DEFAULT",
        {
            "tree/node.avsc": record(
                "Node",
                f("value", "int"),
                f("children", {"type": "array", "items": "Node"}, default=[]),
                namespace="acme.tree",
            ),
            "tree/leaf.avsc": record("Leaf", f("v", "int"), namespace="acme.tree"),
            "tree/holder.avsc": record(
                "Holder",
                f("leaf", "acme.tree.Leaf", default={"v": 1}),  # defined in another file: complete
                f("first", record("Inner", f("v", "int"), namespace=None)),
                f("second", "Inner", default={"v": 2}),  # defined in an earlier field: complete
                namespace="acme.tree",
            ),
        },
        [],
    ),
    # --- JSON_TITLE ------------------------------------------------------------------------
    Case(
        "json-title",
        "JSON_TITLE",
        {
            "agent/lifecycle/created.schema.json": json_schema(title=None),
            "agent/lifecycle/created_key.schema.json": json_schema(title=" "),
            "common/money.schema.json": json_schema(title=None),  # used by no topic
        },
        [
            ("schemas/agent/lifecycle/created.schema.json", "schema has no title"),
            ("schemas/agent/lifecycle/created_key.schema.json", "schema has no title"),
        ],
        catalog=topic(
            "agent.lifecycle.created",
            "agent/lifecycle/created.schema.json",
            key="agent/lifecycle/created_key.schema.json",
        ),
    ),
    Case(
        "json-title-clean",
        "JSON_TITLE",
        {"agent/lifecycle/created.schema.json": json_schema(title="AgentCreated")},
        [],
        catalog=topic("agent.lifecycle.created", "agent/lifecycle/created.schema.json"),
    ),
    # --- JSON_ADDITIONAL_PROPERTIES --------------------------------------------------------
    Case(
        "json-additional-properties",
        "JSON_ADDITIONAL_PROPERTIES",
        {
            "agent/x.schema.json": json_schema(
                properties={"money": {"type": "object", "properties": {"amount": {"type": "string"}}}},
                defs={"Money": {"type": "object", "properties": {"amount": {"type": "string"}}}},
            )
        },
        [
            ("schemas/agent/x.schema.json", "object schema with properties does not set additionalProperties"),
            (
                "schemas/agent/x.schema.json#/$defs/Money",
                "object schema with properties does not set additionalProperties",
            ),
            (
                "schemas/agent/x.schema.json#/properties/money",
                "object schema with properties does not set additionalProperties",
            ),
        ],
    ),
    Case(
        "json-additional-properties-clean",
        "JSON_ADDITIONAL_PROPERTIES",
        {
            "agent/x.schema.json": json_schema(
                properties={
                    "money": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": True},
                    "labels": {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
                },
                additionalProperties=False,
                defs={"M": {"type": "object", "properties": {"a": {"type": "string"}}, "unevaluatedProperties": False}},
            )
        },
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(tmp_path: Path, case: Case) -> None:
    root = project(tmp_path, case.files, case.catalog, f'select = ["{case.rule}"]\n' + case.lint)
    assert findings(root) == [(case.rule, where, message) for where, message in case.expected]


def test_every_rule_has_a_finding_case_and_a_clean_case() -> None:
    assert {c.rule for c in CASES if c.expected} == set(RULES)
    assert {c.rule for c in CASES if not c.expected} == set(RULES)


def test_every_rule_declares_purpose_severity_and_default() -> None:
    for r in RULES.values():
        assert r.purpose and r.purpose[0].isupper() and "\n" not in r.purpose
        assert r.severity in ("error", "warning")
    assert [r.id for r in RULES.values() if not r.default] == ["ALL_FIELDS_DEFAULT"]


@pytest.mark.parametrize("case", [c for c in CASES if c.expected], ids=[c.id for c in CASES if c.expected])
def test_messages_are_one_plain_sentence(case: Case) -> None:
    for _, message in case.expected:
        assert message[0].islower() and not message.endswith(".") and "\n" not in message
