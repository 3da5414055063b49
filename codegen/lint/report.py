"""Print lint findings as text (default), JSON, or GitHub Actions annotations.

The same three formats as ``schemabus check`` (:mod:`schemabus.codegen.compat.report`); lint
findings carry a severity instead of a compatibility level and a reader/writer pair.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .base import LintFinding


def _as_dict(f: LintFinding) -> dict[str, str]:
    return {
        "rule": f.rule.id,
        "severity": f.rule.severity,
        "file": f.source.file,
        "pointer": f.source.pointer,
        "message": f.message,
    }


def _escape_github(text: str, property_value: bool = False) -> str:
    # Workflow commands: % and line breaks are escaped everywhere, ":" and "," in properties too.
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        out = out.replace(":", "%3A").replace(",", "%2C")
    return out


def render(findings: Sequence[LintFinding], fmt: str) -> str:
    """The report in ``fmt`` ("text", "json" or "github"); '' for no findings in text/github."""
    if fmt == "json":
        return json.dumps({"findings": [_as_dict(f) for f in findings]}, indent=2) + "\n"
    lines = []
    for f in findings:
        if fmt == "github":
            where = f" [#{f.source.pointer}]" if f.source.pointer else ""
            lines.append(
                f"::{f.rule.severity} file={_escape_github(f.source.file, property_value=True)},"
                f"title={_escape_github(f.rule.id, property_value=True)}::{_escape_github(f.message + where)}"
            )
        else:
            lines.append(str(f))
    return "".join(line + "\n" for line in lines)
