"""Print findings as text (default), JSON, or GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..diagnostics import github_escape
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


def render(findings: Sequence[Finding], fmt: str) -> str:
    """The report in ``fmt`` ("text", "json" or "github"); '' for no findings in text/github."""
    if fmt == "json":
        return json.dumps({"findings": [_as_dict(f) for f in findings]}, indent=2) + "\n"
    lines = []
    for f in findings:
        i = f.incompatibility
        context = f"{f.level}: reader {f.reader_version}, writer {f.writer_version}"
        if fmt == "github":
            title = github_escape(f"{i.rule.id} ({f.level})", property_value=True)
            where = f"#{i.source.pointer}" if i.source.pointer else ""
            message = github_escape(f"{i.message} [{where or 'schema'}; {context}]")
            lines.append(f"::error file={github_escape(i.source.file, property_value=True)},title={title}::{message}")
        else:
            lines.append(f"{f}\n    {context}")
    return "".join(line + "\n" for line in lines)
