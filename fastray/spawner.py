"""The spawner: a clean, single-threaded process that forks every worker.

The driver runs a scheduler thread and user threads, so forking it would be
unsafe; instead the runtime starts this process once at ``init`` and asks it
for workers (SPAWN, with the worker's socket attached).  It reports each new
worker's pid and, when a worker ends, its wait status, which is how the
scheduler learns why a worker died.  When the driver goes away (shutdown or
a crash) its socket reads EOF and the spawner kills and reaps every worker
before exiting, so nothing outlives the driver.  It holds the object
store's memfd for the workers to inherit; once it and every worker are gone,
so is the store's memory.
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import struct
import sys
import time
from typing import NamedTuple

HEADER = struct.Struct("<IIQQ")

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


def launch(num_cpus: int, node_id: str, session_dir: str, store_size: int) -> Launched:
    """Starts the spawner (and creates the store it hands to workers).  The
    driver calls this first in init, so the spawner's interpreter boots while
    the driver imports the rest of the runtime."""
    store_fd = os.memfd_create("fastray-object-store", os.MFD_CLOEXEC)
    os.ftruncate(store_fd, store_size)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with theirs:
        # dup2 onto the same number clears close-on-exec for the child only.
        actions: list[tuple] = [(os.POSIX_SPAWN_DUP2, fd, fd)
                                for fd in (theirs.fileno(), store_fd)]
        actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
        pid = os.posix_spawn(
            # -P: not the working directory first on sys.path, where a
            # source checkout would shadow the installed package.
            # -c, not -m: no runpy, milliseconds before the first fork.
            sys.executable, [sys.executable, "-P", "-c",
                             "from fastray.spawner import main; main()",
                             str(theirs.fileno())],
            worker_environment(num_cpus, node_id), file_actions=actions, setsid=True)
    process = SpawnerProcess(pid)
    ours.sendall(pickle.dumps({"sys_path": list(sys.path), "cwd": os.getcwd(),
                              "session_dir": session_dir, "store_fd": store_fd,
                              "store_size": store_size}))
    return Launched(process, ours, store_fd)


def worker_environment(num_cpus: int, node_id: str) -> dict[str, str]:
    """The spawner's environment: the driver's, plus what workers need to find
    this very fastray package whatever their working directory."""
    env = dict(os.environ, FASTRAY_NUM_CPUS=str(num_cpus), FASTRAY_NODE_ID=node_id)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    for name in THREAD_VARIABLES:
        env.setdefault(name, "1")
    return env


def _serve(control: socket.socket, store: tuple[int, int]) -> None:
    from . import _scheduler as wire
    from .worker import run_worker

    children: dict[int, int] = {}
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    poller = select.poll()
    poller.register(control, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, _ in events:
            if fd == wake_r:
                _drain(wake_r)
                _reap(control, children, wire.EXITED)
                continue
            try:
                message, fds, _, _ = socket.recv_fds(control, HEADER.size, 1)
            except ConnectionError:
                message, fds = b"", []
            if not message:
                _kill_all(children)
                return
            _, kind, slot, origin = HEADER.unpack(message)
            if kind != wire.SPAWN or not fds:
                continue
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                control.close()
                run_worker(fds[0], slot, origin, store)  # never returns
            os.close(fds[0])
            children[pid] = slot
            _report(control, HEADER.pack(0, wire.SPAWNED, slot, pid))


def _report(control: socket.socket, message: bytes) -> None:
    """Tells the driver; if it is gone, the next receive sees EOF and ends us."""
    try:
        control.send(message)
    except OSError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _reap(control: socket.socket, children: dict[int, int], exited: int) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        slot = children.pop(pid, None)
        if slot is not None:
            _report(control, HEADER.pack(0, exited, slot, (pid << 32) | (status & 0xFFFFFFFF)))


def _kill_all(children: dict[int, int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def main() -> None:
    from . import _cancel_signal

    control = socket.socket(fileno=int(sys.argv[1]))
    config = pickle.loads(control.recv(1 << 20))
    sys.path[:] = config["sys_path"]
    os.chdir(config["cwd"])
    # Ctrl-C at the terminal is for the driver; it decides what to cancel.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers inherit the mask: a cancel sent to one before it installs its
    # handler stays pending instead of being lost.
    signal.pthread_sigmask(signal.SIG_BLOCK, {_cancel_signal.SIGNAL})
    try:
        _serve(control, (config["store_fd"], config["store_size"]))
    finally:
        # Whoever ends first, the session's files go with the spawner.
        import shutil
        shutil.rmtree(config["session_dir"], ignore_errors=True)


if __name__ == "__main__":
    main()
