"""No module of codegen/, runtime/ or examples/ uses another module's private names (README, "Layout"): not by
importing them, nor by reaching for an underscored attribute that some other module defines.

Reading ``obj._name`` is fine on ``self``, ``cls`` and ``super()``, and where the module defines
``_name`` itself (its own classes' state). Private names of third-party packages are not this test's
concern (confluent-kafka spells some public constants ``KafkaError._FATAL``).
"""

from __future__ import annotations

import ast

import pytest

from .conftest import ROOT

PACKAGES = ("codegen", "runtime", "examples")  # the examples are code users copy: the same rule


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(), str(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = _modules()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined(tree: ast.Module) -> set[str]:
    """The private names a module defines: functions, classes, assignments, attributes it sets."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if _private(n)}


DEFINED = {module: _defined(tree) for module, tree in MODULES.items()}


def _own(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _foreign(node: ast.Attribute, module: str) -> bool:
    """Whether ``node`` (``obj._name``) may be another module's private name: one that some other module
    defines, and this one does not, or does but reads it through more than a local name
    (``self.bus._commit``)."""
    if not any(node.attr in names for other, names in DEFINED.items() if other != module):
        return False
    return node.attr not in DEFINED.get(module, set()) or not isinstance(node.value, ast.Name)


def _violations(module: str, tree: ast.Module) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("schemabus")):
            out += [f"{module}:{node.lineno}: imports {a.name}" for a in node.names if _private(a.name)]
        elif (
            isinstance(node, ast.Attribute) and _private(node.attr) and not _own(node.value) and _foreign(node, module)
        ):
            out.append(f"{module}:{node.lineno}: reads {ast.unparse(node)}")
    return out


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_uses_another_modules_private_names(module: str) -> None:
    found = _violations(module, MODULES[module])
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scan itself: each kind of reach is found, and the allowed reads are not."""
    tree = ast.parse(
        "from .kafka_bus import _AUTHORIZATION_CODES\n"
        "from .consumer import OffsetTracker\n"
        "bus._serve_inline(loop)\n"
        "self.bus._commit(offsets)\n"
        "self._own_state\n"
        "super()._dispatch(messages)\n"
    )
    found = _violations("runtime/example.py", tree)
    assert found == [
        "runtime/example.py:1: imports _AUTHORIZATION_CODES",
        "runtime/example.py:3: reads bus._serve_inline",
        "runtime/example.py:4: reads self.bus._commit",
    ]
