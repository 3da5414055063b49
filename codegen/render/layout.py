"""Where each part of the generated package lives: a subpackage per domain of the catalog.

Topics are named ``{domain}.{entity}.{action}``; each domain gets a subpackage with its topics, the
Avro types and JSON Schema models only its topics use, and their codecs and serdes. The package's
top-level modules hold what several domains share, and what no topic uses (everything without a
catalog). A domain's modules import from the top level, never from another domain, so a service
importing one domain loads that domain and the shared types alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .. import naming
from ..ir import AvroType, Project, Record, SchemaUse, Topic, named_refs

TOP = ""  # the package's top level
# The top-level modules: a domain's subpackage takes another name (with a trailing "_").
TOP_MODULES = frozenset({"avro_models", "avro_codecs", "json_models", "topics"})


@dataclass(frozen=True)
class Layout:
    domains: dict[str, str]  # live topic name -> the subpackage of its domain
    homes: dict[str, str]  # Avro full name -> the subpackage that defines it (absent: the top level)

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
    roots: dict[str, list[str]] = {}  # subpackage -> the named types its topics' keys and values are
    for t in topics:
        roots.setdefault(domains[t.name], []).extend(n for use in (t.key, t.value) for n in _roots(project, use))
    return Layout(domains, place(roots, lambda full: _refs(project, full), project.named))


def place(roots: dict[str, list[str]], refs: Callable[[str], Iterable[str]], every: Iterable[str]) -> dict[str, str]:
    """Where each definition of ``every`` lives: in the one subpackage whose ``roots`` reach it through
    ``refs`` (the definitions each one uses), else at the top level (absent from the result): when
    several reach it, when none does, or when one the top level defines uses it. So a domain's
    modules import from the top level only, and the top level from no domain."""
    reached: dict[str, set[str]] = {}  # definition -> the subpackages reaching it
    for package, names in roots.items():
        for name in _closure(names, refs):
            reached.setdefault(name, set()).add(package)
    homes = {name: next(iter(packages)) for name, packages in reached.items() if len(packages) == 1}
    for name in _closure([n for n in every if n not in homes], refs):
        homes.pop(name, None)
    return homes


def _closure(names: Iterable[str], refs: Callable[[str], Iterable[str]]) -> set[str]:
    """``names`` and every definition they use, directly or not."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack += refs(name)
    return seen


def _roots(project: Project, use: SchemaUse | None) -> list[str]:
    if use is None or use.kind != "avro" or use.file not in project.avro:
        return []
    return _named_in(project.avro[use.file].root)


def _named_in(t: AvroType) -> list[str]:
    """Full names of the named types ``t`` uses directly."""
    return [ref.fullname for ref in named_refs(t)]


def _refs(project: Project, full: str) -> list[str]:
    """The named types the fields of named type ``full`` use directly."""
    n = project.named[full]
    return [ref for f in n.fields for ref in _named_in(f.type)] if isinstance(n, Record) else []
