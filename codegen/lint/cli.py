"""The ``schemabus lint`` command (registered on the ``schemabus`` group by ``codegen/cli.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..diagnostics import render
from ..options import project_option, report_format_option

EXIT_FINDINGS = 1


@click.command()
@report_format_option
@project_option
@click.option("--list-rules", is_flag=True, help="List every rule (ID, default, severity, purpose) and exit.")
def lint(fmt: str, project: Path | None, list_rules: bool) -> None:
    """Lint the schemas and the topic catalog: names, docs, defaults, namespaces, aliases.

    Runs the rules enabled by default, adjusted by [tool.schemabus.lint] (select, enable, disable,
    per-file-ignores). Exit 0 when clean, 1 with findings, 2 on usage, schema or configuration errors.
    """
    # Imported here: codegen/cli.py imports this module to register the command.
    from ..cli import project_config, user_errors
    from . import RULES
    from .engine import lint_project

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
