"""schemabus built as a release is built and installed as a user installs it, once per test session.

``python -m build`` makes the sdist and, from the sdist, the wheel, into a temporary directory. The
wheel goes into a new virtualenv with ``pip install`` and no extras; at the same time the sdist goes
into a second one with the C compiler disabled (``CC=/bin/false``). Commands run from temporary
directories outside the checkout, with an environment that leads to nothing of the checkout or of
the development virtualenv: no ``PYTHON*``, ``VIRTUAL_ENV`` or ``SCHEMABUS_*`` variables, the
virtualenv's ``bin`` first on ``PATH`` (as when it is activated), and ``SCHEMABUS_CACHE_DIR`` in
the temporary directory (so that ``schemabus dev status`` sees no stack the developer started).

pip downloads through its cache (``~/.cache/pip``), like any install; everything else this
writes is removed at the end of the session.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..conftest import ROOT

VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

# What `python -m build` may add to the checkout: setuptools writes the package metadata
# (schemabus.egg-info/) into the source tree when it makes the sdist; the wheel is built from the
# unpacked sdist elsewhere. (`pip install <checkout>` also writes build/, setuptools' build directory.)
SETUPTOOLS_METADATA = "schemabus.egg-info"

# pip compiles every module of every package it installs (thousands, on a shared machine); run
# time compiles what is imported, as it does for any module without bytecode.
PIP_INSTALL = ("--no-compile",)

_KEY = pytest.StashKey["Release | BaseException"]()


def user_env(bin_dir: Path | None, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a user whose virtualenv is ``bin_dir``'s (None: no virtualenv)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "SCHEMABUS_")) and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")
    }
    root = str(ROOT)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(root)]
    if bin_dir is not None:
        path.insert(0, str(bin_dir))
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["PATH"] = os.pathsep.join(path)
    env["SCHEMABUS_CACHE_DIR"] = str(home / "schemabus-cache")
    env.update(extra or {})
    return env


def run(
    args: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 240, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, input=input, check=False
    )


def explain(done: subprocess.CompletedProcess[str]) -> str:
    """What a failed command printed, for an assertion message."""
    cmd = " ".join(map(str, done.args))
    return f"$ {cmd}\nexit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, explain(done)
    return done


def tree_state() -> dict[str, tuple[int, int]]:
    """Every file and directory of the checkout (but .git and .venv): relative path -> (size, mtime)."""
    state: dict[str, tuple[int, int]] = {}
    for top, dirs, files in os.walk(ROOT):
        if Path(top) == ROOT:
            dirs[:] = [d for d in dirs if d not in (".git", ".venv")]
        for name in [*dirs, *files]:
            path = Path(top, name)
            st = path.lstat()
            state[path.relative_to(ROOT).as_posix()] = (st.st_size, st.st_mtime_ns)
    return state


def changed(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


@dataclass
class Venv:
    """A virtualenv of a user: run its commands from a directory outside the checkout."""

    path: Path
    home: Path  # temporary; holds SCHEMABUS_CACHE_DIR

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        return user_env(self.bin, self.home, extra)

    def run(
        self, *args: str | Path, cwd: Path, timeout: float = 240, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return run([str(a) for a in args], cwd=cwd, env=self.env(**extra_env), timeout=timeout)

    def schemabus(self, *args: str | Path, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.bin / "schemabus", *args, cwd=cwd, **extra_env)

    def site_packages(self) -> Path:
        (site,) = self.path.glob("lib/python3*/site-packages")
        return site


@dataclass
class Release:
    """The sdist and wheel of the checkout, and the virtualenvs they were installed into."""

    root: Path  # a temporary directory outside the checkout
    sdist: Path
    wheel: Path
    tree_changes: list[str]  # paths of the checkout that building changed
    wheel_venv: Venv  # the wheel, no extras
    _sdist_install: subprocess.Popen[str]  # the sdist with CC=/bin/false, running in the background
    _sdist_venv: Venv
    _sdist_log: Path
    _sdist_done: bool = field(default=False)

    def scratch(self, name: str) -> Path:
        """A new empty directory outside the checkout."""
        path = self.root / "scratch" / name
        path.mkdir(parents=True)
        return path

    def sdist_without_compiler(self) -> tuple[Venv, str]:
        """The virtualenv the sdist was installed into with no working C compiler, and pip's output."""
        if not self._sdist_done:
            code = self._sdist_install.wait(timeout=240)
            self._sdist_done = True
            assert code == 0, f"pip install of the sdist without a compiler failed:\n{self._sdist_log.read_text()}"
        return self._sdist_venv, self._sdist_log.read_text()

    def stop(self) -> None:
        if self._sdist_install.poll() is None:
            self._sdist_install.kill()
            self._sdist_install.wait()


def _new_venv(path: Path, home: Path) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    return Venv(path, home)


def build_and_install(root: Path) -> Release:
    home = root / "home"
    home.mkdir()
    dist = root / "dist"
    before = tree_state()
    ok(run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=root, env=user_env(None, home)))
    tree_changes = changed(before, tree_state())
    (sdist,) = dist.glob("schemabus-*.tar.gz")
    (wheel,) = dist.glob("schemabus-*.whl")

    # The sdist without a compiler, in the background while the wheel is installed. In two steps, as
    # `pip install <sdist>` does them (build a wheel, install it), so that the wheel built without
    # the extension stays out of pip's wheel cache, where every run would leave one behind.
    sdist_venv = _new_venv(root / "venv-sdist", home)
    sdist_log = root / "pip-sdist.log"
    pip = shlex.quote(str(sdist_venv.python)) + " -m pip"
    built = shlex.quote(str(root / "built-without-compiler"))
    script = (
        f"{pip} wheel --no-deps --no-cache-dir -v -w {built} {shlex.quote(str(sdist))}\n"
        f"{pip} install {' '.join(PIP_INSTALL)} {built}/schemabus-*.whl\n"
    )
    with sdist_log.open("w") as log:
        sdist_install = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=root,
            env=sdist_venv.env(CC="/bin/false", CXX="/bin/false"),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wheel_venv = _new_venv(root / "venv", home)
        ok(wheel_venv.run(wheel_venv.python, "-m", "pip", "install", *PIP_INSTALL, wheel, cwd=root))
    except BaseException:
        sdist_install.kill()
        sdist_install.wait()
        raise
    return Release(root, sdist, wheel, tree_changes, wheel_venv, sdist_install, sdist_venv, sdist_log)


def release(request: pytest.FixtureRequest) -> Release:
    """The session's release (built on first use; removed, with its virtualenvs, at the end)."""
    config = request.config
    if _KEY not in config.stash:
        root = request.getfixturevalue("tmp_path_factory").mktemp("release")
        config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
        try:
            built: Release | BaseException = build_and_install(root)
        except Exception as e:  # every test that needs the release reports this, without building again
            built = e
        else:
            config.add_cleanup(built.stop)
        config.stash[_KEY] = built
    found = config.stash[_KEY]
    if isinstance(found, BaseException):
        raise found
    return found
