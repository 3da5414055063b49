"""`schemabus lint`: the three output formats, exit codes (0 clean, 1 findings, 2 usage or schema
errors), and this repository's own schemas linting clean."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from schemabus.codegen.lint import RULES
from schemabus.codegen.lint.cli import lint

from ..conftest import ROOT
from .support import field as f
from .support import json_schema, project, record, run

FILES = {
    "agent/lifecycle/created.avsc": record(
        "Created",
        f("agent_id"),
        f("creator_id", doc=None),
        f("owner", aliases=["owner"]),
        namespace="io.acme.agent.lifecycle",
    ),
    "agent/execution/started.schema.json": json_schema(
        title="Started", properties={"a%b,c": {"type": "string"}}, additionalProperties=False
    ),
}
CATALOG = (
    '[topics."agent.lifecycle.created"]\nkey = "string"\nvalue = "agent/lifecycle/created.avsc"\n'
    '[topics."agent.execution.started"]\nvalue = "agent/execution/started.schema.json"\n'
)


def test_text_format_and_exit_1(tmp_path: Path) -> None:
    result = run("--project", project(tmp_path, FILES, CATALOG))
    assert result.exit_code == 1
    assert result.stdout == (
        'schemas/agent/execution/started.schema.json#/properties/a%b,c: property "a%b,c" has no description (FIELD_DOC)\n'
        'schemas/agent/lifecycle/created.avsc#/fields/1: field "creator_id" has no doc (FIELD_DOC)\n'
        "schemas/agent/lifecycle/created.avsc#/fields/2/aliases/0: "
        'alias "owner" of field "owner" is the field\'s own name (FIELD_ALIAS_COLLISION)\n'
    )
    assert result.stderr == "3 findings (12 rules on 2 schema files and 2 topics)\n"


def test_json_format(tmp_path: Path) -> None:
    result = run("--format", "json", "--project", project(tmp_path, FILES, CATALOG))
    assert result.exit_code == 1
    assert result.stderr == ""
    assert json.loads(result.stdout)["findings"][1:] == [
        {
            "rule": "FIELD_DOC",
            "severity": "warning",
            "file": "schemas/agent/lifecycle/created.avsc",
            "pointer": "/fields/1",
            "message": 'field "creator_id" has no doc',
        },
        {
            "rule": "FIELD_ALIAS_COLLISION",
            "severity": "error",
            "file": "schemas/agent/lifecycle/created.avsc",
            "pointer": "/fields/2/aliases/0",
            "message": 'alias "owner" of field "owner" is the field\'s own name',
        },
    ]


def test_github_format(tmp_path: Path) -> None:
    result = run("--format", "github", "--project", project(tmp_path, FILES, CATALOG))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        # % is escaped everywhere; "," and ":" only in properties (file=, title=)
        "::warning file=schemas/agent/execution/started.schema.json,title=FIELD_DOC::"
        'property "a%25b,c" has no description [#/properties/a%25b,c]',
        "::warning file=schemas/agent/lifecycle/created.avsc,title=FIELD_DOC::"
        'field "creator_id" has no doc [#/fields/1]',
        "::error file=schemas/agent/lifecycle/created.avsc,title=FIELD_ALIAS_COLLISION::"
        'alias "owner" of field "owner" is the field\'s own name [#/fields/2/aliases/0]',
    ]


def test_github_format_without_a_pointer(tmp_path: Path) -> None:
    files = {"a.avsc": record("A", f("x"), doc=None, namespace="io.acme")}
    result = run("--format", "github", "--project", project(tmp_path, files))
    assert result.stdout == '::warning file=schemas/a.avsc,title=RECORD_DOC::record "A" has no doc\n'


def test_clean_project_exits_0_in_every_format(tmp_path: Path) -> None:
    root = project(tmp_path, {"a.avsc": record("A", f("x"), namespace="io.acme")})
    text = run("--project", root)
    assert (text.exit_code, text.stdout, text.stderr) == (
        0,
        "",
        "no findings (12 rules on 1 schema file and 0 topics)\n",
    )
    assert json.loads(run("--format", "json", "--project", root).stdout) == {"findings": []}
    github = run("--format", "github", "--project", root)
    assert (github.exit_code, github.stdout) == (0, "")


def test_schema_errors_exit_2_with_file_and_pointer(tmp_path: Path) -> None:
    root = project(tmp_path, {"a.avsc": record("A", f("x", "strng"))})
    result = run("--project", root)
    assert result.exit_code == 2
    assert 'error: schemas/a.avsc#/fields/0/type: unknown type "strng"' in result.stderr
    assert "Traceback" not in result.output
    catalog = run("--project", project(tmp_path / "b", FILES, '[topics."Agent.created"]\nvalue = "x.avsc"\n'))
    assert catalog.exit_code == 2
    assert "error: schemas/catalog.toml#/topics/Agent.created: topic name" in catalog.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("--project", tmp_path / "nowhere").exit_code == 2
    assert run("--format", "sarif", "--project", project(tmp_path, FILES)).exit_code == 2
    assert run("--no-such-option").exit_code == 2


def test_project_option_takes_the_directory_or_the_file(tmp_path: Path) -> None:
    root = project(tmp_path, FILES, CATALOG)
    assert run("--project", root / "pyproject.toml").stdout == run("--project", root).stdout != ""


def test_list_rules() -> None:
    result = CliRunner().invoke(lint, ["--list-rules"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == sorted(RULES)
    assert [line.split()[1] for line in lines if line.startswith("ALL_FIELDS_DEFAULT ")] == ["off"]
    assert all(line.split()[1] == "on" for line in lines if not line.startswith("ALL_FIELDS_DEFAULT "))


def test_this_repository_lints_clean() -> None:
    result = run("--project", ROOT)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("no findings (12 rules on ")
