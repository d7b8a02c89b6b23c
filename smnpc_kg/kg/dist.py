"""The built KG on disk: published whole, under a lock, never over what it did not write, and checked before any use.

``dist/`` is a symbolic link to one complete build in ``.dist.builds/<digest>/``. A build is written into a
fresh folder there, flushed to disk, and only then is the link replaced (one ``rename``), so that a reader,
or a build killed at any moment, sees the previous build or the new one, never a mix. Publishing holds an
exclusive lock (``flock`` on ``.dist.builds/.lock``) from before the build folder is written until the link
is switched and old builds are pruned, so that builds run at the same time publish one after the other.
The manifest holds the SHA-256 and size of every file; :func:`verify` refuses a build whose files do not
match it (truncated, corrupt, or edited after the build), naming the file.

A build is published only at a path that does not exist yet, an empty folder, or a build smnpc-kg made there
(its link into ``.<name>.builds/``, or a plain folder of build files, the older layout); anything else is
refused before anything is written (:func:`build_target`). Pruning removes only the build folders it made,
never the current build, the one before it, or a build a running server holds (:func:`hold`). Files that
commands write (:func:`write_atomic`) are never written inside a build (:func:`output_path`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smnpc_kg.core.errors import DistError, SmnpcError

#: The files the build writes; the manifest comes last and vouches for them.
DIST_FILES = ("smnpc-kg.ttl", "smnpc-kg.nt", "smnpc-kg.jsonld")
MANIFEST = "manifest.json"
KEEP = 2  # builds kept: the current one and the one before it
LOCK = ".lock"  # in the builds folder: held (flock) by the one build that is publishing
LOCK_WAIT_S = 120.0  # how long a build waits for another one to finish publishing
MAX_MANIFEST_BYTES = 2**20
MAX_ENTRIES = 10_000  # a folder with more entries is not one of the builds this project makes

_BUILD = re.compile(r"[0-9a-f]{16}")  # a build's folder: the first 16 hex digits of its manifest's SHA-256
_REPLACED = re.compile(r"replaced-\d{14}-\d+")  # a plain build folder (the older layout) moved aside
_PARTIAL = re.compile(r"[0-9a-f]{16}\.partial-\d+-[A-Za-z0-9_]+")  # a build being written (or left by a killed one)
_LINK = re.compile(r"\.link-\d+")  # the new link, before it replaces dist
_BUILDS = re.compile(r"\..+\.builds")  # the folder of builds beside a dist link


# ------------------------------------------------------------------ files other commands write
def output_path(path: Path) -> Path:
    """The file a command may write for ``path`` (a link's target), or one line saying why not and what to do.

    Refused: a folder, a device or FIFO, a path inside a build (builds are written only by ``smnpc-kg build``),
    and a path whose folder is a file or cannot be written.

    >>> output_path(Path("/"))
    Traceback (most recent call last):
    smnpc_kg.core.errors.SmnpcError: /: is a folder, not a file (give the path of a file to write)
    """
    shown = str(path)
    try:
        absolute = Path(os.path.abspath(path))
        target = absolute.resolve() if absolute.is_symlink() else absolute.parent.resolve() / absolute.name
        if target.is_dir():
            raise SmnpcError("is a folder, not a file", where=shown, hint="give the path of a file to write")
        if _inside_builds(target):
            raise SmnpcError("is inside a build of the KG, which only `smnpc-kg build` writes", where=shown,
                             hint=f"write it somewhere else, for example out/{target.name}")
        if target.exists() and not target.is_file():
            raise SmnpcError("is not a regular file (a device, FIFO or socket)", where=shown, hint="give the path of a file")
        _check_folder(target.parent, shown)
    except OSError as exc:
        raise SmnpcError(f"cannot use this path: {exc.strerror or exc}", where=shown, hint="check the path") from exc
    except RuntimeError as exc:  # a loop of symbolic links
        raise SmnpcError(f"cannot use this path: {exc}", where=shown, hint="check the path") from exc
    return target


def write_atomic(path: Path, data: bytes) -> Path:
    """Write bytes to path (checked by :func:`output_path`) so that a reader sees the old file or the new one, never a part."""
    return write_files({path: data})[0]


def write_files(files: dict[Path, bytes]) -> list[Path]:
    """Write several files, each atomically; every path is checked before the first one is written."""
    targets = [output_path(path) for path in files]
    if len(set(targets)) < len(targets):
        raise SmnpcError("two outputs would be the same file", where=", ".join(str(p) for p in files),
                         hint="give another file name")
    for target, (path, data) in zip(targets, files.items(), strict=True):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _replace_synced(target, data)
        except OSError as exc:
            raise SmnpcError(f"cannot write: {exc.strerror or exc}", where=str(path),
                             hint="check the folder's permissions and free space") from exc
    return targets


def _inside_builds(path: Path) -> bool:
    return any(_BUILDS.fullmatch(part) for part in path.parts[:-1])


def _check_folder(folder: Path, shown: str) -> None:
    """The nearest existing folder of ``folder`` (created later if missing) must be a folder this process may write."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SmnpcError(f"cannot write here: {existing} is not a folder", where=shown, hint="check the path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SmnpcError(f"cannot write here: no permission to write in {existing}", where=shown,
                         hint="choose a folder you can write to")


def _replace_synced(path: Path, data: bytes) -> None:
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


# ------------------------------------------------------------------ where a build may be published
def builds_folder(dist: Path) -> Path:
    return dist.parent / f".{dist.name}.builds"


def build_target(dist: Path, protect: Iterable[Path] = ()) -> Path:
    """The absolute path to publish a build at, or :class:`DistError` naming the path and what to do instead.

    Accepted: a path that does not exist, an empty folder, a link smnpc-kg made into ``.<name>.builds/`` (also
    dangling), or a plain folder of build files (the older layout, moved aside and kept as a build). Refused:
    anything else (a folder with other files, a file, another link), a path inside a build, and the current
    folder, the folders in ``protect`` (the project) or a folder that contains one of them.

    >>> build_target(Path("/"))
    Traceback (most recent call last):
    smnpc_kg.core.errors.DistError: /: cannot publish a build at the root of the file system (give a new path, e.g. dist)
    """
    shown = str(dist)
    fix = "give a path that does not exist yet, an empty folder, or a build that smnpc-kg made"
    absolute = Path(os.path.abspath(dist))
    if not absolute.name:
        raise DistError("cannot publish a build at the root of the file system", where=shown, hint="give a new path, e.g. dist")
    try:
        target = absolute.parent.resolve() / absolute.name
        if _inside_builds(target) or _BUILDS.fullmatch(target.name):
            raise DistError("is inside a build, or in a folder of builds", where=shown, hint=fix)
        for name, folder in (("the current folder", Path.cwd()), *(("the project's folder", p) for p in protect)):
            real = folder.resolve()
            if target == real or target in real.parents:
                what = name if target == real else f"a folder that contains {name}"
                raise DistError(f"is {what}; a build would replace it", where=shown, hint=fix)
        _check_folder(target.parent, shown)
        builds = builds_folder(target)
        if builds.is_symlink() or (builds.exists() and not builds.is_dir()):
            raise DistError(f"{builds.name} beside it is not a folder of builds", where=shown, hint=fix)
        if target.is_symlink():
            if not _links_into(target, builds):
                raise DistError(f"is a link that smnpc-kg did not make (it does not lead into {builds.name}/)", where=shown,
                                hint="remove the link, or give another path")
        elif target.is_dir():
            if _entries(target) and not _is_plain_build(target):
                raise DistError("is a folder with files that smnpc-kg did not write; a build never deletes or moves them",
                                where=shown, hint=fix)
        elif target.exists():
            raise DistError("is a file, not a folder", where=shown, hint=fix)
    except SmnpcError as exc:
        raise DistError(exc.message, where=exc.where, hint=exc.hint) from exc
    except (OSError, RuntimeError) as exc:
        raise DistError(f"cannot use this path: {getattr(exc, 'strerror', None) or exc}", where=shown, hint=fix) from exc
    return target


def _links_into(link: Path, builds: Path) -> bool:
    """Whether ``link`` is a link to one build folder (existing or not) in ``builds``."""
    dest = Path(os.path.normpath(link.parent / os.readlink(link)))
    return bool(_BUILD.fullmatch(dest.name)) and os.path.realpath(dest.parent) == os.path.realpath(builds)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        entries = []
        for entry in it:
            entries.append(entry)
            if len(entries) > MAX_ENTRIES:
                break
        return entries


def _only_files(folder: Path) -> bool:
    """A folder of at most MAX_ENTRIES regular files (no links, no folders): what a build folder holds."""
    entries = _entries(folder)
    return len(entries) <= MAX_ENTRIES and all(e.is_file(follow_symlinks=False) for e in entries)


def _is_plain_build(folder: Path) -> bool:
    """A folder of build files (the older layout): a manifest, at least one build file, and nothing but files."""
    names = {e.name for e in _entries(folder)}
    return MANIFEST in names and bool(names & set(DIST_FILES)) and _only_files(folder)


# ------------------------------------------------------------------ publishing
def manifest_bytes(outputs: dict[str, bytes], counts: dict[str, int]) -> bytes:
    manifest = {
        "files": {name: hashlib.sha256(outputs[name]).hexdigest() for name in DIST_FILES},
        "bytes": {name: len(outputs[name]) for name in DIST_FILES},
        "counts": counts,
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def publish(outputs: dict[str, bytes], counts: dict[str, int], dist: Path, *, protect: Iterable[Path] = ()) -> Path:
    """Write a complete build beside ``dist`` and switch ``dist`` to it in one rename; returns the build's folder.

    ``dist`` is checked by :func:`build_target` (``protect``: folders it must not be or contain) before anything
    is written, and again under the lock. A damaged copy of the same build is repaired in place, file by file.
    Files that are not the build's own (a diagram or plot put into dist/) are carried over from the previous
    build, so that nothing that was there is lost.
    """
    protect = list(protect)
    target = build_target(dist, protect)
    manifest = manifest_bytes(outputs, counts)
    builds = builds_folder(target)
    final = builds / hashlib.sha256(manifest).hexdigest()[:16]
    try:
        with _locked(builds):
            target = build_target(dist, protect)  # again: it may have changed while this build waited for the lock
            previous = target.resolve() if target.is_symlink() else None
            if previous is not None and not previous.is_dir():
                previous = None  # a dangling link
            _write_build(final, {**{n: outputs[n] for n in DIST_FILES}, MANIFEST: manifest}, carry_from=previous)
            previous = _switch(target, final, builds) or previous
            _fsync_dir(builds)
            _prune(builds, keep={final, previous})
    except OSError as exc:
        raise DistError(f"cannot publish the build: {exc.strerror or exc}", where=str(exc.filename or dist),
                        hint="check the path, its permissions and free space, then build again") from exc
    return final


@contextmanager
def _locked(builds: Path) -> Iterator[None]:
    """Hold the builds folder's lock (one publisher at a time); released when the block ends or the process dies."""
    wait_s = LOCK_WAIT_S
    builds.mkdir(parents=True, exist_ok=True)
    fd = os.open(builds / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DistError(f"another build has been publishing here for more than {wait_s:.0f} s",
                                    where=str(builds / LOCK), hint="wait for it to finish, then build again") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _write_build(final: Path, files: dict[str, bytes], carry_from: Path | None) -> None:
    """Make ``final`` the complete build: written afresh, or (a damaged copy of it) repaired file by file in place."""
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise DistError("is in the way of the build: it is not a build folder", where=str(final),
                        hint="move it out of the builds folder, then build again")
    if not final.exists():
        partial = Path(tempfile.mkdtemp(prefix=f"{final.name}.partial-{os.getpid()}-", dir=final.parent))
        for name, data in files.items():  # the manifest last
            _write_synced(partial / name, data)
        _carry(carry_from, partial)
        os.chmod(partial, 0o755)
        _fsync_dir(partial)
        os.rename(partial, final)
        return
    # this very build is there already: each damaged file is replaced atomically, and what was carried into it stays
    for name, data in files.items():
        if not _holds(final / name, data):
            _replace_synced(final / name, data)
    _carry(carry_from, final)
    _fsync_dir(final)


def _holds(path: Path, data: bytes) -> bool:
    if path.is_symlink() or not path.is_file() or path.stat().st_size != len(data):
        return False
    with open(path, "rb") as fh:
        return fh.read(len(data) + 1) == data


def _carry(source: Path | None, dest: Path) -> None:
    """Copy the files that are not the build's own (and not hidden) from the previous build into ``dest``."""
    if source is None or source.resolve() == dest.resolve():
        return
    copied = False
    for entry in _entries(source)[:MAX_ENTRIES]:
        name = entry.name
        if name in DIST_FILES or name == MANIFEST or name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        if os.path.lexists(dest / name):
            continue
        copied = True
        tmp = dest / f".{name}.carry-{os.getpid()}"
        with open(entry.path, "rb") as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(entry.path, tmp)
        os.replace(tmp, dest / name)
    if copied:
        _fsync_dir(dest)


def _switch(target: Path, final: Path, builds: Path) -> Path | None:
    """Point ``target`` at ``final`` in one rename; returns where a plain build folder that was there went."""
    link = builds / f".link-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(final, target.parent), link)
    aside = None
    if target.is_dir() and not target.is_symlink():
        if _is_plain_build(target):  # the older layout: moved aside, kept as a build, its other files carried over
            aside = builds / f"replaced-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
            os.rename(target, aside)
            _carry(aside, final)
        else:
            target.rmdir()  # empty (checked under the lock); refuses, rather than deletes, if something appeared since
    os.replace(link, target)
    _fsync_dir(target.parent)
    return aside


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o644)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(builds: Path, keep: set[Path | None]) -> None:
    """Under the lock: remove what killed builds left, and the build folders older than the current and previous one.

    Only names this module makes are touched, and a build folder only if it holds nothing but files; everything
    else in the folder is left as it is (a running server keeps the bytes it verified, not the folder).
    """
    kept = {p.resolve() for p in keep if p is not None}
    mine = f".link-{os.getpid()}"
    candidates: list[tuple[float, Path]] = []
    for entry in _entries(builds):
        name, path = entry.name, Path(entry.path)
        if _LINK.fullmatch(name) and entry.is_symlink() and name != mine:
            path.unlink(missing_ok=True)  # nobody else publishes while the lock is held: a killed build's link
        elif _PARTIAL.fullmatch(name) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)  # likewise, a killed build's partial folder
        elif ((_BUILD.fullmatch(name) or _REPLACED.fullmatch(name)) and entry.is_dir(follow_symlinks=False)
              and path.resolve() not in kept and _only_files(path)):
            candidates.append((entry.stat(follow_symlinks=False).st_mtime, path))
    candidates.sort(reverse=True)
    for _mtime, path in candidates[max(0, KEEP - len(kept)):]:
        shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------ reading a build
def verify(dist: Path) -> dict[str, Any]:
    """Check every file of a build against its manifest; returns the manifest, raises :class:`DistError`.

    >>> verify(Path("/nonexistent"))
    Traceback (most recent call last):
    smnpc_kg.core.errors.DistError: /nonexistent: no built KG here (no manifest.json) (run `smnpc-kg build` first)
    """
    return _checked(dist)[0]


def verified_bytes(dist: Path, name: str) -> bytes:
    """The bytes of one build file, the very bytes whose digest was checked (the whole build checked with them)."""
    return _checked(dist)[1][name]


def _checked(dist: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every build file's bytes, each read once and checked against the manifest's size and digest.

    The link is resolved once, so that every file comes from one build even if ``dist`` is switched meanwhile.
    """
    path = dist / MANIFEST
    try:
        folder = dist.resolve()
    except (OSError, RuntimeError) as exc:
        raise DistError(f"cannot read the build: {exc}", where=str(dist), hint="rebuild with `smnpc-kg build`") from exc
    if not (folder / MANIFEST).is_file():
        raise DistError(f"no built KG here (no {MANIFEST})", where=str(dist), hint="run `smnpc-kg build` first")
    try:
        manifest: dict[str, Any] = json.loads(_read(folder / MANIFEST, MAX_MANIFEST_BYTES))
        files: dict[str, str] = manifest["files"]
        sizes: dict[str, int] = manifest.get("bytes", {})
    except (ValueError, KeyError, TypeError) as exc:
        raise DistError(f"the manifest is damaged ({exc})", where=str(path), hint="rebuild with `smnpc-kg build`") from exc
    except OSError as exc:
        raise DistError(f"cannot read the manifest: {exc.strerror or exc}", where=str(path),
                        hint="rebuild with `smnpc-kg build`") from exc
    contents = {}
    for name in DIST_FILES:
        file = dist / name
        if name not in files:
            raise DistError(f"the manifest does not list {name}", where=str(path), hint="rebuild with `smnpc-kg build`")
        if not (folder / name).is_file():
            raise DistError("missing from the build", where=str(file), hint="rebuild with `smnpc-kg build`")
        expected = sizes.get(name) if isinstance(sizes, dict) else None
        try:
            data = _read(folder / name, expected + 1 if isinstance(expected, int) and expected >= 0 else None)
        except OSError as exc:
            raise DistError(f"cannot read: {exc.strerror or exc}", where=str(file), hint="rebuild with `smnpc-kg build`") from exc
        if isinstance(expected, int) and len(data) != expected:
            raise DistError(f"truncated or changed after the build: {len(data)}{'+' if len(data) > expected else ''} bytes, "
                            f"the manifest says {expected}",
                            where=str(file), hint="it is not loaded or served; rebuild with `smnpc-kg build`")
        if hashlib.sha256(data).hexdigest() != files[name]:
            raise DistError("corrupt or changed after the build: its SHA-256 does not match the manifest",
                            where=str(file), hint="it is not loaded or served; rebuild with `smnpc-kg build`")
        contents[name] = data
    return manifest, contents


def _read(path: Path, limit: int | None) -> bytes:
    """A file's bytes, at most ``limit`` of them (enough to tell that a file is longer than it should be)."""
    with open(path, "rb") as fh:
        return fh.read() if limit is None else fh.read(limit)
