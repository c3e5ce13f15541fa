"""Atomic file writes under `--out`, and OS errors said as what the operator has to fix.

A write goes to a hidden temporary file beside the target (readers skip names starting with
"."), is fsynced, then `os.replace`d over the target: a reader, or a run killed half-way, sees
the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import StoreError

__all__ = ["atomic_write_bytes", "atomic_write_table", "os_error"]

#: A temporary file untouched this long was left by a killed writer (a write takes seconds).
_STALE_TMP_S = 3600


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, atomically; an OS error is a `StoreError`."""
    _atomic_write(Path(path), lambda fh: fh.write(data))


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Replace `path` with `table` as zstd Parquet, atomically; an OS error is a `StoreError`."""
    _atomic_write(Path(path), lambda fh: pq.write_table(table, fh, compression="zstd"))


def os_error(exc: OSError, path: Path, doing: str) -> StoreError:
    """Translate an OS error while `doing` (e.g. "writing") `path` into what to fix."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return StoreError(
            f"disk full while {doing} {path}: free some space on that disk "
            "or point --out at a disk with room, then run the same date again"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreError(
            f"cannot write {path}: the output folder is read-only or not writable by this user "
            "(fix its permissions or mount, or point --out elsewhere)"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return StoreError(
            f"cannot use {path}: part of that path is a file, not a folder "
            "(move the file or point --out elsewhere)"
        )
    return StoreError(f"{doing} {path} failed: {exc.strerror or exc}")


def _atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        _sweep_stale(target)
    except OSError as exc:
        raise os_error(exc, target, "writing") from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_stale(target: Path) -> None:
    """Remove temporary files a killed writer of `target` left behind.

    Only old ones: a writer still at work (another run of the same date) keeps its file fresh.
    """
    cutoff = time.time() - _STALE_TMP_S
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except FileNotFoundError:
            pass
