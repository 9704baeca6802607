"""Starting the spawner, from the driver: the clean, single-threaded
process that forks every worker (its loop is spawner_main.py).

The driver runs a scheduler thread and user threads, so forking it would be
unsafe; instead the runtime starts the spawner once at ``init`` and asks it
for workers.  It holds the object store's memfd for the workers to inherit;
once it and every worker are gone, so is the store's memory.
"""
from __future__ import annotations

import os
import pickle
import signal
import socket
import sys
import time
from typing import NamedTuple

from .resources import ENVIRONMENT_VARIABLE as RESOURCES_VARIABLE
from .progress_board import PIPE_VARIABLE

# Worker libraries read these at import; like Ray we give each worker the
# CPUs of one task so numpy in N workers on N cores does not oversubscribe.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class SpawnerProcess:
    """The spawner's process, started with posix_spawn (no subprocess
    import on the way to the first task)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status, or None if it is still running after timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.monotonic() > deadline:
                return None
            else:
                time.sleep(0.001)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)


class Launched(NamedTuple):
    """A spawner that is starting, and what the driver keeps of it."""

    process: SpawnerProcess
    control: socket.socket   # the driver's end: closing it ends the spawner
    store_fd: int            # the object store's memfd, shared with it
    progress_fd: int         # the read end of the workers' progress bar pipe

    def stop(self) -> None:
        """Ends the spawner (which kills and reaps every worker and removes
        the session directory) and returns once it is gone."""
        self.control.close()
        if self.process.wait(timeout=10) is None:
            self.process.kill()
            self.process.wait()
        os.close(self.store_fd)


# The spawner's first lines: it finds this fastray through its argv rather
# than PYTHONPATH, which every task and its own subprocesses would inherit.
# -c, not -m: no runpy, milliseconds before the first fork.
BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv.pop()); "
             "from fastray.spawner_main import main; main()")


def launch(num_cpus: int, node_id: str, session_dir: str, store_size: int,
           namespace: str, resources: str) -> Launched:
    """Starts the spawner (and creates the store it hands to workers).  The
    driver calls this early in init, so the spawner's interpreter boots while
    the driver sets the runtime up."""
    store_fd = os.memfd_create("fastray-object-store", os.MFD_CLOEXEC)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    progress_read, progress_write = os.pipe2(os.O_CLOEXEC)
    start = None
    try:
        os.ftruncate(store_fd, store_size)
        # The start message goes in a file of its own: a socket message has
        # a size limit that a long sys.path can pass.
        start = _start_message({"sys_path": list(sys.path), "cwd": os.getcwd(),
                                "session_dir": session_dir, "store_fd": store_fd,
                                "store_size": store_size})
        env = worker_environment(num_cpus, node_id, namespace)
        env[RESOURCES_VARIABLE] = resources
        env[PIPE_VARIABLE] = str(progress_write)
        pid = _spawn([theirs.fileno(), start], (store_fd, progress_write), env)
    except BaseException:
        ours.close()
        os.close(store_fd)
        os.close(progress_read)
        raise
    finally:
        theirs.close()
        os.close(progress_write)
        if start is not None:
            os.close(start)
    return Launched(SpawnerProcess(pid), ours, store_fd, progress_read)


def _start_message(config: dict) -> int:
    """A memfd holding the pickled config, positioned at its start."""
    fd = os.memfd_create("fastray-spawner-start", os.MFD_CLOEXEC)
    with open(fd, "wb", closefd=False) as out:
        pickle.dump(config, out)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _spawn(arguments: list[int], inherited: tuple[int, ...], env: dict[str, str]) -> int:
    """posix_spawn of the spawner, which inherits these descriptors (and
    gets the arguments' numbers in its argv; the store's and the progress
    pipe's it learns otherwise): no subprocess import on the way to the
    first task."""
    # dup2 onto the same number clears close-on-exec for the child only.
    actions: list[tuple] = [(os.POSIX_SPAWN_DUP2, fd, fd) for fd in (*arguments, *inherited)]
    actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # -P: not the working directory first on sys.path, where a source
    # checkout would shadow the installed package.
    return os.posix_spawn(
        sys.executable, [sys.executable, "-P", "-c", BOOTSTRAP, *map(str, arguments),
                         package_parent],
        env, file_actions=actions, setsid=True)


def worker_environment(num_cpus: int, node_id: str, namespace: str) -> dict[str, str]:
    """The spawner's, and so every task's, environment: the driver's, plus
    fastray's own variables and the thread counts the driver did not set
    (README lists them)."""
    env = dict(os.environ, FASTRAY_NUM_CPUS=str(num_cpus), FASTRAY_NODE_ID=node_id,
               FASTRAY_NAMESPACE=namespace)
    for name in THREAD_VARIABLES:
        env.setdefault(name, "1")
    return env
