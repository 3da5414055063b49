"""Start, watch and stop server processes: free ports, readiness waits, stop by PID.

Every wait here has a deadline, so nothing can hang a test run. A process is only ever
signalled after checking that its command line carries a marker unique to that start, so a
recycled PID that now belongs to someone else is left alone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DevStackError

# Pause between readiness probes: short enough to notice readiness quickly, long enough
# not to busy-loop on a 2-core machine that is also starting two JVMs.
POLL_INTERVAL = 0.25


def new_marker() -> str:
    """A JVM option unique to one server start; ``is_ours`` looks for it in the command line.

    Java ignores unknown system properties, so it changes nothing but makes the process
    recognisable even after its PID could have been recycled.
    """
    return f"-Dschemabus.devstack={uuid.uuid4().hex}"


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ask the OS for ``count`` distinct free TCP ports on ``host`` (bind to port 0).

    The sockets stay open until all ports are chosen, so the same port is never handed
    out twice; a server started right after binds it (a small race remains, as always).
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _cmdline(pid: int) -> str | None:
    """The command line of ``pid`` (arguments joined by spaces), or ``None`` if it is gone."""
    if Path("/proc/self").is_dir():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # A zombie's cmdline is empty: it carries no marker, and it is dead anyway.
        return raw.replace(b"\0", b" ").decode("utf-8", errors="replace")
    # No /proc (macOS): ask ps, which exits non-zero when the PID is gone.
    try:
        result = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.decode("utf-8", errors="replace") if result.returncode == 0 else None


def _reap(pid: int) -> None:
    # A server started by this very process (e.g. `dev up` run through CliRunner) stays a
    # zombie until reaped; anything else is someone else's child and raises ChildProcessError.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count); reaps it first if it is our own child."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name; "Z" is a zombie (already dead).
    return stat.rpartition(")")[2].split()[0] != "Z"


def is_ours(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker`` (see ``new_marker``)."""
    if pid <= 0 or not pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    return cmdline is not None and marker in cmdline


def stop_pid(pid: int, marker: str, timeout: float = 30.0) -> bool:
    """Stop one process this package started: SIGTERM, wait up to ``timeout`` s, then SIGKILL.

    Only signals ``pid`` if it is alive and its command line contains ``marker``. Returns
    whether a process was signalled.
    """
    if not is_ours(pid, marker):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    # SIGKILL cannot be ignored; the wait only covers the kernel tearing the process down.
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    return True


# Servers started by this Python process that should not outlive it: stopped at exit if
# nobody stopped them (a test session that crashed, a Ctrl-C during startup). `dev up`
# detaches its servers from this list so they keep running after the command returns.
_ATTACHED: dict[int, str] = {}


@atexit.register
def _stop_attached() -> None:
    for pid, marker in list(_ATTACHED.items()):
        stop_pid(pid, marker, timeout=15)
        _ATTACHED.pop(pid, None)


@dataclass
class ServerProcess:
    """One running server that this package started.

    ``address`` is what clients use: ``host:port`` bootstrap servers for Kafka, the
    Confluent-compatible base URL for the registry. ``marker`` is the unique option in the
    process's command line (see ``new_marker``), checked before any signal is sent.
    ``command`` is how it was started (recorded in the state file, so that another process
    can start it again on the same ports and data: see ``relaunch``).
    """

    name: str
    pid: int
    address: str
    log_path: Path
    marker: str
    version: str
    java: str
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    command: tuple[str, ...] = field(default=(), repr=False)

    def is_running(self) -> bool:
        """Whether the process is still alive (and still the one this package started)."""
        if self.popen is not None:
            return self.popen.poll() is None
        return is_ours(self.pid, self.marker)

    def detach(self) -> None:
        """Let the server outlive this Python process (it is otherwise stopped at exit)."""
        _ATTACHED.pop(self.pid, None)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` s); a no-op if it is gone."""
        stop_pid(self.pid, self.marker, timeout)
        _ATTACHED.pop(self.pid, None)
        if self.popen is not None:
            # Reap our child so it does not linger as a zombie.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the server, as a crash would (no shutdown hooks); wait until it is gone.

        A no-op if it is gone already or is no longer the process started (see ``is_ours``).
        """
        if is_ours(self.pid, self.marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        _ATTACHED.pop(self.pid, None)
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(self.pid):
            time.sleep(0.05)

    def to_json(self) -> dict[str, Any]:
        """The fields that the state file keeps (everything but the Popen handle)."""
        return {
            "name": self.name,
            "pid": self.pid,
            "address": self.address,
            "log_path": str(self.log_path),
            "marker": self.marker,
            "version": self.version,
            "java": self.java,
            "command": list(self.command),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerProcess:
        """Rebuild a handle from ``to_json`` output (for ``dev down``/``status``/``restart`` in a later process).

        A state file written before commands were recorded gives an empty ``command``.
        """
        command = data.get("command", [])
        if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
            raise ValueError(f"the recorded command of {data.get('name')} is not a list of strings")
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            address=str(data["address"]),
            log_path=Path(str(data["log_path"])),
            marker=str(data["marker"]),
            version=str(data["version"]),
            java=str(data["java"]),
            command=tuple(command),
        )

    def relaunch(self) -> subprocess.Popen[bytes]:
        """Start the stopped server again with its recorded command (same ports, same data), not waiting.

        The command gets a new marker; afterwards this handle describes the new process (PID,
        marker, Popen). Raises ``RuntimeError`` if the command is unknown or the old process still
        runs, ``DevStackError`` if the command cannot run.
        """
        if not self.command:
            raise RuntimeError(f"{self.name} was started by an older schemabus: its command is unknown")
        if self.is_running():
            raise RuntimeError(f"{self.name} (pid {self.pid}) still runs; stop it first")
        marker = new_marker()
        command = tuple(marker if part == self.marker else part for part in self.command)
        popen = launch(self.name, command, marker=marker, log_path=self.log_path, cwd=self.log_path.parent)
        self.pid, self.marker, self.popen, self.command = popen.pid, marker, popen, command
        return popen


def launch(
    server: str,
    command: Sequence[str],
    *,
    marker: str,
    log_path: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` detached from our terminal, its output appended to ``log_path``.

    ``start_new_session=True`` keeps a Ctrl-C in the terminal (or the end of the shell that
    ran ``schemabus dev up``) from reaching the server: it is stopped by PID only.
    ``command`` must contain ``marker`` (see ``new_marker``); until ``ServerProcess.detach``
    the process is stopped when this Python process exits.
    """
    if marker not in command:
        raise ValueError("the command must carry its marker, or it can never be stopped")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        raise DevStackError(server, f"cannot run {command[0]}: {exc}", log_path) from exc
    _ATTACHED[popen.pid] = marker
    return popen


def wait_until_ready(
    server: str,
    popen: subprocess.Popen[bytes],
    probe: Callable[[float], str | None],
    *,
    timeout: float,
    log_path: Path,
    marker: str,
) -> None:
    """Poll ``probe`` until it returns ``None`` (ready), the process exits, or ``timeout`` passes.

    ``probe(budget)`` gets the seconds left and returns ``None`` when the server is ready,
    else a short description of what it saw (kept for the timeout message). On an early
    exit or a timeout the process is stopped and a ``DevStackError`` names the server,
    the reason and the log (with its tail).
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    try:
        while True:
            code = popen.poll()
            if code is not None:
                raise DevStackError(server, f"the process exited early with code {code}", log_path)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevStackError(
                    server,
                    f"not ready within {timeout:.0f} s (last check: {last})",
                    log_path,
                )
            seen = probe(remaining)
            if seen is None:
                return
            last = seen
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
    except BaseException:
        # Whatever went wrong (timeout, a failing probe, Ctrl-C), leave no server behind.
        stop_pid(popen.pid, marker, timeout=15)
        _ATTACHED.pop(popen.pid, None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=5)
        raise
