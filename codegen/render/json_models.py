"""JSON Schema -> Pydantic models through datamodel-code-generator, run once for every file.

datamodel-code-generator already handles ``$ref``, oneOf/anyOf/allOf, formats, patternProperties
and safe field names well; schemabus wraps it: it runs it once per generation (not per file),
without its formatters (schemabus formats every file once at the end), and adds its own header.
"""

from __future__ import annotations

import ast
import contextlib
import io
import posixpath
import tempfile
import warnings
from pathlib import Path

from ..diagnostics import SchemaError, Source
from ..ir import JsonSchemaFile

DCG_OPTIONS = [
    "--input-file-type",
    "jsonschema",
    "--output-model-type",
    "pydantic_v2.BaseModel",
    "--target-python-version",
    "3.11",
    "--disable-timestamp",
    "--no-formatters",
    "--use-annotated",
    "--field-constraints",
    "--use-schema-description",
    "--use-field-description",
    "--use-standard-collections",
    "--use-union-operator",
    "--allow-population-by-field-name",
    "--capitalise-enum-members",
    "--use-double-quotes",
    "--use-title-as-name",
]


def module_path(file: str) -> str:
    """The module datamodel-code-generator writes for a schema file: ``a/b/x.schema.json`` -> ``a/b/x_schema.py``."""
    directory, name = posixpath.split(file)
    stem = name[: -len(".json")] if name.endswith(".json") else name
    return posixpath.join(directory, stem.replace(".", "_").replace("-", "_") + ".py")


def generate_json_models(files: dict[str, JsonSchemaFile]) -> dict[str, str]:
    """Run datamodel-code-generator on every file at once; return ``{module path: source}``."""
    if not files:
        return {}
    from datamodel_code_generator.__main__ import main as dcg_main

    with tempfile.TemporaryDirectory(prefix="schemabus-dcg-") as tmp:
        src_dir = Path(tmp) / "in"
        out_dir = Path(tmp) / "out"
        for file, schema in files.items():
            path = src_dir / file
            path.parent.mkdir(parents=True, exist_ok=True)
            import json

            path.write_text(json.dumps(schema.document, indent=2), encoding="utf-8")
        log = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
            warnings.simplefilter("ignore")
            code = dcg_main(["--input", str(src_dir), "--output", str(out_dir), *DCG_OPTIONS])
        if code != 0:
            first = sorted(files)[0]
            raise SchemaError(Source(first), "datamodel-code-generator failed:\n" + log.getvalue().strip())
        out: dict[str, str] = {}
        for path in sorted(out_dir.rglob("*.py")):
            rel = path.relative_to(out_dir).as_posix()
            out[rel] = _strip_dcg_header(path.read_text(encoding="utf-8"))
        if len(files) == 1:
            # A single file is written as a module of its own name; keep the same layout as for many.
            only = next(iter(files))
            if module_path(only) not in out and out:
                (text,) = out.values()
                out = {module_path(only): text}
        return out


def _strip_dcg_header(text: str) -> str:
    lines = text.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def root_class(module_source: str, schema: JsonSchemaFile) -> str:
    """The class datamodel-code-generator made for the schema's root (named after its ``title``)."""
    classes = [n.name for n in ast.parse(module_source).body if isinstance(n, ast.ClassDef)]
    wanted = _dcg_class_name(schema.title)
    if wanted in classes:
        return wanted
    raise SchemaError(
        Source(schema.file, "/title"),
        f"cannot find the model of this schema's root (expected class {wanted!r}); give the schema a title",
    )


def _dcg_class_name(title: str) -> str:
    import re

    parts = re.split(r"[^0-9A-Za-z]+", title)
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name or "Model"
