"""A released install runs every command: the wheel in a clean virtualenv without extras, used from
a directory outside the checkout (see install.py), and the sdist where no C compiler works.

The commands that need a registry or a broker (register, check --against-registry, dlq inspect and
replay, lag) run in tests/integration/test_release_servers.py, against the servers of the session.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from ..conftest import ROOT
from .install import SETUPTOOLS_METADATA, VERSION, Release, Venv, explain, ok
from .readme import quickstart_commands, readme_files


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def bash(venv: Venv, script: str, cwd: Path) -> str:
    """Run shell commands as written, in the virtualenv (as if activated); return what they printed."""
    done = ok(venv.run("bash", "-euo", "pipefail", "-c", script, cwd=cwd))
    return done.stdout + done.stderr


def run_quickstart(release: Release, venv: Venv, name: str, installed: Path) -> str:
    """The README's Quickstart as written, in ``venv``; returns what its commands printed.

    schemabus is not published yet: the install line names a placeholder requirement, for which
    ``installed`` (the wheel or sdist ``venv`` was made with) stands in. A wheel is installed again
    (pip finds it satisfied); an sdist is not (pip would rebuild it, now with the compiler).
    """
    project = write_files(release.scratch(name), readme_files())
    install, commands = quickstart_commands()
    install, n = re.subn(r'"schemabus @ [^"]*"', str(installed), install)
    assert n == 1 and install.startswith("pip install "), install
    out = bash(venv, install, project) if installed.suffix == ".whl" else ""
    out += bash(venv, commands, project)
    assert (project / "generated" / "shop_events" / "shop" / "topics.py").is_file()  # the "shop" domain
    assert ok(venv.schemabus("generate", "--check", cwd=project)).returncode == 0
    return out


# --- building ---------------------------------------------------------------------------------


def test_building_writes_nothing_into_the_checkout_but_setuptools_metadata(release: Release) -> None:
    others = [p for p in release.tree_changes if p.split("/")[0] != SETUPTOOLS_METADATA]
    assert others == [], f"`python -m build` changed these paths of the checkout: {others}"
    assert release.sdist.name == f"schemabus-{VERSION}.tar.gz"
    assert release.wheel.name.startswith(f"schemabus-{VERSION}-")


def test_the_wheel_installs_without_extras_and_pip_check_passes(release: Release) -> None:
    venv = release.wheel_venv
    cwd = release.scratch("pip")
    ok(venv.run(venv.python, "-m", "pip", "check", cwd=cwd))
    listed = json.loads(ok(venv.run(venv.python, "-m", "pip", "list", "--format", "json", cwd=cwd)).stdout)
    installed = {d["name"].lower() for d in listed}
    assert {"schemabus", "jsonschema", "pydantic", "fastavro", "confluent-kafka"} <= installed
    assert not installed & {"pytest", "hypothesis", "mypy", "avro", "build", "pre-commit"}, installed


def test_every_module_of_the_installed_package_imports(release: Release) -> None:
    venv = release.wheel_venv
    script = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import schemabus
        site, failed, names = sys.argv[1], [], []
        for m in pkgutil.walk_packages(schemabus.__path__, "schemabus.", onerror=failed.append):
            if m.name.endswith(".__main__"):
                continue  # runs the command line: `python -m schemabus.codegen --help` is tested
            try:
                module = importlib.import_module(m.name)
            except Exception as e:
                failed.append(f"{m.name}: {e!r}")
                continue
            assert module.__file__.startswith(site), (m.name, module.__file__)
            names.append(m.name)
        print(json.dumps({"failed": failed, "imported": names}))
        """
    )
    done = ok(venv.run(venv.python, "-c", script, venv.site_packages(), cwd=release.scratch("imports")))
    result = json.loads(done.stdout)
    assert result["failed"] == []
    expected = {"schemabus.runtime._speedups"}  # the compiled codec, built into the wheel
    for top, package in (("codegen", "schemabus.codegen"), ("runtime", "schemabus.runtime")):
        for source in (ROOT / top).rglob("*.py"):
            parts = source.relative_to(ROOT / top).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts[-1:] != ("__main__",):
                expected.add(".".join([package, *parts]))
    assert set(result["imported"]) == expected


# --- the README and every command -----------------------------------------------------------------


def test_readme_quickstart_as_written(release: Release) -> None:
    out = run_quickstart(release, release.wheel_venv, "quickstart", release.wheel)
    assert "no findings (12 rules on 1 schema file and 1 topic)" in out  # `schemabus lint`, default rules
    assert "billing order " in out and "stored at shop.order.placed[" in out
    assert "Warning" not in out  # the wheel's compiled codec runs
    probe = "from schemabus.runtime import speedups; print(speedups.extension.__name__)"
    venv = release.wheel_venv
    assert ok(venv.run(venv.python, "-c", probe, cwd=release.root)).stdout.strip() == "schemabus.runtime._speedups"


def test_version_and_the_help_of_every_command(release: Release) -> None:
    venv = release.wheel_venv
    cwd = release.scratch("help")
    assert ok(venv.schemabus("--version", cwd=cwd)).stdout.strip() == f"schemabus, version {VERSION}"
    # Every command and subcommand of the installed command line, found by walking its click groups.
    # (list_commands/get_command: the groups load some commands only when asked for them)
    walk = (
        "import click\nfrom schemabus.codegen.cli import main\n"
        "def walk(group, path):\n"
        "    ctx = click.Context(group)\n"
        "    for name in sorted(group.list_commands(ctx)):\n"
        "        cmd = group.get_command(ctx, name)\n"
        "        print(' '.join([*path, name]))\n"
        "        if isinstance(cmd, click.Group):\n"
        "            walk(cmd, [*path, name])\n"
        "walk(main, [])\n"
    )
    commands = ok(venv.run(venv.python, "-c", walk, cwd=cwd)).stdout.splitlines()
    assert set(commands) >= {
        "asyncapi",
        "generate",
        "check",
        "lint",
        "register",
        "dlq",
        "dlq inspect",
        "dlq replay",
        "lag",
        "topics",
        "topics plan",
        "topics apply",
        "dev",
        "dev up",
        "dev down",
        "dev status",
        "import",
        "import pydantic",
    }
    for command in ["", *commands]:
        done = ok(venv.schemabus(*command.split(), "--help", cwd=cwd))
        assert done.stdout.startswith(f"Usage: schemabus {command}".rstrip() + " [OPTIONS]"), explain(done)
    module = ok(venv.run(venv.python, "-m", "schemabus.codegen", "--help", cwd=cwd))
    assert "Commands:" in module.stdout and "generate" in module.stdout


AVRO = {
    "type": "record",
    "name": "Shipment",
    "namespace": "shop.shipping",
    "doc": "A parcel left the warehouse.",
    "fields": [{"name": "id", "type": "string"}, {"name": "weight_g", "type": "int"}],
}
JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Customer",
    "type": "object",
    "properties": {"id": {"type": "string", "format": "uuid"}, "email": {"type": "string", "format": "email"}},
    "required": ["id"],
    "additionalProperties": False,
}


def test_generate_models_from_files(release: Release) -> None:
    venv = release.wheel_venv
    cwd = write_files(
        release.scratch("files"),
        {"schemas/a.avsc": json.dumps(AVRO), "schemas/b.schema.json": json.dumps(JSON_SCHEMA)},
    )
    args = ("generate", "--output", "src/my_models", "schemas/a.avsc", "schemas/b.schema.json")
    ok(venv.schemabus(*args, cwd=cwd))
    assert ok(venv.schemabus(*args, "--check", cwd=cwd)).returncode == 0
    use = textwrap.dedent(
        """
        import io, json, sys, uuid
        import fastavro
        sys.path.insert(0, "src")
        from my_models import Customer, Shipment, shipment_serde
        s = Shipment(id="s-1", weight_g=1200)
        payload = shipment_serde.encode(s)
        assert shipment_serde.decode(payload) == s
        written = fastavro.schemaless_reader(io.BytesIO(payload), json.load(open("schemas/a.avsc")), None)
        assert written == {"id": "s-1", "weight_g": 1200}, written
        c = Customer.model_validate({"id": str(uuid.uuid4()), "email": "a@example.com"})
        print(type(c.id).__name__, len(payload))
        """
    )
    assert ok(venv.run(venv.python, "-c", use, cwd=cwd)).stdout.split() == ["UUID", "6"]


def test_check_files(release: Release) -> None:
    venv = release.wheel_venv
    with_default = {**AVRO, "fields": [*AVRO["fields"], {"name": "carrier", "type": "string", "default": ""}]}
    without_default = {**AVRO, "fields": [*AVRO["fields"], {"name": "carrier", "type": "string"}]}
    closed = JSON_SCHEMA
    wider = {**JSON_SCHEMA, "properties": {**JSON_SCHEMA["properties"], "name": {"type": "string"}}}
    cwd = write_files(
        release.scratch("check-files"),
        {
            "v1.avsc": json.dumps(AVRO),
            "v2.avsc": json.dumps(with_default),
            "v3.avsc": json.dumps(without_default),
            "v1.schema.json": json.dumps(closed),
            "v2.schema.json": json.dumps(wider),
        },
    )
    good = ok(venv.schemabus("check", "--previous", "v1.avsc", "v2.avsc", cwd=cwd))
    assert "no incompatibilities (BACKWARD)" in good.stderr
    bad = venv.schemabus("check", "--previous", "v1.avsc", "v3.avsc", cwd=cwd)
    assert bad.returncode == 1 and "(READER_FIELD_MISSING_DEFAULT_VALUE)" in bad.stdout, explain(bad)
    ok(venv.schemabus("check", "--previous", "v1.schema.json", "v2.schema.json", cwd=cwd))


def test_check_against_git_history(release: Release) -> None:
    venv = release.wheel_venv
    repo = write_files(release.scratch("check-git"), readme_files())
    git = venv.env(
        GIT_AUTHOR_NAME="dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
    )
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "Quickstart")):
        ok(venv.run("git", *args, cwd=repo, **git))
    schema = repo / "schemas" / "shop" / "order" / "placed.avsc"
    v1 = json.loads(schema.read_text())
    field = {"name": "channel", "type": "string", "doc": "Where it was placed."}
    schema.write_text(json.dumps({**v1, "fields": [*v1["fields"], {**field, "default": "web"}]}))
    good = ok(venv.schemabus("check", cwd=repo, **git))
    assert "no incompatibilities (1 subjects against " in good.stderr
    assert "the merge-base of HEAD and main; 1 committed versions compared)" in good.stderr
    schema.write_text(json.dumps({**v1, "fields": [*v1["fields"], field]}))
    bad = venv.schemabus("check", cwd=repo, **git)
    assert bad.returncode == 1, explain(bad)
    assert "schemas/shop/order/placed.avsc#/fields/4: " in bad.stdout
    assert "(READER_FIELD_MISSING_DEFAULT_VALUE)" in bad.stdout


def test_lint_list_rules(release: Release) -> None:
    venv = release.wheel_venv
    done = ok(venv.schemabus("lint", "--list-rules", cwd=release.scratch("lint")))
    rules = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"FIELD_DOC", "NAMESPACE_CONSISTENT", "TOPIC_NAME", "ALL_FIELDS_DEFAULT"} <= rules


def test_asyncapi_of_the_quickstart(release: Release) -> None:
    """The AsyncAPI document of the Quickstart's project, written as YAML and as JSON, and checked."""
    venv = release.wheel_venv
    project = write_files(release.scratch("asyncapi"), readme_files())
    done = ok(venv.schemabus("asyncapi", cwd=project))
    assert done.stderr == "wrote asyncapi.yaml\n", explain(done)
    text = (project / "asyncapi.yaml").read_text()
    assert text.startswith('asyncapi: "3.0.0"\n') and "  shop.order.placed:\n" in text
    assert ok(venv.schemabus("asyncapi", "--check", cwd=project)).returncode == 0
    ok(venv.schemabus("asyncapi", "-o", "asyncapi.json", cwd=project))
    doc = json.loads((project / "asyncapi.json").read_text())
    assert list(doc["channels"]) == ["shop.order.placed"] and doc["operations"]["shop.order.placed.send"]
    (project / "asyncapi.yaml").write_text(text.replace("partitions: 3", "partitions: 4"))
    stale = venv.schemabus("asyncapi", "--check", cwd=project)
    assert stale.returncode == 1 and stale.stderr == "asyncapi.yaml is out of date: run `schemabus asyncapi`\n"


def test_dev_status_without_a_stack(release: Release) -> None:
    venv = release.wheel_venv
    done = venv.schemabus("dev", "status", cwd=release.scratch("dev"))
    assert (done.returncode, done.stdout) == (1, "not running (no `schemabus dev up` stack)\n"), explain(done)


# --- the sdist where no C compiler works ------------------------------------------------------------


def test_sdist_installs_without_a_compiler_and_warns_once_at_run_time(release: Release) -> None:
    venv, pip_log = release.sdist_without_compiler()
    # setuptools tried to build the optional extension and went on without it.
    assert "building 'schemabus.runtime._speedups' extension" in pip_log
    assert 'warning: build_ext: building extension "schemabus.runtime._speedups" failed' in pip_log
    assert not list(venv.site_packages().glob("schemabus/runtime/_speedups*.so"))
    ok(venv.run(venv.python, "-m", "pip", "check", cwd=release.root))
    out = run_quickstart(release, venv, "quickstart-sdist", release.sdist)
    assert "billing order " in out and "stored at shop.order.placed[" in out
    warnings = [line for line in out.splitlines() if "Warning" in line]
    assert len(warnings) == 1, out
    assert (
        "SpeedupsWarning: schemabus: the compiled Avro codec (schemabus.runtime._speedups) is not built "
        "(No module named 'schemabus.runtime._speedups'); using the Python codecs" in warnings[0]
    )
