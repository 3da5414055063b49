"""The ``schemabus`` command line.

User mistakes (a broken schema, an unknown config key) print ``file#/pointer: message`` lines and
exit 2 without a traceback; so does a Kafka broker or schema registry that cannot be reached within
``--timeout`` (one line: the server, its address, what failed), for every command.
``generate --check`` and ``asyncapi --check`` exit 1 with a diff when their output is stale.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from schemabus.runtime.errors import ConfigError, ServerUnavailableError

from .config import Config, find_pyproject, load_config
from .diagnostics import SchemaError, SchemaErrors, one_line, render
from .options import project_option, registry_url_option, report_format_option, timeout_option

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OUT_OF_DATE = 1
EXIT_FINDINGS = 1  # lint
EXIT_USER_ERROR = 2


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn schema/config errors into ``path#/pointer: message`` lines and exit code 2, and so an
    unreachable server or a wrong client setting (``error: <one line>``)."""
    try:
        yield
    except (ServerUnavailableError, ConfigError) as e:
        click.echo(f"error: {one_line(str(e))}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except SchemaErrors as e:
        for err in e.errors:
            click.echo(f"error: {one_line(str(err))}", err=True)
        click.echo(f"{len(e.errors)} error{'s' if len(e.errors) != 1 else ''} found", err=True)
        sys.exit(EXIT_USER_ERROR)
    except SchemaError as e:
        click.echo(f"error: {one_line(str(e))}", err=True)
        sys.exit(EXIT_USER_ERROR)


def project_config(project: Path | None, **overrides: Any) -> Config:
    """The configuration of ``--project`` (a pyproject.toml or its directory), else the nearest one."""
    pyproject = (project / "pyproject.toml" if project.is_dir() else project) if project else find_pyproject(Path.cwd())
    if pyproject is not None and not pyproject.is_file():
        raise click.BadParameter(f"{pyproject} does not exist", param_hint="--project")
    return load_config(pyproject, overrides)


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


# Commands defined beside what they run (the runtime's dev stack and dead letters, the importer),
# loaded when they run: their modules import the dev stack and confluent-kafka (or the user's models),
# which neither `schemabus --help` nor the other commands need. name -> (module, attribute, the first
# paragraph of the command's help: `schemabus --help` lists it without importing the module; a test
# keeps it true). The codegen commands are all below, each importing what it runs when it runs.
_LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "dev": (
        "schemabus.runtime.devstack.cli",
        "dev",
        "Run a local Kafka broker and schema registry (no Docker needed).",
    ),
    "dlq": (
        "schemabus.runtime.dlq_cli",
        "dlq",
        "Dead-letter topics (dlq.{topic}): inspect and replay records that could not be handled.",
    ),
    "import": (
        "schemabus.codegen.importer.cli",
        "import_group",
        "Import schemas from code: Pydantic v2 models to Avro or JSON Schema files.",
    ),
    "lag": (
        "schemabus.runtime.lag_cli",
        "lag",
        "Consumer lag: per group and partition, the committed offset, the end offset, the lag in records "
        "and the time lag (the age of the oldest record not consumed yet).",
    ),
    "topics": (
        "schemabus.runtime.topics_cli",
        "topics",
        "Topics: plan and apply the catalog's topics on a Kafka cluster.",
    ),
}


class _Main(click.Group):
    """Every command's unreachable servers and client misconfigurations end as one ``error:`` line.

    The commands of ``_LAZY_COMMANDS`` are imported when one of them is looked up by name; the list of
    commands in the help shows stand-ins with the same help text instead.
    """

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _LAZY_COMMANDS:
            module, attribute, help_text = _LAZY_COMMANDS[cmd_name]
            if self._listing:
                return click.Command(cmd_name, help=help_text)
            from importlib import import_module

            self.add_command(getattr(import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: click.Context) -> Any:
        with user_errors():
            return super().invoke(ctx)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="schemabus")
@click.option(
    "--verbose",
    "-v",
    count=True,
    help="Log more to stderr: -v adds librdkafka's log lines (each condition once), -vv debug records.",
)
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """schemabus: schema-first toolchain for Kafka event buses.

    Avro and JSON Schema files plus a topic catalog in, typed Pydantic models, codecs,
    publishers and handlers out.
    """
    from schemabus.runtime.log_setup import log_to_stderr

    ctx.call_on_close(log_to_stderr(verbose))


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a unified diff if the output is out of date.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="With FILES: the package directory to write (its name is the import name).",
)
@project_option
@click.option("--force", is_flag=True, help="Regenerate even when the manifest says nothing changed.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors and diffs.")
def generate(
    files: tuple[Path, ...], check: bool, output: Path | None, project: Path | None, force: bool, quiet: bool
) -> None:
    """Generate models, codecs, publishers and handlers.

    Without FILES, reads [tool.schemabus] in pyproject.toml and generates the package for every
    schema and topic of the catalog. With FILES (.avsc / .json), generates models and codecs for
    just those files into the package directory given by --output.
    """
    from .output import diff_tree, record_manifest, up_to_date, write_tree
    from .pipeline import fingerprint, generate_from_files
    from .pipeline import generate as generate_project

    started = time.perf_counter()

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - started:5.2f}s] {message}", err=True)

    with user_errors():
        if files:
            if output is None:
                raise click.UsageError("--output DIR is required when schema files are given")
            if not output.name.isidentifier():
                raise click.UsageError(f"--output: {output.name!r} is not a valid Python package name")
            result = generate_from_files(list(files), output.name)
            target = output
        else:
            if output is not None:
                raise click.UsageError("--output needs schema FILES; without them [tool.schemabus] decides")
            config = project_config(project)
            target = config.package_dir
            inputs = fingerprint(config)
            if not force and up_to_date(target, inputs):
                progress(f"{_relative(target)} is up to date (inputs unchanged since the last run)")
                return
            result = generate_project(config, progress)
        display = _relative(target)
        if check:
            diff = diff_tree(target, result, display)
            if diff:
                click.echo(diff, nl=False)
                click.echo(f"{display} is out of date: run `schemabus generate`", err=True)
                sys.exit(EXIT_OUT_OF_DATE)
            progress(f"{display} is up to date ({len(result)} files)")
            return
        changes = write_tree(target, result)
        if not files:
            record_manifest(target, result, inputs)
        for rel in changes.written:
            progress(f"wrote {display}/{rel}")
        for rel in changes.removed:
            progress(f"removed {display}/{rel}")
        progress(
            f"{display}: {len(changes.written)} written, {len(changes.removed)} removed, {changes.unchanged} unchanged"
        )


@main.command()
@click.argument("new", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--level",
    type=click.Choice(
        ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"],
        case_sensitive=False,
    ),
    default=None,
    help="Compatibility level, as Confluent Schema Registry defines it "
    "(default: each topic's level from the catalog; BACKWARD for files).",
)
@click.option(
    "--previous",
    "previous",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An earlier version of NEW (repeat, oldest first).",
)
@report_format_option
@click.option("--against", metavar="REF", help="Compare with this git ref instead of the merge-base with main.")
@click.option(
    "--against-registry",
    is_flag=True,
    help="Compare with the versions the registry holds (--registry-url or $SCHEMABUS_REGISTRY_URL).",
)
@registry_url_option
@project_option
@timeout_option
def check(
    new: Path | None,
    level: str | None,
    previous: tuple[Path, ...],
    fmt: str,
    against: str | None,
    against_registry: bool,
    registry_url: str | None,
    project: Path | None,
    timeout: float,
) -> None:
    """Check schema compatibility: does a schema change break consumers or producers?

    Without arguments, every subject of the catalog ({topic}-key, {topic}-value) in the working
    tree is checked against its committed versions, at its topic's compatibility level: by default
    against the merge-base with the main branch, or --against REF. Transitive levels replay every
    committed version; a renamed schema file keeps its history through the catalog.

    With --against-registry, the versions of each subject come from the schema registry.

    With NEW and --previous files, compares the files directly (the format follows the
    extension), like Confluent's test-local-compatibility. NEW without --previous is a first
    version: compatible once it loads.

    Exit 0 when compatible, 1 when incompatible, 2 on usage or schema errors or an unreachable
    registry (retried for --timeout seconds).
    """
    from .compat.local import check_files
    from .compat.subjects import check_project

    level = level.upper() if level else None
    if new is not None or previous:
        if new is None:
            raise click.UsageError("compare files with NEW and its --previous versions")
        if against or project or against_registry:
            raise click.UsageError("--against, --against-registry and --project do not apply to files")
    if against and against_registry:
        raise click.UsageError("--against compares with git, --against-registry with the registry: choose one")
    with user_errors():
        if new is not None:
            findings = check_files(level or "BACKWARD", list(previous), new)
            summary = f"({level or 'BACKWARD'}{'' if previous else '; a first version, nothing to compare'})"
        elif against_registry:
            from .pipeline import load_project, read_schemas
            from .registry_sync import check_against_registry, client

            config = project_config(project)
            texts = read_schemas(config)
            prefix = config.schemas.rstrip("/") + "/"
            findings = check_against_registry(
                load_project(config, texts), texts[0], client(registry_url, timeout=timeout), prefix, level
            )
            summary = "(against the registry)"
        else:
            report = check_project(project_config(project), against, level)
            findings = report.findings
            base = f" against {report.base[:10]}, the {report.how}" if report.base else f", {report.how}"
            summary = f"({report.subjects} subjects{base}; {report.versions_read} committed versions compared)"
            for note in report.notes:
                click.echo(f"note: {note}", err=True)
    click.echo(render(findings, fmt), nl=False)
    if fmt == "text":
        noun = "incompatibility" if len(findings) == 1 else "incompatibilities"
        click.echo(f"{len(findings) or 'no'} {noun} {summary}", err=True)
    if findings:
        sys.exit(EXIT_OUT_OF_DATE)


@main.command()
@click.option("--dry-run", is_flag=True, help="Say what would be registered; change nothing.")
@registry_url_option
@project_option
@timeout_option
def register(dry_run: bool, registry_url: str | None, project: Path | None, timeout: float) -> None:
    """Register every schema of the catalog and set each subject's compatibility level.

    Subjects are {topic}-key and {topic}-value; Avro named types from other files are registered
    first, under their full name, and referenced. Exit 1 when the registry refuses a schema as
    incompatible (with --dry-run: would refuse), 2 on errors (an unreachable registry: after
    retrying for --timeout seconds).
    """
    from .pipeline import load_project
    from .registry_sync import client
    from .registry_sync import register as register_all

    with user_errors():
        registry = client(registry_url, timeout=timeout)
        result = register_all(load_project(project_config(project)), registry, dry_run=dry_run)
    for line in result.lines:
        click.echo(line)
    if result.refused:
        click.echo(f"{len(result.refused)} subject(s) refused: {', '.join(result.refused)}", err=True)
        sys.exit(EXIT_OUT_OF_DATE)


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: asyncapi.yaml beside pyproject.toml); a .json name writes JSON.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a unified diff if the file is out of date.")
@project_option
def asyncapi(output: Path | None, check: bool, project: Path | None) -> None:
    """Write an AsyncAPI 3.0 document of the catalog.

    One channel per topic with its Kafka bindings (partitions, replicas, retention.ms, cleanup.policy),
    its message with the registered schema (Avro or JSON Schema) and key; a send operation per topic, a
    receive operation per consumer group of [tool.schemabus.asyncapi.consumers], and the servers of
    [tool.schemabus.asyncapi.servers]. Exit 2 on schema or configuration errors.
    """
    import difflib

    from .asyncapi import document, render
    from .pipeline import load_project

    with user_errors():
        config = project_config(project)
        target = output if output is not None else config.root / "asyncapi.yaml"
        text = render(document(load_project(config), config), as_json=target.suffix == ".json")
    display = _relative(target)
    old = target.read_text(encoding="utf-8") if target.is_file() else None
    if check:
        if old != text:
            diff = difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=display if old is not None else "/dev/null",
                tofile=display,
            )
            click.echo("".join(line if line.endswith("\n") else line + "\n" for line in diff), nl=False)
            again = "schemabus asyncapi" + (f" -o {display}" if output is not None else "")
            click.echo(f"{display} is out of date: run `{again}`", err=True)
            sys.exit(EXIT_OUT_OF_DATE)
        click.echo(f"{display} is up to date", err=True)
        return
    if old == text:
        click.echo(f"{display} is up to date", err=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {display}", err=True)


@main.command()
@report_format_option
@project_option
@click.option("--list-rules", is_flag=True, help="List every rule (ID, default, severity, purpose) and exit.")
def lint(fmt: str, project: Path | None, list_rules: bool) -> None:
    """Lint the schemas and the topic catalog: names, docs, defaults, namespaces, aliases.

    Runs the rules enabled by default, adjusted by [tool.schemabus.lint] (select, enable, disable,
    per-file-ignores). Exit 0 when clean, 1 with findings, 2 on usage, schema or configuration errors.
    """
    from .lint import RULES
    from .lint.engine import lint_project

    if list_rules:
        for r in sorted(RULES.values(), key=lambda r: r.id):
            state = "on " if r.default else "off"
            click.echo(f"{r.id:<27} {state} {r.severity:<7} {r.purpose}")
        return
    with user_errors():
        report = lint_project(project_config(project))
    findings = report.findings
    click.echo(render(findings, fmt), nl=False)
    if fmt == "text":
        click.echo(
            f"{_count(len(findings), 'finding', 'no')} ({_count(len(report.rules), 'rule')} on "
            f"{_count(report.files, 'schema file')} and {_count(report.topics, 'topic')})",
            err=True,
        )
    if findings:
        sys.exit(EXIT_FINDINGS)


def _count(n: int, noun: str, zero: str = "0") -> str:
    return f"{n or zero} {noun}{'' if n == 1 else 's'}"
