"""The one error type of the dev stack, and how it renders a log tail."""

from __future__ import annotations

from pathlib import Path

# Enough lines to show a Java stack trace's head and the lines that led up to it.
TAIL_LINES = 40


def tail(path: Path | None, lines: int = TAIL_LINES) -> str:
    """Return the last ``lines`` lines of ``path``, or ``""`` when it cannot be read."""
    if path is None:
        return ""
    try:
        with path.open("rb") as f:
            # Read at most the last 64 KiB: server logs grow large, the tail is what matters.
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


class DevStackError(RuntimeError):
    """A dev stack server could not be fetched, started, reached or stopped.

    ``server`` names it (``"kafka"`` or ``"registry"``), ``reason`` says why, and
    ``log_path`` is where its output went (the server log, or Maven's log when the
    download failed). ``str(error)`` holds all three plus the log's last lines, so a
    test that errors on it shows everything needed to act.
    """

    def __init__(self, server: str, reason: str, log_path: Path | None = None) -> None:
        self.server = server
        self.reason = reason
        self.log_path = log_path
        super().__init__(self._render())

    def _render(self) -> str:
        message = f"{self.server} could not start: {self.reason}"
        if self.log_path is None:
            return message
        message += f"\n  log: {self.log_path}"
        last = tail(self.log_path)
        if last:
            message += f"\n  last lines of {self.log_path.name}:\n" + "\n".join(
                "    " + line for line in last.splitlines()
            )
        elif not self.log_path.exists():
            message += " (not written)"
        return message
