"""Shared test support: the repository root, the golden cases, the --update-golden option, and the
gates that keep a run from passing by accident:

- **skips**: every skip is counted by reason and printed at the end; a skip whose reason is not in
  ``ALLOWED_SKIPS`` fails the run (exit code 1), whatever else passed;
- **property tests**: every ``@given`` test reports how many valid examples it ran (printed at the
  end, per test); fewer than its floor fails that test. The floor is the test's ``max_examples``, or
  the ``min_examples(n)`` marker where the test sets one (say why next to it). In CI (``CI`` set),
  hypothesis is derandomized: a red build means a change broke something, not that this run drew a
  rarer case; a property test that is not derandomized there fails.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import is_hypothesis_test, settings
from hypothesis.statistics import collector

from .hypothesis_ci import IN_CI, pin_examples

if IN_CI:
    pin_examples()

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"

# The only skips a run may report: a regular expression matched against the whole reason, and why such
# a skip is fine. Anything else fails the run (see README, "Tests"). Keep this short: a skip that can
# be avoided (start the server, build the extension, set the variable) is a failure, not a skip.
ALLOWED_SKIPS: dict[str, str] = {}


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "pyproject.toml").is_file())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Re-record tests/golden/*/generated from the current generator; a test that rewrote "
        "files fails (review the diff, then run again without the option).",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def import_golden(case: str) -> None:
    """Make a golden case's generated package importable (each has a distinct package name)."""
    path = str(GOLDEN / case / "generated")
    if path not in sys.path:
        sys.path.insert(0, path)


def json_models_modules(package: str) -> list[ModuleType]:
    """The json_models modules of a generated package: the top level's, then each domain's."""
    pkg = importlib.import_module(package)
    names = [f"{package}.json_models"]
    names += [f"{package}.{m.name}.json_models" for m in pkgutil.iter_modules(pkg.__path__) if m.ispkg]
    out = []
    for name in names:
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
    return out


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "min_examples(n): the fewest valid hypothesis examples this property test may run (default: its max_examples)",
    )
    config.pluginmanager.register(SkipGate(), "schemabus-skip-gate")
    config.pluginmanager.register(ExampleGate(), "schemabus-example-gate")


# --- skips ------------------------------------------------------------------------------------------


def allowed_skip(reason: str) -> bool:
    return any(re.fullmatch(pattern, reason) for pattern in ALLOWED_SKIPS)


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")


class SkipGate:
    """Counts skips by reason; fails the session on one that ``ALLOWED_SKIPS`` does not name."""

    def __init__(self) -> None:
        self.skips: list[tuple[str, str]] = []  # (node id, reason)

    def _note(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.append((report.nodeid, _skip_reason(report)))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def unexpected(self) -> list[tuple[str, str]]:
        return [(node, reason) for node, reason in self.skips if not allowed_skip(reason)]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.unexpected() and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        by_reason = Counter(reason for _, reason in self.skips)
        terminalreporter.section("skips by reason")
        if not by_reason:
            write("no test was skipped")
        for reason, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0])):
            verdict = "allowed" if allowed_skip(reason) else "NOT ALLOWED"
            write(f"{count:5d}  {verdict:<11}  {reason}")
        unexpected = self.unexpected()
        if unexpected:
            write("")
            write(
                f"FAILED: {len(unexpected)} skip(s) outside the allow-list (ALLOWED_SKIPS in tests/conftest.py); "
                "a skipped test proves nothing. First: "
                f"{unexpected[0][0]}",
                red=True,
                bold=True,
            )


# --- property tests ---------------------------------------------------------------------------------

# What hypothesis counts towards max_examples: examples replayed from its database, then generated ones.
_COUNTED_PHASES = ("reuse-phase", "generate-phase", "target-phase")
_STATISTICS = pytest.StashKey[dict[str, Any]]()


@dataclass
class _Examples:
    nodeid: str
    valid: int
    floor: int
    stopped_because: str


def _function_id(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


class ExampleGate:
    """Counts each property test's valid examples from hypothesis' own statistics; a test that ran
    fewer than its floor fails (so does one whose statistics never arrived, or, in CI, one that was
    not derandomized)."""

    def __init__(self) -> None:
        self.results: list[_Examples] = []

    @pytest.hookimpl(wrapper=True, trylast=True)  # innermost: inside hypothesis' own wrapper
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        if not _is_property_test(item):
            return (yield)
        outer: Callable[[dict[str, Any]], None] | None = collector.value

        def note(stats: dict[str, Any]) -> None:
            item.stash[_STATISTICS] = stats
            if outer is not None:
                outer(stats)

        with collector.with_value(note):
            return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report: pytest.TestReport = yield
        if report.when != "call" or not report.passed or not _is_property_test(item):
            return report
        problem = self._check(item)
        if problem is not None:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid}: {problem}"
        return report

    def _check(self, item: pytest.Item) -> str | None:
        used = _settings_of(item)
        if IN_CI and not used.derandomize:
            return "hypothesis is not derandomized in CI (its settings override the ci profile)"
        stats = item.stash.get(_STATISTICS, None)
        if stats is None:
            return "hypothesis reported no statistics: its example count cannot be checked"
        valid = sum(
            1
            for phase in _COUNTED_PHASES
            for case in stats.get(phase, {}).get("test-cases", [])
            if case.get("status") == "valid"
        )
        marker = item.get_closest_marker("min_examples")
        floor = int(marker.args[0]) if marker is not None else used.max_examples
        self.results.append(_Examples(item.nodeid, valid, floor, str(stats.get("stopped-because", ""))))
        if valid < floor:
            return (
                f"ran {valid} valid hypothesis examples, below its floor of {floor} "
                f"(hypothesis stopped because: {stats.get('stopped-because', '?')}); a strategy that filters "
                "away its examples, or settings that lower them, test less than the test claims"
            )
        return None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results:
            return
        terminalreporter.section("hypothesis: valid examples per property test (fewest over its cases / floor)")
        by_test: dict[str, list[_Examples]] = {}
        for result in self.results:
            by_test.setdefault(_function_id(result.nodeid), []).append(result)
        for test, results in sorted(by_test.items()):
            fewest = min(results, key=lambda r: r.valid - r.floor)
            cases = f" ({len(results)} cases)" if len(results) > 1 else ""
            terminalreporter.write_line(f"{fewest.valid:6d} / {fewest.floor:<6d} {test}{cases}")
        total = sum(r.valid for r in self.results)
        terminalreporter.write_line(f"{total:6d} valid examples in {len(self.results)} property test runs")


def _is_property_test(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and is_hypothesis_test(item.obj)


def _settings_of(item: pytest.Item) -> settings:
    # Where hypothesis' pytest plugin finds them too (the @settings decorator puts them there).
    used = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
    return used if isinstance(used, settings) else settings.default
