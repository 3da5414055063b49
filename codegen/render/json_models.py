"""JSON Schema -> Pydantic models through datamodel-code-generator, run once for every file.

datamodel-code-generator already handles ``$ref``, oneOf/anyOf/allOf, formats, patternProperties
and safe field names well; schemabus wraps it: it runs it once per generation (not per file), in a
child process beside the rest of the pipeline, without its formatters (schemabus formats every
file once at the end), and adds its own header.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
import subprocess
import sys
import tempfile
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


class JsonModelsJob:
    """datamodel-code-generator running over every JSON Schema file in a child process.

    Started as soon as the files are read, it runs on the second core while this process validates
    every schema and renders the Avro side; :meth:`result` collects its modules.
    """

    def __init__(self, texts: dict[str, str]) -> None:
        """``texts``: schema path (relative to the schemas directory) -> file content."""
        self._files = sorted(texts)
        self._tmp = tempfile.TemporaryDirectory(prefix="schemabus-dcg-")
        root = Path(self._tmp.name)
        self._out = root / "out"
        for file, text in texts.items():
            path = root / "in" / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "datamodel_code_generator",
            "--input",
            str(root / "in"),
            "--output",
            str(self._out),
        ]
        self._proc = subprocess.Popen(
            [*cmd, *DCG_OPTIONS],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )

    def result(self) -> dict[str, str]:
        """``{module path: source}`` of every generated module (headers removed)."""
        try:
            log, _ = self._proc.communicate()
            if self._proc.returncode != 0:
                message = log.decode(errors="replace").strip()
                raise SchemaError(Source(self._files[0]), "datamodel-code-generator failed:\n" + message)
            out: dict[str, str] = {}
            for path in sorted(self._out.rglob("*.py")):
                out[path.relative_to(self._out).as_posix()] = _strip_dcg_header(path.read_text(encoding="utf-8"))
            if len(self._files) == 1 and out and module_path(self._files[0]) not in out:
                # A single file is written as a module of its own name; keep the layout of many files.
                (text,) = out.values()
                out = {module_path(self._files[0]): text}
            return out
        finally:
            self.cancel()

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._tmp.cleanup()

    def __enter__(self) -> JsonModelsJob:
        return self

    def __exit__(self, *_: object) -> None:
        self.cancel()


def generate_json_models(texts: dict[str, str]) -> dict[str, str]:
    """Run datamodel-code-generator on every file at once; return ``{module path: source}``."""
    if not texts:
        return {}
    with JsonModelsJob(texts) as job:
        return job.result()


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
    parts = re.split(r"[^0-9A-Za-z]+", title)
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name or "Model"
