"""The built KG on disk: published as a whole, atomically, and checked against its manifest before any use.

``dist/`` is a symbolic link to one complete build in ``.dist.builds/<digest>/``. A build is written into a
fresh folder there, flushed to disk, and only then is the link replaced (one ``rename``), so that a reader,
or a build killed at any moment, sees the previous build or the new one, never a mix. The manifest holds the
SHA-256 and size of every file; :func:`verify` refuses a build whose files do not match it (truncated,
corrupt, or edited after the build), naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from smnpc_kg.errors import DistError

#: The files the build writes; the manifest comes last and vouches for them.
DIST_FILES = ("smnpc-kg.ttl", "smnpc-kg.nt", "smnpc-kg.jsonld")
MANIFEST = "manifest.json"
KEEP = 2  # builds kept: the current one and the one before it


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to path so that a reader sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # readable like any file the project writes (mkstemp creates 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def manifest_bytes(outputs: dict[str, bytes], counts: dict[str, int]) -> bytes:
    manifest = {
        "files": {name: hashlib.sha256(outputs[name]).hexdigest() for name in DIST_FILES},
        "bytes": {name: len(outputs[name]) for name in DIST_FILES},
        "counts": counts,
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def builds_folder(dist: Path) -> Path:
    return dist.parent / f".{dist.name}.builds"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(outputs: dict[str, bytes], counts: dict[str, int], dist: Path) -> Path:
    """Write a complete build beside ``dist`` and switch ``dist`` to it in one rename; returns the build's folder.

    Files that are not the build's own (a diagram or plot written into dist/ by other commands) are carried
    over from the previous build, so that nothing that was there is lost.
    """
    manifest = manifest_bytes(outputs, counts)
    builds = builds_folder(dist)
    builds.mkdir(parents=True, exist_ok=True)
    final = builds / hashlib.sha256(manifest).hexdigest()[:16]
    previous = dist.resolve() if dist.exists() else None
    if not _intact(final):
        partial = Path(tempfile.mkdtemp(prefix=f"{final.name}.partial-{os.getpid()}-", dir=builds))
        for name in DIST_FILES:
            _write_synced(partial / name, outputs[name])
        _write_synced(partial / MANIFEST, manifest)
        os.chmod(partial, 0o755)
        _fsync_dir(partial)
        if final.exists():  # a damaged copy of this very build: replaced by the good one
            shutil.rmtree(final)
        os.rename(partial, final)
    if previous is not None and previous.is_dir() and previous != final:
        for item in previous.iterdir():
            if item.name not in DIST_FILES and item.name != MANIFEST and not (final / item.name).exists() and item.is_file():
                shutil.copy2(item, final / item.name)
    _fsync_dir(builds)
    link = builds / f".link-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(final, dist.parent), link)
    if dist.is_dir() and not dist.is_symlink():  # a plain folder (an older layout): moved aside, kept as a build
        os.rename(dist, builds / f"replaced-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}")
    os.replace(link, dist)
    _fsync_dir(dist.parent)
    _prune(builds, keep={final, previous})
    return final


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o644)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune(builds: Path, keep: set[Path | None]) -> None:
    """Remove what killed builds left behind, and builds older than the current and the previous one."""
    complete = []
    for item in builds.iterdir():
        if item.name.startswith(".link-"):
            pid = item.name.removeprefix(".link-")
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                item.unlink(missing_ok=True)
        elif ".partial-" in item.name:
            pid = item.name.split(".partial-")[1].split("-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(item, ignore_errors=True)
        elif item.is_dir() and item.resolve() not in keep:
            complete.append(item)
    complete.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for item in complete[max(0, KEEP - len([k for k in keep if k is not None])):]:
        shutil.rmtree(item, ignore_errors=True)


def _intact(folder: Path) -> bool:
    try:
        verify(folder)
    except DistError:
        return False
    return True


def verify(dist: Path) -> dict[str, Any]:
    """Check every file of a build against its manifest; returns the manifest, raises :class:`DistError`.

    >>> verify(Path("/nonexistent"))
    Traceback (most recent call last):
    smnpc_kg.errors.DistError: /nonexistent: no built KG here (no manifest.json) (run `smnpc-kg build` first)
    """
    return _checked(dist)[0]


def verified_bytes(dist: Path, name: str) -> bytes:
    """The bytes of one build file, the very bytes whose digest was checked (the whole build checked with them)."""
    return _checked(dist)[1][name]


def _checked(dist: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every build file's bytes, each read once and checked against the manifest's size and digest."""
    path = dist / MANIFEST
    if not path.is_file():
        raise DistError(f"no built KG here (no {MANIFEST})", where=str(dist), hint="run `smnpc-kg build` first")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        files: dict[str, str] = manifest["files"]
        sizes: dict[str, int] = manifest.get("bytes", {})
    except (ValueError, KeyError, TypeError) as exc:
        raise DistError(f"the manifest is damaged ({exc})", where=str(path), hint="rebuild with `smnpc-kg build`") from exc
    contents = {}
    for name in DIST_FILES:
        file = dist / name
        if name not in files:
            raise DistError(f"the manifest does not list {name}", where=str(path), hint="rebuild with `smnpc-kg build`")
        if not file.is_file():
            raise DistError("missing from the build", where=str(file), hint="rebuild with `smnpc-kg build`")
        data = file.read_bytes()
        if name in sizes and len(data) != sizes[name]:
            raise DistError(f"truncated or changed after the build: {len(data)} bytes, the manifest says {sizes[name]}",
                            where=str(file), hint="it is not loaded or served; rebuild with `smnpc-kg build`")
        if hashlib.sha256(data).hexdigest() != files[name]:
            raise DistError("corrupt or changed after the build: its SHA-256 does not match the manifest",
                            where=str(file), hint="it is not loaded or served; rebuild with `smnpc-kg build`")
        contents[name] = data
    return manifest, contents
