"""Apicurio Registry 3.x serving the Confluent Schema Registry API, from Maven Central.

Confluent's own registry is not published to Maven Central; Apicurio is, and its
``/apis/ccompat/v7`` endpoint is the Confluent REST API that confluent-kafka's
``SchemaRegistryClient`` speaks. Storage is its SQL storage on an H2 database *file* in
``run_dir/registry/data``, so schemas and their ids survive a restart (delete that folder,
or ``start_stack(fresh=True)``, to begin empty).
"""

from __future__ import annotations

import shutil
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .errors import DevStackError
from .fetch import cache_dir, cached, run_mvn
from .jdk import Jdk, class_data_sharing, resolve_jdk
from .process import ServerProcess, free_ports, launch, new_marker, wait_until_ready

SERVER = "registry"
ARTIFACT = "io.apicurio:apicurio-registry-app"
# 3.3.x needs Java 21+. 3.0.9 is the newest 3.x release that runs on Java 17 and whose
# runnable archive Maven Central serves.
REGISTRY_VERSION = "3.3.3"
REGISTRY_VERSION_JAVA17 = "3.0.9"
CCOMPAT_PATH = "/apis/ccompat/v7"
# Without a global rule, Apicurio accepts every new version unchecked.
COMPATIBILITY = "BACKWARD"
REGISTRY_JVM_OPTS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC")
STARTUP_TIMEOUT = 120.0
# The H2 database (``registry.mv.db``) lives in this folder of ``run_dir/registry``.
DATA_DIR = "data"


def _quiet(_: str) -> None:
    pass


def registry_version_for(jdk: Jdk) -> str:
    """The Apicurio version to run on ``jdk``: 3.3.x on Java 21+, else the last that runs on 17."""
    return REGISTRY_VERSION if jdk.major >= 21 else REGISTRY_VERSION_JAVA17


def launcher(app: Path) -> Path:
    """The jar to ``java -jar`` in an unpacked app archive.

    3.1+ ship Quarkus's fast-jar layout (``quarkus-run.jar``); 3.0.x the legacy layout
    (``apicurio-registry-app-<version>-runner.jar``).
    """
    fast = app / "quarkus-run.jar"
    if fast.is_file():
        return fast
    runners = sorted(app.glob("*-runner.jar"))
    if runners:
        return runners[0]
    raise FileNotFoundError(f"no quarkus-run.jar or *-runner.jar in {app}")


def fetch_registry(
    version: str = REGISTRY_VERSION,
    *,
    cache: Path | None = None,
    progress: Callable[[str], None] = _quiet,
) -> Path:
    """Download and unpack Apicurio Registry ``version`` (once); return the unpacked app folder.

    Raises ``DevStackError`` (server ``"registry"``, with Maven's log) if the download fails.
    """
    root = cache if cache is not None else cache_dir()
    target = root / "apicurio" / version
    mvn_log = root / "apicurio" / f"{version}.mvn.log"

    def build(tmp: Path) -> None:
        # No pom here: mvn runs in its standalone mode (a pom in cwd would be picked up).
        run_mvn(
            SERVER,
            [
                "dependency:copy",
                f"-Dartifact={ARTIFACT}:{version}:tar.gz:all",
                f"-DoutputDirectory={tmp}",
            ],
            cwd=tmp,
            log_path=mvn_log,
        )
        archive = tmp / f"apicurio-registry-app-{version}-all.tar.gz"
        if not archive.is_file():
            raise DevStackError(SERVER, f"the download did not bring {archive.name}", mvn_log)
        app = tmp / "app"
        try:
            with tarfile.open(archive, "r:gz") as tar:
                # The "data" filter refuses absolute paths and links leaving the folder.
                tar.extractall(app, filter="data")
            launcher(app)
        except (OSError, tarfile.TarError) as exc:
            shutil.rmtree(app, ignore_errors=True)
            raise DevStackError(SERVER, f"cannot unpack {archive.name}: {exc}", mvn_log) from None
        # The archive stays in Maven's local repository; no need for a second copy.
        archive.unlink()

    return cached(SERVER, target, build, lock_dir=root, progress=progress) / "app"


def h2_url(data_dir: Path) -> str:
    """The JDBC URL of the registry's H2 database file in ``data_dir`` (created on first use)."""
    return f"jdbc:h2:file:{data_dir.resolve() / 'registry'}"


def _registry_probe(url: str) -> Callable[[float], str | None]:
    subjects = f"{url}/subjects"

    def probe(budget: float) -> str | None:
        try:
            with urllib.request.urlopen(subjects, timeout=max(0.5, min(5.0, budget))) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return f"GET {subjects} answered {exc.code}"
        except (OSError, ValueError) as exc:
            return f"GET {subjects} failed: {exc}"
        return None if status == 200 else f"GET {subjects} answered {status}"

    return probe


def start_registry(
    run_dir: Path,
    *,
    java: str | Path | None = None,
    version: str | None = None,
    timeout: float = STARTUP_TIMEOUT,
    cache: Path | None = None,
    host: str = "127.0.0.1",
    progress: Callable[[str], None] = _quiet,
) -> ServerProcess:
    """Start Apicurio Registry in ``run_dir/registry``; return once ``GET <url>/subjects`` is 200.

    Its data is the H2 database in ``run_dir/registry/data``: what an earlier start there
    registered is still there, under the same ids.

    The returned ``address`` is the Confluent-compatible base URL
    (``http://host:port/apis/ccompat/v7``) to give ``SchemaRegistryClient``. A global
    BACKWARD compatibility rule is set, so incompatible registrations are refused.
    ``version`` defaults to ``registry_version_for(jdk)``. Raises ``DevStackError`` naming
    the reason and the log (``run_dir/registry/registry.log``) on any failure; a process
    that is not ready within ``timeout`` seconds is stopped.
    """
    work = (run_dir / SERVER).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "registry.log"
    try:
        jdk = resolve_jdk(java)
    except LookupError as exc:
        raise DevStackError(SERVER, str(exc), log_path) from None
    chosen = version or registry_version_for(jdk)
    root = cache if cache is not None else cache_dir()
    app = fetch_registry(chosen, cache=root, progress=progress)

    http_port, management_port = free_ports(2, host)
    url = f"http://{host}:{http_port}{CCOMPAT_PATH}"
    marker = new_marker()
    command = [
        str(jdk.java),
        marker,
        *REGISTRY_JVM_OPTS,
        *class_data_sharing(jdk, root / "cds" / f"apicurio-{chosen}-java{jdk.major}.jsa"),
        f"-Dquarkus.http.host={host}",
        f"-Dquarkus.http.port={http_port}",
        # The management interface (health, metrics) would otherwise listen on all
        # interfaces on a fixed port, clashing between two stacks.
        f"-Dquarkus.management.host={host}",
        f"-Dquarkus.management.port={management_port}",
        f"-Dapicurio.rules.global.compatibility={COMPATIBILITY}",
        # SQL storage (Apicurio 3's default kind) on an H2 file instead of its default
        # in-memory H2 URL: schemas, and so the ids in records already written, outlive a restart.
        "-Dapicurio.storage.kind=sql",
        "-Dapicurio.storage.sql.kind=h2",
        f"-Dapicurio.datasource.url={h2_url(work / DATA_DIR)}",
        # A test registry needs few database connections.
        "-Dapicurio.datasource.jdbc.initial-size=2",
        "-Dapicurio.datasource.jdbc.min-size=2",
        "-jar",
        str(launcher(app)),
    ]
    progress(f"registry: starting Apicurio {chosen} on {host}:{http_port} with Java {jdk.major} (log: {log_path})")
    popen = launch(SERVER, command, marker=marker, log_path=log_path, cwd=work)
    wait_until_ready(
        SERVER,
        popen,
        _registry_probe(url),
        timeout=timeout,
        log_path=log_path,
        marker=marker,
    )
    return ServerProcess(
        name=SERVER,
        pid=popen.pid,
        address=url,
        log_path=log_path,
        marker=marker,
        version=chosen,
        java=str(jdk.java),
        popen=popen,
        command=tuple(command),
    )


def restart_registry(server: ServerProcess, *, timeout: float = STARTUP_TIMEOUT) -> None:
    """Start the stopped registry ``server`` again with its recorded command (same port, same data).

    Returns once it answers; ``server`` then describes the new process. Raises
    ``DevStackError`` as ``start_registry`` does, and ``RuntimeError`` if the old process
    still runs or its command is unknown.
    """
    popen = server.relaunch()
    wait_until_ready(
        SERVER,
        popen,
        _registry_probe(server.address),
        timeout=timeout,
        log_path=server.log_path,
        marker=server.marker,
    )
