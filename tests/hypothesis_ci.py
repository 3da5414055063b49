"""Hypothesis in CI (``CI`` set): the same examples on every run, wherever the test runs (the pytest
session, or a worker interpreter such as tests/corpus/json_worker.py). A red build then means a change
broke something, not that this run happened to draw a rarer case; local runs keep exploring."""

from __future__ import annotations

import os

from hypothesis import Phase, settings

IN_CI = bool(os.environ.get("CI"))


def pin_examples() -> None:
    """Derandomize, and draw no constants mined from local modules.

    The explain phase is left out: it traces every line a failing example runs (sys.settrace on
    Python 3.11), minutes in jsonschema-heavy tests, and CI needs the failing example, not the
    explanation. Derandomized is not yet the same examples: hypothesis also draws constants it mines
    from every local module imported so far, so a test drew other examples in the whole suite (after
    the corpus test imported hundreds of generated packages) than alone. CI keeps hypothesis's own
    constants only (a private name: this fails loudly if an upgrade moves it).
    """
    settings.register_profile(
        "ci", derandomize=True, database=None, phases=[phase for phase in Phase if phase is not Phase.explain]
    )
    settings.load_profile("ci")
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants"):
        raise RuntimeError("hypothesis moved _get_local_constants: pin CI's examples another way")
    providers._get_local_constants = lambda: providers._local_constants  # the empty pool
