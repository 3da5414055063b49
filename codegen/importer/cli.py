"""``schemabus import pydantic``: the command that writes what :func:`plan` computes."""

from __future__ import annotations

from pathlib import Path

import click

from ..diagnostics import SchemaError, Source
from .plan import add_entries, plan
from .resolve import resolve_model


@click.group("import")
def import_group() -> None:
    """Import schemas from code: Pydantic v2 models to Avro or JSON Schema files.

    See README, "Importing Pydantic models".
    """


@import_group.command("pydantic")
@click.argument("models", nargs=-1, required=True, metavar="MODULE:CLASS...")
@click.option(
    "--format", "fmt", type=click.Choice(["avro", "json"]), default="avro", show_default=True, help="Schema format."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The directory to write into (for catalog topics: the schemas directory).",
)
@click.option("--namespace", help="Avro namespace (with --topic: its prefix); default: the model's module.")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="NAME",
    help="The topic of each model, in order (repeat): the file goes to {domain}/{entity}/{action} and a "
    "catalog entry is printed, or added to --catalog.",
)
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Add the --topic entries to this catalog.toml (value paths relative to its directory).",
)
def pydantic_command(
    models: tuple[str, ...],
    fmt: str,
    out: Path,
    namespace: str | None,
    topics: tuple[str, ...],
    catalog: Path | None,
) -> None:
    """Write Avro (.avsc) or JSON Schema files from Pydantic v2 models.

    Each MODULE:CLASS (my_pkg.events:AgentCreated) becomes one file; a model it uses is defined in
    the first file that needs it and named by its full name afterwards. A type Avro cannot hold is an
    error naming the model and the field. Exit 2 on errors.
    """
    if catalog is not None and not topics:
        raise click.UsageError("--catalog needs --topic: it adds the topics' entries")
    resolved = [resolve_model(spec) for spec in models]
    prefix = ""
    if catalog is not None:
        try:
            prefix = out.resolve().relative_to(catalog.parent.resolve()).as_posix()
        except ValueError:
            raise SchemaError(Source(str(catalog)), f"--out {out} is not inside the catalog's directory") from None
        prefix = "" if prefix == "." else prefix + "/"
    result = plan(resolved, topics, "json" if fmt == "json" else "avro", namespace, prefix)
    new_catalog = None
    if catalog is not None:  # checked before anything is written
        text = catalog.read_text(encoding="utf-8")
        new_catalog = add_entries(text, result.entries, topics, Source(str(catalog)))
    for warning in result.warnings:
        click.echo(f"note: {warning}", err=True)
    for rel, text in result.files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}", err=True)
    if catalog is None or new_catalog is None:
        click.echo("".join(("\n" if i else "") + entry for i, entry in enumerate(result.entries)), nl=False)
        return
    catalog.write_text(new_catalog, encoding="utf-8")
    click.echo(f"added {len(result.entries)} topic(s) to {catalog}", err=True)
