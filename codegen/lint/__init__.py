"""``schemabus lint``: conventions and pitfalls in schemas and the topic catalog, as rules with IDs.

Each rule lives in one function (``avro_rules``, ``json_rules``, ``doc_rules``, ``topic_rules``)
and is registered in :data:`RULES` with its purpose, severity and whether it runs by default;
``[tool.schemabus.lint]`` selects, enables, disables and ignores rules per file (see README, "Lint").
:func:`schemabus.codegen.lint.engine.lint_project` runs them.
"""

from __future__ import annotations

from . import avro_rules, doc_rules, json_rules, topic_rules  # noqa: F401  (the rules register on import)
from .base import RULES, Hit, LintContext, LintFinding, Rule

__all__ = ["RULES", "Hit", "LintContext", "LintFinding", "Rule"]
