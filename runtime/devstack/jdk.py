"""Find a Java runtime to run the servers with.

Nothing here hard-codes a JDK location: candidates come from ``JAVA_HOME``, the usual
install folders (``/usr/lib/jvm/*`` on Debian-like systems, the macOS JVM folder) and
``java`` on ``PATH``; each is asked for its version, and the newest wins. Set
``SCHEMABUS_JAVA`` to a ``java`` executable to skip the search (e.g. to run on Java 17).
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Kafka 4.x brokers need Java 17; nothing older can run either server.
MIN_JAVA = 17

# Names one java executable to use instead of searching (e.g. to test on the oldest supported Java).
ENV_JAVA = "SCHEMABUS_JAVA"
_INSTALL_GLOBS = ("/usr/lib/jvm/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home")
_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class Jdk:
    """A Java runtime: the ``java`` executable and its feature release (17, 21, 25, ...)."""

    java: Path
    major: int

    @property
    def home(self) -> Path:
        """The JDK's home folder (the parent of ``bin/``), for ``JAVA_HOME``."""
        return self.java.parent.parent


@functools.lru_cache(maxsize=32)
def java_major(java: Path, timeout: float = 15.0) -> int | None:
    """Run ``java -version`` and return its feature release, or ``None`` if it does not run.

    Cached per path: both servers resolve a JDK, and each probe starts a JVM.
    """
    try:
        result = subprocess.run(
            [str(java), "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(result.stderr.decode("utf-8", errors="replace"))
    if result.returncode != 0 or match is None:
        return None
    first = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if first == 1 else first


def _candidates() -> list[Path]:
    found: list[Path] = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        found.append(Path(java_home) / "bin" / "java")
    for pattern in _INSTALL_GLOBS:
        found.extend(Path(home) / "bin" / "java" for home in sorted(glob.glob(pattern)))
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    return found


def find_jdks(min_major: int = MIN_JAVA) -> list[Jdk]:
    """Every distinct Java runtime of at least ``min_major`` found on this machine, newest first."""
    seen: set[Path] = set()
    jdks: list[Jdk] = []
    for candidate in _candidates():
        try:
            real = candidate.resolve(strict=True)
        except OSError:
            continue
        if real in seen or not os.access(real, os.X_OK):
            continue
        seen.add(real)
        major = java_major(real)
        if major is not None and major >= min_major:
            jdks.append(Jdk(java=candidate, major=major))
    jdks.sort(key=lambda jdk: jdk.major, reverse=True)
    return jdks


def resolve_jdk(java: str | Path | None = None, min_major: int = MIN_JAVA) -> Jdk:
    """The JDK to use: ``java`` when given (a ``java`` executable), else ``$SCHEMABUS_JAVA``
    when set, else the newest one found.

    Raises ``LookupError`` with a readable reason when there is none, or the given one
    does not run or is too old; callers turn that into a ``DevStackError`` naming the server.
    """
    if java is None:
        java = os.environ.get(ENV_JAVA) or None
    if java is not None:
        path = Path(java)
        if not path.exists():
            raise LookupError(f"java executable {path} does not exist")
        major = java_major(path)
        if major is None:
            raise LookupError(f"{path} -version did not run or printed no version")
        if major < min_major:
            raise LookupError(f"{path} is Java {major}; Java {min_major} or newer is needed")
        return Jdk(java=path, major=major)
    jdks = find_jdks(min_major)
    if not jdks:
        raise LookupError(
            f"no Java {min_major}+ runtime found (looked at JAVA_HOME, {', '.join(_INSTALL_GLOBS)} and java on PATH)"
        )
    return jdks[0]


def class_data_sharing(jdk: Jdk, archive: Path) -> list[str]:
    """JVM options that keep a class-data-sharing archive at ``archive`` (Java 19+; none before).

    The first start writes the archive when the JVM exits normally; later starts map the
    classes from it instead of loading and verifying them again, which cuts a few seconds
    off every start on a small machine. A stale or foreign archive (another JDK build, a
    changed classpath) is ignored and rewritten by the JVM itself.
    """
    if jdk.major < 19:
        return []
    archive.parent.mkdir(parents=True, exist_ok=True)
    return ["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={archive}"]
