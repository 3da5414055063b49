"""Run the selected lint rules over a project and apply ``per-file-ignores``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from ..config import Config, LintConfig
from ..diagnostics import Source
from ..pipeline import load_project, read_schemas
from . import RULES, LintContext, LintFinding, Rule


@dataclass(frozen=True)
class LintReport:
    findings: tuple[LintFinding, ...]
    rules: tuple[Rule, ...]  # the rules that ran
    files: int  # schema files read
    topics: int


def selected_rules(settings: LintConfig) -> tuple[Rule, ...]:
    """``select`` (or the default rules), plus ``enable``, minus ``disable``; sorted by ID."""
    chosen = set(settings.select) if settings.select is not None else {r.id for r in RULES.values() if r.default}
    chosen |= set(settings.enable)
    chosen -= set(settings.disable)
    return tuple(RULES[i] for i in sorted(chosen))


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob over paths relative to the project root: ``*`` and ``?`` stay within one directory,
    ``**`` crosses directories (``schemas/**/*.avsc``), ``[abc]`` is a character class."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = (body[1:] if negate else body).replace("\\", "\\\\").replace("[", "\\[")  # a-z stays a range
            out.append("[" + ("^" if negate else "\\" if body.startswith("^") else "") + body + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def ignored(file: str, rule_id: str, settings: LintConfig) -> bool:
    return any(rule_id in ids and glob_regex(pattern).fullmatch(file) for pattern, ids in settings.per_file_ignores)


def lint_project(config: Config) -> LintReport:
    """Load every schema and the catalog (schema errors raise, as in ``generate``) and lint them.

    Findings are located relative to the project root (``schemas/a/b.avsc#/fields/2``), sorted by
    file, then pointer, then rule ID.
    """
    avro, json_files = read_schemas(config)
    project = load_project(config, (avro, json_files))
    raw = {file: json.loads(text) for file, text in (*avro, *json_files)}  # valid JSON: load_project read it
    ctx = LintContext(project, raw, config.lint.namespace_prefix)
    prefix = config.schemas.rstrip("/") + "/"
    rules = selected_rules(config.lint)
    found: dict[tuple[str, str, str, str], LintFinding] = {}
    for r in rules:
        for hit in r.check(ctx):
            source = Source(prefix + hit.source.file, hit.source.pointer)
            if not ignored(source.file, r.id, config.lint):
                found.setdefault((source.file, source.pointer, r.id, hit.message), LintFinding(r, source, hit.message))
    findings = sorted(found.values(), key=lambda f: (f.source.file, _pointer_key(f.source.pointer), f.rule.id))
    return LintReport(tuple(findings), rules, len(avro) + len(json_files), len(project.topics))


def _pointer_key(pointer: str) -> tuple[tuple[int, int, str], ...]:
    # /fields/2 before /fields/10
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pointer.split("/")[1:])
