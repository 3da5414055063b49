"""Documentation rules for both formats: Avro ``doc`` and JSON Schema ``description``."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Source
from ..ir import Enum, Record
from .base import Hit, LintContext, rule
from .json_rules import described, subschemas


@rule(
    "RECORD_DOC",
    "Every Avro record, enum and fixed has a doc; every JSON Schema file and $defs entry has a description.",
)
def record_doc(ctx: LintContext) -> Iterator[Hit]:
    for n in ctx.project.named.values():
        if not (n.doc and n.doc.strip()):
            kind = "record" if isinstance(n, Record) else "enum" if isinstance(n, Enum) else "fixed"
            yield Hit(n.source, f'{kind} "{n.name}" has no doc')
    for file, schema in ctx.project.json.items():
        doc = schema.document
        if not isinstance(doc, dict):
            continue  # a boolean schema (true or false) has nothing to describe
        if not described(doc):
            yield Hit(Source(file), "schema has no description")
        for key in ("$defs", "definitions"):
            defs = doc.get(key)
            if isinstance(defs, dict):
                for name, sub in defs.items():
                    if isinstance(sub, dict) and not described(sub):
                        yield Hit(Source(file).at(key, name), f'definition "{name}" has no description')


@rule("FIELD_DOC", "Every Avro field has a doc; every JSON Schema property has a description.")
def field_doc(ctx: LintContext) -> Iterator[Hit]:
    for record in ctx.records():
        for f in record.fields:
            if not (f.doc and f.doc.strip()):
                yield Hit(f.source, f'field "{f.name}" has no doc')
    for file, schema in ctx.project.json.items():
        for node, src in subschemas(schema.document, Source(file)):
            properties = node.get("properties")
            if not isinstance(properties, dict):
                continue
            for name, prop in properties.items():
                if isinstance(prop, dict) and not described(prop):
                    yield Hit(src.at("properties", name), f'property "{name}" has no description')
