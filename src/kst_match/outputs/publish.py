"""Publishing a plan's outputs whole, or not at all.

Every file is written into a fresh private folder beside the destination (same filesystem),
and the folder is swapped into place only once everything is written: a run that fails,
fills the disk or is killed leaves the previous outputs as they were. The old folder is
replaced as a whole, so no file of an earlier plan survives, and nothing is ever written
through a symlink (the new folder is made by ``mkdtemp``; a destination that is a symlink is
refused). Folders are 0700 and files 0600 whatever the umask: they hold residents' details.
A run holds a lock on its private folder while it writes; the next run removes the folders
of runs that were killed (no lock held), and leaves those of runs still writing.

A plan that fails its check is not published; :func:`write_violations` writes its report
beside the destination (``<out>.violations.txt``) and leaves the destination alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import glob
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from kst_match.outputs._common import stamp

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
# A folder that may be replaced holds this file: it is the outputs of an earlier plan.
PLAN_FILE = "plan.json"
VIOLATIONS_SUFFIX = ".violations.txt"


class OutputError(Exception):
    """The destination cannot take a plan's outputs (a symlink, a file, or a folder of other
    things); the message says which and what to do."""


def destination(out: str | Path, marker: str = PLAN_FILE) -> Path:
    """``out`` as an absolute path whose parent is resolved, once checked that it may be replaced.

    Refused: a symlink, something that is not a folder, the current folder or one above it,
    and a folder that is neither empty nor earlier outputs of the same kind (no ``marker``:
    ``plan.json`` for a plan), since the whole folder is replaced.
    """
    absolute = Path(os.path.abspath(out))
    if absolute.parent == absolute:
        raise OutputError(f"{out}: the root folder cannot hold a plan's outputs")
    target = absolute.parent.resolve() / absolute.name
    if target.is_symlink():
        raise OutputError(f"{out} is a symlink; give the folder itself (outputs follow no links)")
    if not target.exists():
        return target
    if not target.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    here = Path.cwd().resolve()
    if target == here or target in here.parents:
        raise OutputError(f"{out} is the current folder or holds it; choose a folder inside it")
    if any(target.iterdir()) and not (target / marker).is_file():
        raise OutputError(
            f"{out} holds files but no {marker}: it is not earlier outputs, and the outputs "
            "replace the whole folder; choose an empty or new folder"
        )
    return target


@contextlib.contextmanager
def staged(out: str | Path, marker: str = PLAN_FILE) -> Iterator[Path]:
    """A fresh private folder to write into, published to ``out`` when the block ends normally;
    when it raises, the folder is removed and ``out`` is untouched. ``out`` may replace only
    an empty folder or one holding ``marker`` (see :func:`destination`)."""
    target = destination(out, marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target)
    stage = Path(tempfile.mkdtemp(prefix=_partial_prefix(target), dir=target.parent))
    lock = _lock(stage)
    try:
        try:
            yield stage
            seal(stage)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        publish(stage, target)
    finally:
        os.close(lock)
    _remove_violations(target)


def _partial_prefix(target: Path) -> str:
    return f".{target.name}.partial-"


def _lock(folder: Path) -> int:
    """Hold an exclusive lock on ``folder`` until the returned descriptor is closed; the kernel
    releases it when the process dies, however it dies."""
    fd = _open_folder(folder)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _open_folder(folder: Path) -> int:
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))


def _remove_abandoned(target: Path) -> None:
    """Remove the private folders of earlier runs for ``target`` that were killed while writing:
    those nobody holds a lock on. A run still writing holds its lock and is left alone."""
    for entry in target.parent.glob(f"{glob.escape(_partial_prefix(target))}*"):
        if entry.is_symlink() or not entry.is_dir():
            continue
        try:
            fd = _open_folder(entry)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a run is writing there now
        try:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)


def seal(folder: Path) -> None:
    """Set folders to 0700 and files to 0600 under ``folder`` (and itself), and flush them to
    disk so that what is published survives a crash; refuse any symlink or special file, which
    no writer makes."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files + dirs:
            path = Path(root, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise OutputError(f"{path}: not a regular file or folder; outputs not published")
            os.chmod(path, DIR_MODE if stat.S_ISDIR(mode) else FILE_MODE)
            _fsync(path)
    os.chmod(folder, DIR_MODE)
    _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(stage: Path, target: Path) -> None:
    """Put the folder ``stage`` in place of ``target`` as a whole, then remove what ``target``
    held. On failure ``target`` is as it was and ``stage`` is removed.

    Where the kernel can, the two are exchanged in one atomic step (Linux ``renameat2``);
    elsewhere the old folder is renamed aside first. Folders inside the old one that are
    themselves a plan's outputs (a re-plan written inside the morning's folder) are kept.
    """
    try:
        if not os.path.lexists(target):
            os.rename(stage, target)
            return
        old = stage if _exchange(stage, target) else _swap_by_renames(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _retire(old, target)


def _swap_by_renames(stage: Path, target: Path) -> Path:
    """Rename ``target`` aside and ``stage`` into its place; returns where the old one went."""
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    try:
        os.rename(target, old)  # onto the empty folder just made
    except BaseException:
        os.rmdir(old)
        raise
    try:
        os.rename(stage, target)
    except BaseException:
        os.rename(old, target)
        raise
    return old


def _retire(old: Path, new: Path) -> None:
    """Move nested plans' folders from ``old`` into ``new``, then remove ``old``. The new outputs
    are in place by now, so a failure here is only reported."""
    try:
        for entry in old.iterdir():
            # Hidden folders are runs that never finished (".replan.partial-*"): not kept.
            hidden = entry.name.startswith(".")
            nested = not entry.is_symlink() and entry.is_dir() and (entry / PLAN_FILE).is_file()
            if nested and not hidden and not os.path.lexists(new / entry.name):
                os.rename(entry, new / entry.name)
        shutil.rmtree(old)
    except OSError as exc:
        log.warning("the previous outputs could not all be removed from %s: %s", old, exc)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def violations_path(out: str | Path) -> Path:
    """Where the report of a plan that failed its check goes: ``<out>.violations.txt``."""
    target = Path(os.path.abspath(out))
    return target.parent.resolve() / f"{target.name}{VIOLATIONS_SUFFIX}"


def _remove_violations(target: Path) -> None:
    """A report of an earlier plan's violations no longer applies once a plan is published."""
    report = target.parent / f"{target.name}{VIOLATIONS_SUFFIX}"
    if report.is_symlink() or report.is_file():
        report.unlink()


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (0600) through a temporary file renamed over it: readers see
    the old file or the new one, and a symlink at ``path`` is replaced, never followed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_violations(
    out: str | Path,
    messages: Sequence[str],
    *,
    date: dt.date,
    version: int,
    generated: dt.datetime,
) -> Path:
    """Write the report of a plan that failed its check beside ``out``; ``out`` is not touched.

    Returns the report's path, ``<out>.violations.txt``.
    """
    target = destination(out)
    lines = [
        f"The plan of {date.isoformat()} (version {version}), made {stamp(generated)},"
        " failed its check and was not published.",
        f"{target} still holds the outputs of the last plan that passed, if any.",
        "",
        f"{len(messages)} violation(s):",
        *(f"- {m}" for m in messages),
    ]
    return write_private(violations_path(target), "\n".join(lines) + "\n")
