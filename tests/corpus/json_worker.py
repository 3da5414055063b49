"""The corpus's JSON differential in an interpreter of its own (tests/corpus/test_corpus.py runs it):
hypothesis-jsonschema takes minutes to prepare some large schemas, so each group has a time budget
enforced by a timer signal, and whatever an interrupted preparation leaves in hypothesis's caches
stays out of the test session.

    python -m tests.corpus.json_worker ROOT < groups.json > results.json

``groups.json`` lists ``[group name, package]``; the packages are generated under ROOT. The result
maps each group to its counts and disagreements.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis_jsonschema import from_schema

from schemabus.codegen.load.json_drafts import parse_draft
from schemabus.codegen.load.jsonschema import load_json_schema_files
from schemabus.runtime import JsonSerde

from ..hypothesis_ci import IN_CI, pin_examples
from ..json_differential import FORMATS, JsonCase, generation_schema, mutants

JSON_EXAMPLES = 10
# Past this budget per group, the rest of its serdes count as ones hypothesis-jsonschema cannot draw for.
# CPU seconds of this worker, not wall time: how much gets drawn must not depend on the machine's load.
GROUP_SECONDS = 10


class _TooSlow(BaseException):
    """Raised by the timer: a BaseException, so hypothesis does not take it for a failing example."""


def run_group(root: Path, package: str, label: str) -> dict[str, Any]:
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(package)
    finally:
        sys.path.remove(str(root))
    counts = {"serdes": 0, "drawn": 0, "valid": 0, "refused": 0, "known": 0}
    disagreements: list[str] = []
    deadline = time.process_time() + GROUP_SECONDS
    serdes = ((n, getattr(module, n)) for n in module.__all__)  # a lazy top level: imported on first use
    for name, serde in sorted((n, s) for n, s in serdes if isinstance(s, JsonSerde)):
        schema = load_json_schema_files([("bundle.json", serde.schema)], default_draft=parse_draft(serde.draft))
        case = JsonCase(f"{label} {name}", schema["bundle.json"], serde.type, serde)
        counts["serdes"] += 1
        counts["drawn"] += _differential(case, deadline)
        counts["valid"] += case.valid
        counts["refused"] += case.refused
        counts["known"] += len(case.known)
        disagreements += case.disagreements
    return {"counts": counts, "disagreements": disagreements}


def _differential(case: JsonCase, deadline: float) -> bool:
    """Run the differential until ``deadline`` (this process's CPU time); False when
    hypothesis-jsonschema cannot draw from this schema (in time)."""
    seconds = deadline - time.process_time()
    if seconds < 0.5:
        return False
    try:
        schema = generation_schema(case.schema)
    except RecursionError:
        return False

    @settings(
        max_examples=JSON_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        instance = data.draw(from_schema(schema, custom_formats=FORMATS, codec="utf-8"), label="instance")
        if not case.reference_accepts(instance):
            return
        case.check_valid(instance)
        mutant = data.draw(mutants(instance), label="mutant")
        if not case.reference_accepts(mutant):
            case.check_refused(mutant)

    armed = True

    def too_slow(*_: Any) -> None:
        if armed:
            raise _TooSlow

    # The timer (of CPU time, as the deadline) fires again every second until disarmed: a signal that
    # arrives while a finalizer runs is swallowed ("Exception ignored in ..."), and one swallowed alarm
    # must not mean no limit.
    previous = signal.signal(signal.SIGPROF, too_slow)
    signal.setitimer(signal.ITIMER_PROF, seconds, 1.0)
    try:
        try:
            check()
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
    except (HypothesisException, RecursionError, re.error, jsonschema.SchemaError, _TooSlow):
        return False  # beyond hypothesis-jsonschema (recursion, a regex it cannot read, too slow to draw)
    finally:
        signal.signal(signal.SIGPROF, previous)
    return True


def main() -> None:
    if IN_CI:
        pin_examples()
    root = Path(sys.argv[1])
    groups = json.load(sys.stdin)
    # Standard output carries the results alone: what hypothesis reports (a failing example's seed,
    # outside CI) goes to standard error with the warnings.
    with contextlib.redirect_stdout(sys.stderr):
        results = {label: run_group(root, package, label) for label, package in groups}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
