"""``schemabus check``: the working tree's subjects against their committed versions.

Subjects come from the catalog (``{topic}-key`` / ``{topic}-value``) and are followed through
history by the catalog of each commit, not by path: a renamed schema file keeps its history.
Each subject is checked at its topic's compatibility level; transitive levels replay every
committed version (consecutive identical versions count once). A subject that the base commit
has and the working tree's catalog lacks is a finding, unless the catalog marks it deleted.
"""

from __future__ import annotations

import json
import posixpath
import time
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..diagnostics import SchemaError, SchemaErrors, Source
from ..ir import PRIMITIVES, SchemaUse, Topic
from ..load.avro import load_avro_files
from ..load.catalog import load_catalog
from ..load.json_drafts import Draft
from ..load.json_refs import RefIndex
from ..load.jsonschema import index_documents
from ..pipeline import load_project, read_schemas
from .avro_rules import AvroVersion
from .avro_rules import can_read as avro_can_read
from .findings import Finding, Incompatibility, rule
from .history import Snapshot, default_base, read_blobs, repo_root, resolve_ref, snapshots
from .json_rules import JsonVersion
from .json_rules import can_read as json_can_read
from .levels import Version, check_level

SUBJECT_DELETED = rule(
    "SUBJECT_DELETED",
    "CATALOG",
    "A subject that consumers may still read does not disappear unless the catalog marks it deleted.",
)


@dataclass
class Report:
    findings: list[Finding]
    base: str | None  # None before the first commit
    how: str
    subjects: int
    versions_read: int
    notes: list[str] = field(default_factory=list)
    git_seconds: float = 0.0  # time spent running git (log, cat-file), for the benchmark


def _subjects(topics: tuple[Topic, ...]) -> dict[str, tuple[Topic, SchemaUse]]:
    out: dict[str, tuple[Topic, SchemaUse]] = {}
    for t in topics:
        out[t.value_subject] = (t, t.value)
        if t.key is not None and t.key.kind != "string":
            out[t.key_subject] = (t, t.key)
    return out


class _History:
    """Parsed blobs and versions of the committed states, each parsed once."""

    def __init__(self, prefix: str, blobs: dict[str, bytes], default_draft: Draft) -> None:
        self.prefix = prefix
        self.default_draft = default_draft
        self.blobs = blobs
        self._json: dict[str, Any] = {}
        self._avro_names: dict[str, tuple[set[str], set[str]]] = {}
        self._avro: dict[tuple[str, frozenset[tuple[str, str]]], AvroVersion] = {}
        self._index: dict[str, dict[str, str]] = {}  # commit -> (named type -> the file defining it)
        self._json_index: dict[str, RefIndex] = {}  # commit -> its JSON files, for $ref

    def document(self, blob: str) -> Any:
        if blob not in self._json:
            self._json[blob] = json.loads(self.blobs[blob])
        return self._json[blob]

    def avro_names(self, blob: str) -> tuple[set[str], set[str]]:
        """(names defined, names referenced) by one .avsc file (referenced as written, both the
        namespace-qualified and the bare form, since resolution picks one of them)."""
        if blob not in self._avro_names:
            defined: set[str] = set()
            used: set[str] = set()
            _walk_avro(self.document(blob), "", defined, used)
            self._avro_names[blob] = (defined, used - defined)
        return self._avro_names[blob]

    def avro_version(self, snap: Snapshot, file: str) -> AvroVersion:
        """The subject's root file and the files defining the named types it uses, transitively."""
        index = self._index.get(snap.commit)
        if index is None:
            index = self._index[snap.commit] = {}
            for path, blob in snap.files.items():
                if path.endswith(".avsc"):
                    for name in self.avro_names(blob)[0]:
                        index.setdefault(name, path)
        needed = {file}
        queue = [file]
        while queue:
            for name in self.avro_names(snap.files[queue.pop()])[1]:
                dep = index.get(name)
                if dep is not None and dep not in needed:
                    needed.add(dep)
                    queue.append(dep)
        key = (file, frozenset((p, snap.files[p]) for p in needed))
        if key not in self._avro:
            label = f"{snap.label}:{self.prefix}"
            texts = [(label + p, self.blobs[snap.files[p]].decode()) for p in sorted(needed)]
            self._avro[key] = AvroVersion.load(texts, label + file)
        return self._avro[key]

    def json_version(self, snap: Snapshot, file: str) -> JsonVersion:
        """The subject's file in that commit, its ``$ref``s resolving among the commit's JSON files."""
        index = self._json_index.get(snap.commit)
        if index is None:
            label = f"{snap.label}:{self.prefix}"
            documents = {}
            for path, blob in snap.files.items():
                if path.endswith(".json"):
                    try:
                        documents[label + path] = self.document(blob)
                    except ValueError:
                        continue  # not JSON in that commit: a $ref to it fails, and says so
            index = self._json_index[snap.commit] = index_documents(documents, self.default_draft)
        return JsonVersion(f"{snap.label}:{self.prefix}{file}", self.document(snap.files[file]), index)


def _walk_avro(node: Any, namespace: str, defined: set[str], used: set[str]) -> None:
    if isinstance(node, str):
        if node not in PRIMITIVES:
            used.add(node)
            if "." not in node and namespace:
                used.add(f"{namespace}.{node}")
        return
    if isinstance(node, list):
        for n in node:
            _walk_avro(n, namespace, defined, used)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("record", "error", "enum", "fixed") and isinstance(node.get("name"), str):
        name = node["name"]
        ns = node.get("namespace", namespace) if "." not in name else name.rpartition(".")[0]
        defined.add(name if "." in name else (f"{ns}.{name}" if ns else name))
        for f in node.get("fields", []) if isinstance(node.get("fields"), list) else []:
            if isinstance(f, dict):
                _walk_avro(f.get("type"), ns or "", defined, used)
        return
    if kind == "array":
        _walk_avro(node.get("items"), namespace, defined, used)
    elif kind == "map":
        _walk_avro(node.get("values"), namespace, defined, used)
    elif isinstance(kind, (str, list, dict)):
        _walk_avro(kind, namespace, defined, used)


def check_project(config: Config, against: str | None, level_override: str | None = None) -> Report:
    """Every subject of the working tree's catalog against its history up to the base commit."""
    repo = repo_root(config.root)
    directory = posixpath.relpath(config.schemas_dir.resolve().as_posix(), repo.resolve().as_posix())
    prefix = config.schemas.rstrip("/") + "/"
    base: str | None
    if against:
        base, how = resolve_ref(repo, against), f"--against {against}"
    else:
        base, how = default_base(repo)
    texts = read_schemas(config)
    project = load_project(config, texts)
    # The working tree's Avro types again, named as the project root sees them (schemas/...).
    named, avro = load_avro_files([(prefix + f, text) for f, text in texts[0]])
    current_refs = index_documents({prefix + f: s.document for f, s in project.json.items()}, config.default_draft)
    current = _subjects(tuple(t for t in project.topics if not t.deleted))
    marked_deleted = {s for t in project.topics if t.deleted for s in (t.value_subject, t.key_subject)}

    started = time.perf_counter()
    states = snapshots(repo, base, directory) if base is not None else []
    git_seconds = time.perf_counter() - started
    transitive = (level_override or "").endswith("_TRANSITIVE") or any(
        t.compatibility.endswith("_TRANSITIVE") for t, _ in current.values()
    )
    if not transitive:
        states = states[-1:]  # only the base commit's version is compared
    catalog_blobs = [s.files[config.catalog] for s in states if config.catalog in s.files]
    started = time.perf_counter()
    catalogs = read_blobs(repo, catalog_blobs)
    git_seconds += time.perf_counter() - started
    histories: dict[str, list[tuple[Snapshot, str, str]]] = {}  # subject -> (state, kind, file)
    notes: list[str] = []
    last_subjects: set[str] = set()
    for i, snap in enumerate(states):
        blob = snap.files.get(config.catalog)
        if blob is None:
            continue
        try:
            topics = load_catalog(config.catalog, catalogs[blob].decode(), set(snap.files))
        except SchemaError as e:
            notes.append(f"{snap.label}: catalog skipped ({e.message})")
            continue
        subjects = _subjects(tuple(t for t in topics if not t.deleted))
        if i == len(states) - 1:
            last_subjects = set(subjects)
        for subject, (_, use) in subjects.items():
            if use.file is not None and use.file in snap.files:
                histories.setdefault(subject, []).append((snap, use.kind, use.file))
    needed_blobs = {snap.files[p] for hist in histories.values() for snap, _, _ in hist for p in snap.files}
    started = time.perf_counter()
    history = _History(prefix, read_blobs(repo, needed_blobs), config.default_draft)
    git_seconds += time.perf_counter() - started

    findings: list[Finding] = []
    errors: list[SchemaError] = []
    versions_read = 0
    for subject in sorted(current):
        topic, use = current[subject]
        level = level_override or topic.compatibility
        if level == "NONE":
            continue
        assert use.file is not None
        display = prefix + use.file
        past: list[Version[Any]] = []
        last_key: object = None
        for snap, kind, file in histories.get(subject, []):
            if kind != use.kind:
                notes.append(f"{subject}: {snap.label} has a {kind} schema; the format change resets its history")
                past, last_key = [], None
                continue
            try:
                version = history.avro_version(snap, file) if kind == "avro" else history.json_version(snap, file)
            except (SchemaError, SchemaErrors, ValueError, KeyError) as e:
                notes.append(f"{subject}: {snap.label} skipped, its schema does not load ({e})")
                continue
            # Identical content counts once: the same blob (JSON) or the same loaded version (Avro,
            # cached by the blobs of the root file and its dependencies).
            key: object = (file, snap.files[file]) if kind == "json" else id(version)
            if key != last_key:
                past.append(Version(f"{snap.label}:{prefix}{file}", version))
                last_key = key
        versions_read += len(past)
        if not past:
            continue
        try:
            if use.kind == "avro":
                new: Version[Any] = Version(display, AvroVersion(avro[display].root, named))
                findings += check_level(level, new, past, avro_can_read)
            else:
                document = project.json[use.file].document
                new = Version(display, JsonVersion(display, document, current_refs, config.default_draft))
                findings += check_level(level, new, past, json_can_read)
        except SchemaError as e:
            errors.append(e)
    if errors:
        raise SchemaErrors(errors)
    for subject in sorted(last_subjects - set(current) - marked_deleted):
        assert base is not None  # subjects at the base commit: there is one
        message = (
            f'subject "{subject}" exists at the base commit but not in the catalog; consumers may still '
            "read it: restore it or mark its topic `deleted = true`"
        )
        findings.append(
            Finding(
                Incompatibility(SUBJECT_DELETED, Source(prefix + config.catalog), message),
                "-",
                "working tree",
                base[:10],
            )
        )
    return Report(findings, base, how, len(current), versions_read, notes, git_seconds)
