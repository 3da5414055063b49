"""Without the compiled codec (an sdist installed where no C compiler is), the Python codecs run and
the first codec that would have used the extension says so, once per process.

The install itself is tested in tests/release/ (an sdist installed with the compiler disabled);
here the extension is hidden from a child process of the dev venv, as if it had not been built.
"""

from __future__ import annotations

import os
import subprocess
import sys

from ..conftest import ROOT

SCRIPT = """
import sys, warnings
if sys.argv[1] == "hide":
    sys.modules["schemabus.runtime._speedups"] = None  # importing it now raises ImportError: not built
warnings.simplefilter("always")  # a second warning from any line would be shown too
sys.path.insert(0, "generated")
from schemabus.runtime import speedups
from platform_events import ErrorInfo, avro_codecs as c
from platform_events.agent import avro_codecs as agent

info = ErrorInfo(error_type="TimeoutError", message="m", retryable=True)
for serde in (c.error_info_serde, agent.agent_created_serde):
    serde.serializer(1)
    serde.serializer(2)
framed = c.error_info_serde.serializer(7)(info)
assert c.error_info_serde.decode(framed, 5) == info
print(speedups.extension is None, speedups.DeliveryCounter.__name__)
"""


def _run(hide: bool, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, "hide" if hide else "keep"],
        env={**os.environ, "SCHEMABUS_NO_SPEEDUPS": "", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_missing_extension_warns_once_and_the_python_codecs_run() -> None:
    done = _run(hide=True)
    assert done.stdout.split() == ["True", "PyDeliveryCounter"]
    assert done.stderr.count("SpeedupsWarning") == 1, done.stderr
    assert (
        "SpeedupsWarning: schemabus: the compiled Avro codec (schemabus.runtime._speedups) is not built ("
        in done.stderr
    )
    assert "using the Python codecs" in done.stderr and "SCHEMABUS_NO_SPEEDUPS=1" in done.stderr


def test_no_warning_when_switched_off_or_built() -> None:
    off = _run(hide=True, SCHEMABUS_NO_SPEEDUPS="1")
    assert off.stdout.split() == ["True", "PyDeliveryCounter"]
    assert "Warning" not in off.stderr, off.stderr
    built = _run(hide=False)
    assert built.stdout.split() == ["False", "DeliveryCounter"]
    assert "Warning" not in built.stderr, built.stderr
