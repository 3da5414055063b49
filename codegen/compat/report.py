"""Print findings as text (default), JSON, or GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .findings import Finding


def _as_dict(f: Finding) -> dict[str, str]:
    i = f.incompatibility
    return {
        "rule": i.rule.id,
        "format": i.rule.format,
        "file": i.source.file,
        "pointer": i.source.pointer,
        "message": i.message,
        "level": f.level,
        "reader": f.reader_version,
        "writer": f.writer_version,
    }


def _escape_github(text: str, property_value: bool = False) -> str:
    # Workflow commands: % and line breaks are escaped everywhere, ":" and "," in properties too.
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        out = out.replace(":", "%3A").replace(",", "%2C")
    return out


def render(findings: Sequence[Finding], fmt: str) -> str:
    """The report in ``fmt`` ("text", "json" or "github"); '' for no findings in text/github."""
    if fmt == "json":
        return json.dumps({"findings": [_as_dict(f) for f in findings]}, indent=2) + "\n"
    lines = []
    for f in findings:
        i = f.incompatibility
        context = f"{f.level}: reader {f.reader_version}, writer {f.writer_version}"
        if fmt == "github":
            title = _escape_github(f"{i.rule.id} ({f.level})", property_value=True)
            where = f"#{i.source.pointer}" if i.source.pointer else ""
            message = _escape_github(f"{i.message} [{where or 'schema'}; {context}]")
            lines.append(f"::error file={_escape_github(i.source.file, property_value=True)},title={title}::{message}")
        else:
            lines.append(f"{f}\n    {context}")
    return "".join(line + "\n" for line in lines)
