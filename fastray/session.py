"""The session directory: where a driver's spill files live, in a folder
that no other user can write.

The driver reads its spill files back and unpickles them, so whoever can
write the folder they live in can run code as the driver's user, or make it
overwrite a file through a symlink.  Each user therefore gets a root of their
own, ``<tempdir>/fastray-<uid>`` (``init(_temp_dir=...)`` takes the place of
the system's temp folder), made with mode 0700.  A root that is a symlink,
belongs to someone else, or that others can write is never used: the session
goes into a fresh private folder beside it instead, with a warning naming the
root, so a user who squats the name can neither take a session over nor stop
fastray from starting.  The spawner removes the session directory, fallback
or not, when the driver goes.
"""
from __future__ import annotations

import logging
import os
import stat
import tempfile
import time

logger = logging.getLogger("fastray")


def make_session_dir(temp_dir: str | os.PathLike[str] | None = None) -> str:
    """Creates this driver's session directory (mode 0700) and returns its path."""
    parent = _temp_parent(temp_dir)
    name = time.strftime("session_%Y-%m-%d_%H-%M-%S_") + f"{os.getpid()}_"
    root = os.path.join(parent, f"fastray-{os.geteuid()}")
    try:
        os.mkdir(root, 0o700)
    except FileExistsError:
        pass
    problem = _why_not_private(root)
    if problem is None:
        return tempfile.mkdtemp(prefix=name, dir=root)
    fallback = tempfile.mkdtemp(prefix=f"fastray-{os.geteuid()}-{name}", dir=parent)
    logger.warning("%s is not used for this session because %s; the session is in %s "
                   "instead (remove or fix %s to stop this warning)",
                   root, problem, fallback, root)
    return fallback


def _why_not_private(path: str) -> str | None:
    """Why path is no safe home for this user's files, or None if it is: it
    must be a real directory (not a symlink), owned by this user, and
    writable by nobody else."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"it cannot be inspected ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.geteuid():
        return f"it belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write to it (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def _temp_parent(temp_dir: str | os.PathLike[str] | None) -> str:
    if temp_dir is None:
        return tempfile.gettempdir()
    if not isinstance(temp_dir, (str, os.PathLike)):
        raise TypeError(f"_temp_dir must be a path (str or os.PathLike), got "
                        f"{type(temp_dir).__name__}")
    path = os.path.abspath(os.fspath(temp_dir))
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
