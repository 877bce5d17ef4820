"""Reading input files that cannot hang or exhaust memory, and writing outputs whole.

Every file gridgov reads from a user goes through :func:`read_bytes`: it
refuses anything that is not a regular file (a folder, ``/dev/zero``, a FIFO,
a socket) before reading a byte, and refuses a file larger than the limit of
its kind (:data:`LIMITS`) without reading it. Every file gridgov writes for a
user goes through :func:`write_atomic`: the data goes to a temporary name in
the same folder, then one rename puts it in place, so an interrupted or failed
write leaves the old file or nothing, never half a file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from gridgov.errors import FileProblem

__all__ = [
    "LIMITS",
    "FileProblem",
    "check_writable",
    "read_bytes",
    "read_limited_text",
    "write_atomic",
]

_MIB = 1 << 20

#: The largest file of each kind gridgov reads, in bytes. A rules, scenario
#: or sweep file of a megabyte is already a hundred times the largest real
#: one; a cases CSV holds one short line per confirmed case.
LIMITS: dict[str, int] = {
    "TOML": 1 * _MIB,
    "rules": 1 * _MIB,
    "scenario": 1 * _MIB,
    "sweep": 1 * _MIB,
    "cases CSV": 64 * _MIB,
    "CAP alert": 1 * _MIB,
    "run file": 512 * _MIB,
    # a file given to ``gridgov check``, before its kind is known
    "checked": 1 * _MIB,
}


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], kind: str) -> bytes:
    """The bytes of a regular file no larger than the limit of its kind.

    Args:
        path: the file.
        kind: a key of :data:`LIMITS`.

    Returns:
        The whole content.

    Raises:
        FileProblem: the file is missing or unreadable, is not a regular file
            (refused before reading), or is larger than ``LIMITS[kind]``.
    """
    limit = LIMITS[kind]
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        before = os.stat(path)
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(before.st_mode):
        # Checked before opening: opening a FIFO could block, a device never ends.
        raise FileProblem(f"cannot read: {_kind_of(before.st_mode)}, not a {kind} file")
    if before.st_size > limit:
        raise FileProblem(_too_big(before.st_size, limit, kind))
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):  # swapped between stat and open
            raise FileProblem(f"cannot read: {_kind_of(mode)}, not a {kind} file")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise FileProblem(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:  # grew while being read
        raise FileProblem(_too_big(len(data), limit, kind))
    return data


def _too_big(size: int, limit: int, kind: str) -> str:
    return f"refused: the file is {size:,} bytes; a {kind} file may be at most {limit:,}"


def read_limited_text(path: str | os.PathLike[str], kind: str) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped), within the limit of its kind.

    Raises:
        FileProblem: as :func:`read_bytes`, or the bytes are not UTF-8
            (``line`` set to the line of the first bad byte).
    """
    data = read_bytes(path, kind)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise FileProblem(message, line) from None


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a whole file: to a temporary name beside it, then renamed into place.

    Raises:
        OSError: the folder cannot be written; nothing is left behind.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # mkstemp makes a private file; give it the mode a plain open() would.
            os.fchmod(handle.fileno(), _mode_for(target))
            handle.write(payload)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def check_writable(
    path: str | os.PathLike[str], *, folder: bool, fail: Callable[[str], Exception]
) -> None:
    """Check, before a long run, that ``path`` can be written; create nothing.

    Args:
        path: the output: a folder (``folder=True``) or a file.
        folder: whether ``path`` is to be a folder.
        fail: makes the error to raise from a reason (``"is a file"``).

    Raises:
        Exception: ``fail(reason)`` when ``path`` exists as the wrong kind, or
            its nearest existing folder does not let a file be created.
    """
    target = Path(path)
    if target.exists():
        if folder and not target.is_dir():
            raise fail("is a file, not a folder")
        if not folder and target.is_dir():
            raise fail("is a folder, not a file")
        if not folder and not os.access(target, os.W_OK):
            raise fail("is not writable")
    if not folder and not target.parent.is_dir():
        raise fail(f"cannot be written: its folder {target.parent} does not exist")
    base = target if folder and target.is_dir() else _existing_ancestor(target.parent)
    if not base.is_dir():
        raise fail(f"{base} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(dir=base, prefix=".gridgov-probe-")
    except OSError as exc:
        where = "" if base == target else f" (in {base})"
        raise fail(f"cannot be written{where}: {exc.strerror or exc}") from None
    os.rmdir(probe)


@contextlib.contextmanager
def removed_on_failure(path: Path) -> Iterator[None]:
    """Remove ``path`` (an empty folder this run created) if the block fails."""
    existed = path.exists()
    try:
        yield
    except BaseException:
        if not existed:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
