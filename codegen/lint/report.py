"""Print lint findings as text (default), JSON, or GitHub Actions annotations.

The same three formats as ``schemabus check`` (:mod:`schemabus.codegen.compat.report`); lint
findings carry a severity instead of a compatibility level and a reader/writer pair.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..diagnostics import github_escape
from .base import LintFinding


def _as_dict(f: LintFinding) -> dict[str, str]:
    return {
        "rule": f.rule.id,
        "severity": f.rule.severity,
        "file": f.source.file,
        "pointer": f.source.pointer,
        "message": f.message,
    }


def render(findings: Sequence[LintFinding], fmt: str) -> str:
    """The report in ``fmt`` ("text", "json" or "github"); '' for no findings in text/github."""
    if fmt == "json":
        return json.dumps({"findings": [_as_dict(f) for f in findings]}, indent=2) + "\n"
    lines = []
    for f in findings:
        if fmt == "github":
            where = f" [#{f.source.pointer}]" if f.source.pointer else ""
            lines.append(
                f"::{f.rule.severity} file={github_escape(f.source.file, property_value=True)},"
                f"title={github_escape(f.rule.id, property_value=True)}::{github_escape(f.message + where)}"
            )
        else:
            lines.append(str(f))
    return "".join(line + "\n" for line in lines)
