"""A consumer worker script run as a child process, for the tests that kill or stop consumers.

The worker writes one ``"<partition> <offset>"`` line per handled record to ``out``; its output goes
to ``<label>.log`` beside it. The generated package is on its ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 45.0  # how long stop() waits for the process to exit


class WorkerProcess:
    """``script`` (a file beside this one) started with ``--out <tmp>/<label>.handled`` and ``args``."""

    def __init__(self, tmp: Path, label: str, script: str, *args: str) -> None:
        self.out = tmp / f"{label}.handled"
        self.out.touch()
        self.log_path = tmp / f"{label}.log"
        self.log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "generated"), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name(script)), "--out", str(self.out), *args],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def handled_pairs(self) -> list[tuple[int, int]]:
        """(partition, offset) of every record the worker reported handled, in its order."""
        lines = self.out.read_text().splitlines()
        return [(int(p), int(o)) for p, o in (line.split() for line in lines if line.count(" ") == 1)]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` (if still running) and return the exit code (``-sig`` when killed by it)."""
        if self.alive():
            self.process.send_signal(sig)
        code = self.process.wait(TIMEOUT)
        self.log.close()
        return code
