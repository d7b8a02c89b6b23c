"""User-supplied input files: regular files only, of bounded size, read as UTF-8 text, or one line saying why not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from smnpc_kg.core.errors import ParseError, SmnpcError

#: The default limit on a file a user hands to a command (a patient cohort, a query).
MAX_INPUT_BYTES = 16 * 2**20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def shown(path: Path | str) -> str:
    """A file name for a one-line message: control characters and other unprintable ones escaped.

    >>> shown("p.json"), shown("a\\nb.json")
    ('p.json', "'a\\\\nb.json'")
    """
    name = str(path)
    return name if name.isprintable() else repr(name)


def _kind(mode: int) -> str:
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")


def read_text(path: Path | str, *, what: str = "file", limit: int = MAX_INPUT_BYTES, error: type[SmnpcError] = ParseError,
              hint: str = "give the path of a regular file", name: str | None = None) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes; anything else is ``error``, one line.

    Directories, FIFOs, sockets and devices are refused before anything is read (a FIFO is opened
    non-blocking and never read), and no more than ``limit`` + 1 bytes are ever read. ``name``: the file's name
    in messages (default: the path).

    >>> read_text("/dev/zero", what="patient file")
    Traceback (most recent call last):
    ...
    smnpc_kg.core.errors.ParseError: /dev/zero: the patient file is a character device, not a regular file (give the path of a regular file)
    """
    name = name or shown(path)
    try:
        before = os.stat(path)
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}", where=name, hint="check the path") from exc
    except ValueError as exc:  # a NUL byte in the name
        raise error(f"cannot read {what}: the name holds a NUL character", where=name, hint="check the path") from exc
    if not stat.S_ISREG(before.st_mode):
        raise error(f"the {what} is {_kind(before.st_mode)}, not a regular file", where=name, hint=hint)
    if before.st_size > limit:
        raise error(f"the {what} is {before.st_size} bytes, more than the limit of {limit}", where=name,
                    hint="split it into smaller files")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}", where=name, hint="check the path and its permissions") from exc
    try:
        now = os.fstat(fd)  # the file opened is the file checked (it may have been replaced in between)
        if not stat.S_ISREG(now.st_mode):
            raise error(f"the {what} is {_kind(now.st_mode)}, not a regular file", where=name, hint=hint)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(2**20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"cannot read {what}: {exc.strerror}", where=name, hint="check the file") from exc
    finally:
        os.close(fd)
    if size > limit:
        raise error(f"the {what} is more than the limit of {limit} bytes", where=name, hint="split it into smaller files")
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text at byte {exc.start}", where=name, hint="save the file as UTF-8") from exc
