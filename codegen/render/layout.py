"""Where each part of the generated package lives: a subpackage per domain of the catalog.

Topics are named ``{domain}.{entity}.{action}``; each domain gets a subpackage with its topics, the
Avro types only its topics use, and their codecs. The package's top-level modules hold the Avro types
that several domains share, and those no topic uses (all of them without a catalog). A domain's
modules import from the top level, never from another domain, so a service importing one domain
loads that domain and the shared types alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import naming
from ..ir import AvroType, Project, Record, SchemaUse, Topic, named_refs

TOP = ""  # the package's top level
# The top-level modules: a domain's subpackage takes another name (with a trailing "_").
TOP_MODULES = frozenset({"avro_models", "avro_codecs", "json_models", "topics"})


@dataclass(frozen=True)
class Layout:
    domains: dict[str, str]  # live topic name -> the subpackage of its domain
    homes: dict[str, str]  # Avro full name -> the subpackage that defines it (TOP for the top level)

    def packages(self) -> list[str]:
        """The top level, then each domain's subpackage."""
        return [TOP, *sorted(set(self.domains.values()))]

    def home(self, fullname: str) -> str:
        return self.homes.get(fullname, TOP)


def domain_of(topic: str) -> str:
    """The domain of a topic: its name up to the first dot."""
    return topic.split(".", 1)[0]


def plan(project: Project, topics: list[Topic]) -> Layout:
    """The layout of a package with ``topics`` (none: everything at the top level)."""
    used: set[str] = set(TOP_MODULES)
    package_of: dict[str, str] = {}
    for domain in sorted({domain_of(t.name) for t in topics}):
        package_of[domain] = naming.unique(naming.snake(domain) or "domain", used)
    domains = {t.name: package_of[domain_of(t.name)] for t in topics}
    reached: dict[str, set[str]] = {}  # full name -> the packages whose topics use it
    for t in topics:
        roots = [n for use in (t.key, t.value) for n in _roots(project, use)]
        for full in _reach(project, roots):
            reached.setdefault(full, set()).add(domains[t.name])
    homes = {full: next(iter(packages)) if len(packages) == 1 else TOP for full, packages in reached.items()}
    return Layout(domains, homes)


def _roots(project: Project, use: SchemaUse | None) -> list[str]:
    if use is None or use.kind != "avro" or use.file not in project.avro:
        return []
    return _named_in(project.avro[use.file].root)


def _named_in(t: AvroType) -> list[str]:
    """Full names of the named types ``t`` uses directly."""
    return [ref.fullname for ref in named_refs(t)]


def _reach(project: Project, roots: list[str]) -> set[str]:
    """The named types ``roots`` are made of, themselves included."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        full = stack.pop()
        if full in seen:
            continue
        seen.add(full)
        n = project.named[full]
        if isinstance(n, Record):
            for f in n.fields:
                stack += _named_in(f.type)
    return seen
