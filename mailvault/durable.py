"""Durable writes on a local file system: folder fsync, and what a failed write means in one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make the folder's entries (files created, linked or removed in it) survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_write_error(exc: OSError, what: str, where: Path) -> str:
    """`what` failed in `where`: the cause and the fix, for logs and SMTP replies alike."""
    if exc.errno == errno.ENOSPC:
        return f"disk full: cannot {what} in {where}; free space on that file system"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where} is not writable ({exc.strerror}); fix its owner or mount"
    return f"cannot {what} in {where}: {exc.strerror or exc}"
