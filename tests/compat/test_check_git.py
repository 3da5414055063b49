"""`schemabus check` against git history: subjects followed through the catalog of each commit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemabus.codegen.cli import main

CATALOG = """
[topics."agent.lifecycle.created"]
key = "string"
value = "{avro}"
compatibility = "{level}"
{extra}
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _record(*fields: dict[str, Any]) -> str:
    return json.dumps({"type": "record", "name": "Created", "namespace": "agent", "fields": list(fields)}, indent=1)


ID = {"name": "agent_id", "type": "string"}
CREATOR = {"name": "creator_id", "type": "string"}
CREATOR_WITH_DEFAULT = {"name": "creator_id", "type": "string", "default": "n/a"}


class Repo:
    def __init__(self, root: Path, branch: str = "main") -> None:
        self.root = root
        root.mkdir()
        _git(root, "init", "-q", "-b", branch)
        _git(root, "config", "user.email", "dev@example.com")
        _git(root, "config", "user.name", "dev")
        (root / "pyproject.toml").write_text('[tool.schemabus]\npackage = "ev"\n')
        (root / "schemas").mkdir()

    def write(
        self, avro_text: str, *, path: str = "agent/created.avsc", level: str = "BACKWARD", extra: str = ""
    ) -> None:
        target = self.root / "schemas" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(avro_text)
        (self.root / "schemas" / "catalog.toml").write_text(CATALOG.format(avro=path, level=level, extra=extra))

    def commit(self, message: str) -> str:
        _git(self.root, "add", "-A")
        _git(self.root, "commit", "-q", "-m", message)
        return _git(self.root, "rev-parse", "HEAD").strip()

    def check(self, *args: str) -> Any:
        return CliRunner().invoke(main, ["check", "--project", str(self.root), *args])


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def test_working_tree_change_is_checked_against_the_last_commit(repo: Repo) -> None:
    repo.write(_record(ID))
    repo.commit("v1")
    repo.write(_record(ID, CREATOR_WITH_DEFAULT))
    ok = repo.check()
    assert ok.exit_code == 0, ok.output
    assert "no incompatibilities (1 subjects" in ok.output
    repo.write(_record(ID, CREATOR))
    bad = repo.check()
    assert bad.exit_code == 1
    assert "schemas/agent/created.avsc#/fields/1: " in bad.output
    assert "(READER_FIELD_MISSING_DEFAULT_VALUE)" in bad.output


def test_renamed_file_keeps_its_history(repo: Repo) -> None:
    repo.write(_record(ID))
    repo.commit("v1")
    (repo.root / "schemas" / "agent" / "created.avsc").unlink()
    repo.write(_record(ID, CREATOR), path="agent/lifecycle/created.avsc")
    result = repo.check()
    assert result.exit_code == 1
    assert "schemas/agent/lifecycle/created.avsc#/fields/1: " in result.output
    assert "schemas/agent/created.avsc" in result.output  # the writer: the old path at the base commit


def test_transitive_levels_replay_every_committed_version(repo: Repo) -> None:
    repo.write(_record(ID), level="BACKWARD_TRANSITIVE")
    repo.commit("v1")
    repo.write(_record(ID, CREATOR_WITH_DEFAULT), level="BACKWARD_TRANSITIVE")
    repo.commit("v2")
    repo.write(
        _record(ID, CREATOR_WITH_DEFAULT, {"name": "x", "type": "int", "default": 0}), level="BACKWARD_TRANSITIVE"
    )
    repo.commit("v3")
    # Dropping the default breaks reading v1 data (no creator_id), but not v2 or v3 data.
    repo.write(_record(ID, CREATOR, {"name": "x", "type": "int", "default": 0}), level="BACKWARD_TRANSITIVE")
    result = repo.check()
    assert result.exit_code == 1
    assert "3 committed versions compared" in result.output
    assert result.output.count("READER_FIELD_MISSING_DEFAULT_VALUE") == 1
    plain = repo.root / "schemas" / "catalog.toml"
    plain.write_text(plain.read_text().replace("BACKWARD_TRANSITIVE", "BACKWARD"))
    assert repo.check().exit_code == 0


def test_against_any_ref(repo: Repo) -> None:
    repo.write(_record(ID))
    first = repo.commit("v1")
    repo.write(_record(ID, CREATOR))
    repo.commit("v2: breaks v1 readers' history, but it is committed")
    assert repo.check().exit_code == 0  # the working tree equals HEAD
    result = repo.check("--against", first)
    assert result.exit_code == 1 and "READER_FIELD_MISSING_DEFAULT_VALUE" in result.output
    unknown = repo.check("--against", "no-such-ref")
    assert unknown.exit_code == 2 and "error: git" in unknown.output


def test_deleted_subject_is_a_finding_unless_marked(repo: Repo) -> None:
    repo.write(_record(ID))
    repo.commit("v1")
    (repo.root / "schemas" / "catalog.toml").write_text(
        '[topics."agent.lifecycle.renamed"]\nkey = "string"\nvalue = "agent/created.avsc"\n'
    )
    result = repo.check()
    assert result.exit_code == 1
    assert 'schemas/catalog.toml: subject "agent.lifecycle.created-value" exists at the base commit' in result.output
    assert "(SUBJECT_DELETED)" in result.output
    repo.write(_record(ID), extra="deleted = true")
    (repo.root / "schemas" / "catalog.toml").write_text(
        (repo.root / "schemas" / "catalog.toml").read_text()
        + '\n[topics."agent.lifecycle.renamed"]\nkey = "string"\nvalue = "agent/created.avsc"\n'
    )
    assert repo.check().exit_code == 0


def test_feature_branch_compares_with_the_merge_base(repo: Repo) -> None:
    repo.write(_record(ID))
    repo.commit("v1 on main")
    _git(repo.root, "checkout", "-q", "-b", "feature")
    repo.write(_record(ID, CREATOR))
    repo.commit("feature: breaking change")
    result = repo.check()
    assert result.exit_code == 1
    assert "merge-base of HEAD and main" in result.output


def test_detached_checkout_without_a_main_branch_compares_with_head(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", branch="trunk")
    repo.write(_record(ID))
    repo.commit("v1")
    _git(repo.root, "checkout", "-q", "--detach")
    repo.write(_record(ID, CREATOR))
    result = repo.check()
    assert result.exit_code == 1
    assert "HEAD (no main branch found)" in result.output


def test_json_schema_subject(repo: Repo) -> None:
    repo.write(_record(ID))
    (repo.root / "schemas" / "e.schema.json").write_text(
        json.dumps({"type": "object", "properties": {"n": {"type": "string"}}, "additionalProperties": False})
    )
    catalog = repo.root / "schemas" / "catalog.toml"
    catalog.write_text(catalog.read_text() + '\n[topics."agent.event.seen"]\nvalue = "e.schema.json"\n')
    repo.commit("v1")
    (repo.root / "schemas" / "e.schema.json").write_text(
        json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False})
    )
    result = repo.check("--format", "json")
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["file"], finding["pointer"], finding["rule"]) == (
        "schemas/e.schema.json",
        "/properties/n",
        "TYPE_CHANGED",
    )


def test_first_commit_has_nothing_to_compare_with(repo: Repo) -> None:
    # A pre-commit hook runs before the first commit exists: every subject is new, so it passes.
    repo.write(_record(ID))
    result = repo.check()
    assert result.exit_code == 0, result.output
    assert "no incompatibilities (1 subjects, first commit: nothing committed to compare with;" in result.output


def test_against_a_ref_that_names_no_commit(repo: Repo) -> None:
    repo.write(_record(ID))
    repo.commit("v1")
    result = repo.check("--against", "v9")
    assert result.exit_code == 2
    assert 'error: git: "v9" does not name a commit in ' in result.output


# --- histories that change shape: keys, shared types, catalogs and formats that come and go -----------


def _catalog(repo: Repo, text: str) -> None:
    (repo.root / "schemas" / "catalog.toml").write_text(text)


def _file(repo: Repo, path: str, content: Any) -> None:
    target = repo.root / "schemas" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content if isinstance(content, str) else json.dumps(content, indent=1))


def test_avro_keys_and_types_defined_in_other_files_are_followed_through_history(repo: Repo) -> None:
    """The key subject of an Avro key has a history too; a record whose field types (in a union, an
    array, a map) are defined in another file is loaded with that file as it was at each commit."""
    shared = {"type": "enum", "name": "Kind", "namespace": "agent", "symbols": ["A", "B"]}
    value = {
        "type": "record",
        "name": "Created",
        "namespace": "agent",
        "fields": [
            {"name": "kind", "type": ["null", "Kind"], "default": None},
            {"name": "kinds", "type": {"type": "array", "items": "agent.Kind"}},
            {"name": "by_name", "type": {"type": "map", "values": {"type": "Kind"}}},
        ],
    }
    key = {"type": "record", "name": "Key", "namespace": "agent", "fields": [{"name": "id", "type": "string"}]}
    _file(repo, "agent/kind.avsc", shared)
    _file(repo, "agent/created.avsc", value)
    _file(repo, "agent/key.avsc", key)
    catalog = '[topics."agent.lifecycle.created"]\nkey = "agent/key.avsc"\nvalue = "agent/created.avsc"\n'
    _catalog(repo, catalog.replace("\n", '\ncompatibility = "BACKWARD_TRANSITIVE"\n', 1))
    repo.commit("v1")
    _file(repo, "agent/kind.avsc", {**shared, "symbols": ["A"]})  # readers of v1 data meet an unknown B
    _file(repo, "agent/key.avsc", {**key, "fields": [{"name": "id", "type": "int"}]})
    result = repo.check()
    assert result.exit_code == 1, result.output
    assert "schemas/agent/key.avsc" in result.output and "TYPE_MISMATCH" in result.output
    assert "MISSING_ENUM_SYMBOLS" in result.output
    assert "(2 subjects against" in result.output


def test_history_notes_what_it_could_not_read_or_had_to_restart(repo: Repo) -> None:
    """Transitive checks read every commit: a commit whose catalog or schema does not load is skipped
    with a note, and a subject whose format changed (Avro to JSON Schema) starts its history anew."""
    level = "BACKWARD_TRANSITIVE"
    repo.write(_record(ID), level=level)
    repo.commit("v1: Avro")
    _catalog(repo, "[topics.broken")
    repo.commit("v2: a catalog that does not parse")
    json_catalog = (
        f'[topics."agent.lifecycle.created"]\nkey = "string"\nvalue = "agent/created.schema.json"\n'
        f'compatibility = "{level}"\n'
    )
    (repo.root / "schemas" / "agent" / "created.avsc").unlink()
    _file(repo, "agent/created.schema.json", "{ not json")
    _catalog(repo, json_catalog)
    repo.commit("v3: JSON Schema that does not load")
    _file(repo, "agent/created.schema.json", {"type": "object", "properties": {"agent_id": {"type": "string"}}})
    repo.commit("v4: JSON Schema")
    result = repo.check()
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert any("catalog skipped" in n for n in notes), notes
    assert any("skipped, its schema does not load" in n for n in notes), notes
    assert any("the format change resets its history" in n for n in notes), notes


def test_a_subject_at_level_none_is_not_checked(repo: Repo) -> None:
    repo.write(_record(ID), level="NONE")
    repo.commit("v1")
    repo.write(_record(CREATOR), level="NONE")  # would break any reader
    result = repo.check()
    assert result.exit_code == 0 and "no incompatibilities" in result.output
