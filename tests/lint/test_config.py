"""``[tool.schemabus.lint]``: select, enable, disable, per-file-ignores, namespace-prefix; unknown keys
and unknown rule IDs rejected with their names; ``[tool.schemabus]`` otherwise unchanged."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from schemabus.codegen.config import Config, LintConfig, load_config
from schemabus.codegen.diagnostics import SchemaError
from schemabus.codegen.lint import RULES
from schemabus.codegen.lint.engine import glob_regex, selected_rules

from ..conftest import ROOT
from .support import field as f
from .support import findings, project, record, run

# Two files with an undocumented field each, one under legacy/ and one deeper.
FILES = {
    "legacy/old.avsc": record("Old", f("a", doc=None), namespace="io.acme.legacy"),
    "legacy/deep/older.avsc": record("Older", f("b", doc=None), namespace="io.acme.legacy.deep"),
    "agent/created.avsc": record("Created", f("c", doc=None), f("d", "int"), namespace="io.acme.agent"),
}
ALL_THREE = [
    ("FIELD_DOC", "schemas/agent/created.avsc#/fields/0", 'field "c" has no doc'),
    ("FIELD_DOC", "schemas/legacy/deep/older.avsc#/fields/0", 'field "b" has no doc'),
    ("FIELD_DOC", "schemas/legacy/old.avsc#/fields/0", 'field "a" has no doc'),
]


def test_defaults_run_every_rule_enabled_by_default(tmp_path: Path) -> None:
    assert findings(project(tmp_path, FILES)) == ALL_THREE
    assert "ALL_FIELDS_DEFAULT" not in {r.id for r in selected_rules(LintConfig())}
    assert len(selected_rules(LintConfig())) == 12


def test_disable(tmp_path: Path) -> None:
    assert findings(project(tmp_path, FILES, lint_toml='disable = ["FIELD_DOC"]\n')) == []


def test_enable_adds_a_rule_that_is_off_by_default(tmp_path: Path) -> None:
    catalog = '[topics."agent.lifecycle.created"]\nvalue = "agent/created.avsc"\n'
    root = project(
        tmp_path, FILES, catalog, 'enable = ["ALL_FIELDS_DEFAULT"]\ndisable = ["FIELD_DOC", "SUBJECT_NAME"]\n'
    )
    assert findings(root) == [
        ("ALL_FIELDS_DEFAULT", "schemas/agent/created.avsc#/fields/0", 'field "c" has no default'),
        ("ALL_FIELDS_DEFAULT", "schemas/agent/created.avsc#/fields/1", 'field "d" has no default'),
    ]


def test_select_replaces_the_defaults_and_disable_wins(tmp_path: Path) -> None:
    files = {**FILES, "x.avsc": record("X", f("n", ["null", "int"]), doc=None, namespace="io.acme")}
    assert [r for r, _, _ in findings(project(tmp_path / "a", files, lint_toml='select = ["RECORD_DOC"]\n'))] == [
        "RECORD_DOC"
    ]
    both = 'select = ["RECORD_DOC", "FIELD_DEFAULT"]\nenable = ["FIELD_DOC"]\ndisable = ["RECORD_DOC", "FIELD_DOC"]\n'
    assert [r for r, _, _ in findings(project(tmp_path / "b", files, lint_toml=both))] == ["FIELD_DEFAULT"]


def test_per_file_ignores_globs_relative_to_the_project_root(tmp_path: Path) -> None:
    one_level = project(
        tmp_path / "a", FILES, lint_toml='per-file-ignores = { "schemas/legacy/*.avsc" = ["FIELD_DOC"] }\n'
    )
    assert findings(one_level) == [ALL_THREE[0], ALL_THREE[1]]  # * stays within legacy/
    recursive = project(tmp_path / "b", FILES, lint_toml='per-file-ignores = { "schemas/legacy/**" = ["FIELD_DOC"] }\n')
    assert findings(recursive) == [ALL_THREE[0]]
    other_rule = project(
        tmp_path / "c", FILES, lint_toml='per-file-ignores = { "schemas/**/*.avsc" = ["RECORD_DOC"] }\n'
    )
    assert findings(other_rule) == ALL_THREE


def test_per_file_ignores_for_the_catalog(tmp_path: Path) -> None:
    files = {"agent/created.avsc": record("Created", f("id"), namespace="io.acme.agent")}
    catalog = '[topics."agent.lifecycle.created"]\nvalue = "agent/created.avsc"\n'
    assert [r for r, _, _ in findings(project(tmp_path / "a", files, catalog))] == ["SUBJECT_NAME"]
    ignore = 'per-file-ignores = { "schemas/catalog.toml" = ["SUBJECT_NAME"] }\n'
    assert findings(project(tmp_path / "b", files, catalog, ignore)) == []


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("schemas/legacy/*.avsc", ["schemas/legacy/a.avsc"], ["schemas/legacy/x/a.avsc", "schemas/legacy/a.json"]),
        ("schemas/**/*.avsc", ["schemas/a.avsc", "schemas/x/y/a.avsc"], ["other/a.avsc"]),
        ("schemas/legacy/**", ["schemas/legacy/a.avsc", "schemas/legacy/x/b.json"], ["schemas/legacy2/a.avsc"]),
        (
            "schemas/v?/[ab].avsc",
            ["schemas/v1/a.avsc", "schemas/v2/b.avsc"],
            ["schemas/v10/a.avsc", "schemas/v1/c.avsc"],
        ),
        ("schemas/[!l]*/*.avsc", ["schemas/agent/a.avsc"], ["schemas/legacy/a.avsc"]),
        ("schemas/a+b.avsc", ["schemas/a+b.avsc"], ["schemas/aab.avsc"]),
        ("schemas/v[0-2]/*", ["schemas/v0/a.avsc", "schemas/v2/a.avsc"], ["schemas/v3/a.avsc", "schemas/v-/a.avsc"]),
        ("schemas/[^x]/*", ["schemas/^/a.avsc", "schemas/x/a.avsc"], ["schemas/y/a.avsc"]),
    ],
)
def test_glob_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    for path in matches:
        assert glob_regex(pattern).fullmatch(path), path
    for path in misses:
        assert not glob_regex(pattern).fullmatch(path), path


CONFIG_ERRORS = [
    (
        'ignore = ["FIELD_DOC"]\n',
        'pyproject.toml#/tool/schemabus/lint/ignore: unknown key "ignore" in [tool.schemabus.lint] '
        "(known: disable, enable, namespace-prefix, per-file-ignores, select)",
    ),
    (
        'disable = ["FIELD_DOC", "FIELD_DOCS"]\n',
        'pyproject.toml#/tool/schemabus/lint/disable/1: unknown rule "FIELD_DOCS" (known: ',
    ),
    ('select = ["topic_name"]\n', 'pyproject.toml#/tool/schemabus/lint/select/0: unknown rule "topic_name"'),
    ('enable = ["NOPE"]\n', 'pyproject.toml#/tool/schemabus/lint/enable/0: unknown rule "NOPE"'),
    (
        'per-file-ignores = { "schemas/legacy/*.avsc" = ["NOPE"] }\n',
        'pyproject.toml#/tool/schemabus/lint/per-file-ignores/schemas~1legacy~1*.avsc/0: unknown rule "NOPE"',
    ),
    ('disable = "FIELD_DOC"\n', "pyproject.toml#/tool/schemabus/lint/disable: disable must be an array of rule IDs"),
    (
        'per-file-ignores = ["FIELD_DOC"]\n',
        "pyproject.toml#/tool/schemabus/lint/per-file-ignores: per-file-ignores must be a table",
    ),
    (
        'namespace-prefix = "io.2acme"\n',
        "pyproject.toml#/tool/schemabus/lint/namespace-prefix: namespace-prefix must be",
    ),
]


@pytest.mark.parametrize(("lint_toml", "expected"), CONFIG_ERRORS, ids=[c[0].split(" ")[0] for c in CONFIG_ERRORS])
def test_config_errors_name_the_key_or_rule_and_exit_2(tmp_path: Path, lint_toml: str, expected: str) -> None:
    root = project(tmp_path, FILES, lint_toml=lint_toml)
    with pytest.raises(SchemaError) as e:
        load_config(root / "pyproject.toml")
    assert str(e.value).startswith(expected)
    result = run("--project", root)
    assert result.exit_code == 2
    assert f"error: {expected}" in result.output
    assert "Traceback" not in result.output


def test_lint_must_be_a_table(tmp_path: Path) -> None:
    root = project(tmp_path, FILES)
    (root / "pyproject.toml").write_text('[tool.schemabus]\nlint = "strict"\n')
    with pytest.raises(SchemaError, match=r"^pyproject.toml#/tool/schemabus/lint: lint must be a table"):
        load_config(root / "pyproject.toml")


def test_settings_are_read_into_a_frozen_config(tmp_path: Path) -> None:
    toml = (
        'select = ["FIELD_DOC"]\nenable = ["ENUM_DEFAULT"]\ndisable = ["TOPIC_NAME"]\n'
        'namespace-prefix = "io.acme"\nper-file-ignores = { "schemas/a/*" = ["FIELD_DOC", "RECORD_DOC"] }\n'
    )
    config = load_config(project(tmp_path, FILES, lint_toml=toml) / "pyproject.toml")
    assert config.lint == LintConfig(
        select=("FIELD_DOC",),
        enable=("ENUM_DEFAULT",),
        disable=("TOPIC_NAME",),
        per_file_ignores=(("schemas/a/*", ("FIELD_DOC", "RECORD_DOC")),),
        namespace_prefix="io.acme",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lint = LintConfig()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lint.disable = ()  # type: ignore[misc]


def test_existing_configuration_is_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path, FILES)
    config = load_config(root / "pyproject.toml")
    assert config == Config(root=root, schemas="schemas", package="events")
    assert config.lint == LintConfig()
    (root / "pyproject.toml").write_text('[tool.schemabus]\nouptut = "gen"\n')
    with pytest.raises(SchemaError) as e:
        load_config(root / "pyproject.toml")
    assert str(e.value) == (
        'pyproject.toml#/tool/schemabus/ouptut: unknown key "ouptut" in [tool.schemabus] '
        "(known: asyncapi, catalog, json_schema_draft, line_length, lint, output, package, schemas)"
    )
    (root / "pyproject.toml").write_text("[tool.schemabus]\nline_length = true\n")
    with pytest.raises(SchemaError, match="line_length must be a int"):
        load_config(root / "pyproject.toml")


def _readme_lint_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Lint\n", 1)[1].split("\n## ", 1)[0]


def test_readme_documents_every_rule_and_a_valid_configuration(tmp_path: Path) -> None:
    section = _readme_lint_section()
    table = dict(re.findall(r"^\| `([A-Z_]+)` \| (yes|no) \|", section, flags=re.M))
    assert table == {r.id: "yes" if r.default else "no" for r in RULES.values()}
    (example,) = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    root = project(tmp_path, FILES)
    (root / "pyproject.toml").write_text('[tool.schemabus]\nschemas = "schemas"\n\n' + example)
    assert load_config(root / "pyproject.toml").lint.per_file_ignores == (("schemas/legacy/**", ("FIELD_DOC",)),)
