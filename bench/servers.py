"""The Kafka broker and registry a benchmark runs against: ``SCHEMABUS_BOOTSTRAP_SERVERS`` /
``SCHEMABUS_REGISTRY_URL`` when set, else a dev stack (``schemabus.runtime.devstack``) started for
the benchmark and stopped when it ends."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """``(bootstrap servers, registry URL)``; whatever the environment does not name is started."""
    bootstrap = os.environ.get("SCHEMABUS_BOOTSTRAP_SERVERS", "").strip()
    registry_url = os.environ.get("SCHEMABUS_REGISTRY_URL", "").strip()
    if bootstrap and registry_url:
        yield bootstrap, registry_url
        return
    from schemabus.runtime.devstack import start_stack

    print("starting the dev stack (SCHEMABUS_BOOTSTRAP_SERVERS / SCHEMABUS_REGISTRY_URL not set)...")
    stack = start_stack(kafka=not bootstrap, registry=not registry_url)
    try:
        yield bootstrap or stack.bootstrap_servers, registry_url or stack.registry_url
    finally:
        gc.collect()  # the benchmark's clients (in reference cycles) go before their broker: no disconnect logs
        stack.stop()
