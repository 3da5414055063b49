"""Download server artifacts from Maven Central with ``mvn`` and keep them in the cache.

Maven's own defaults decide where artifacts come from (and its settings.xml, mirrors and
proxies apply), and its local repository (``~/.m2``) is shared with other builds. What
this module adds is a ready-to-run copy per server version under the cache folder,
written to a temporary folder and renamed into place only once complete, so an
interrupted download never leaves a half-filled cache that looks usable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import DevStackError

# A cold download is ~200 MB; allow slow links, but never wait forever.
MVN_TIMEOUT = 900.0
# Two processes (say, two test sessions) fetching at once wait for each other this long.
LOCK_TIMEOUT = MVN_TIMEOUT + 60.0


def cache_dir() -> Path:
    """The folder for downloads and run folders.

    ``SCHEMABUS_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/schemabus``, else
    ``~/.cache/schemabus``. It lives outside the checkout so fresh clones reuse it.
    """
    override = os.environ.get("SCHEMABUS_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "schemabus"


@contextlib.contextmanager
def _fetch_lock(root: Path, server: str) -> Iterator[None]:
    # Serialise all downloads: concurrent mvn runs sharing ~/.m2 can race on the same
    # plugin files, and two processes must not build the same cache entry at once.
    root.mkdir(parents=True, exist_ok=True)
    with (root / "fetch.lock").open("w") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DevStackError(
                        server,
                        f"another process held {root / 'fetch.lock'} for {LOCK_TIMEOUT:.0f} s",
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_mvn(server: str, args: Sequence[str], *, cwd: Path, log_path: Path) -> None:
    """Run ``mvn -B <args>`` in ``cwd``, output to ``log_path``; raise ``DevStackError`` if it fails."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevStackError(server, "Maven (mvn) is not on PATH; it downloads the server", None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        try:
            # -ntp: no per-file progress lines, so the log stays readable.
            result = subprocess.run(
                [mvn, "-B", "-ntp", *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=MVN_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DevStackError(
                server,
                f"the download (mvn) took longer than {MVN_TIMEOUT:.0f} s",
                log_path,
            ) from None
    if result.returncode != 0:
        raise DevStackError(
            server,
            f"the download failed (mvn exited with code {result.returncode})",
            log_path,
        )


def cached(
    server: str,
    target: Path,
    build: Callable[[Path], None],
    *,
    lock_dir: Path,
    progress: Callable[[str], None],
) -> Path:
    """Return ``target``, building it first with ``build(tmp_folder)`` unless it is complete.

    ``build`` fills a fresh temporary folder beside ``target``; it is renamed to ``target``
    only when ``build`` returns, so a failed or killed download leaves no usable-looking entry.
    Builds are serialised through a lock file in ``lock_dir`` (the cache root).
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _fetch_lock(lock_dir, server):
        if target.is_dir():  # another process finished it while we waited for the lock
            return target
        progress(f"{server}: downloading to {target} (once; later runs reuse it)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build(tmp)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
